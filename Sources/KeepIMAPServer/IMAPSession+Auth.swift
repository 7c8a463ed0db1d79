import KeepGuard
import KeepIMAP
import KeepStore
import Logging

extension IMAPSession {
    /// `LOGIN user password` (RFC 9051 §6.2.3).
    func login(tag: String, user name: String, password: String) async throws -> SessionOutcome {
        guard !loginDisabled else {
            encoder.tagged(tag, .no, .privacyRequired, "Use STARTTLS or the implicit-TLS port before logging in")
            return .proceed
        }
        return try await authenticateUser(tag: tag, name: name, password: password)
    }

    /// `AUTHENTICATE PLAIN [initial-response]` (RFC 4616, SASL-IR RFC 4959).
    func authenticate(tag: String, mechanism: String, initial: [UInt8]?, lines: AsyncStream<[UInt8]>?) async throws -> SessionOutcome {
        guard mechanism == "PLAIN" else {
            encoder.tagged(tag, .no, .cannot, "Unsupported authentication mechanism \(mechanism)")
            return .proceed
        }
        guard !loginDisabled else {
            encoder.tagged(tag, .no, .privacyRequired, "Use STARTTLS or the implicit-TLS port before logging in")
            return .proceed
        }
        var response: [UInt8]
        if let initial {
            response = initial
        } else {
            encoder.continuation("")
            try await output.send(takeOutput())
            var iterator = lines?.makeAsyncIterator()
            guard let line = await iterator?.next() else { return .close }
            response = Array(line.prefix { $0 != 13 && $0 != 10 })
        }
        if response == [UInt8(ascii: "*")] {
            encoder.tagged(tag, .bad, nil, "Authentication cancelled")
            return .proceed
        }
        if response == [UInt8(ascii: "=")] { response = [] }
        guard let decoded = Base64.decode(response) else {
            encoder.tagged(tag, .bad, nil, "Invalid base64 in authentication response")
            return .proceed
        }
        let fields = decoded.split(separator: 0, maxSplits: 3, omittingEmptySubsequences: false)
        guard fields.count == 3 else {
            encoder.tagged(tag, .bad, nil, "PLAIN response must be authzid NUL authcid NUL password")
            return .proceed
        }
        let authz = String(decoding: fields[0], as: UTF8.self)
        let authc = String(decoding: fields[1], as: UTF8.self)
        let password = String(decoding: fields[2], as: UTF8.self)
        if !authz.isEmpty && authz.lowercased() != authc.lowercased() {
            encoder.tagged(tag, .no, .authorizationFailed, "Acting as another user is not permitted")
            return .proceed
        }
        return try await authenticateUser(tag: tag, name: authc, password: password)
    }

    /// Checks credentials; a failure is answered after the throttle's delay (a suspended task, never a held thread),
    /// with the same text whether the user exists or not.
    private func authenticateUser(tag: String, name: String, password: String) async throws -> SessionOutcome {
        guard let info = try await ctx.store.authenticate(user: name, password: password) else {
            let delay = ctx.throttle.failure(ip: peerIP, user: name)
            report(.authenticationFailure, limit: "imap.auth_failure_delay_initial_ms", detail: "user \(name)")
            try await Task.sleep(for: delay)
            encoder.tagged(tag, .no, .authenticationFailed, "Authentication failed")
            return .proceed
        }
        guard ctx.registry.authenticated(connectionID, user: info.name) else {
            report(.userConnectionLimit, limit: "imap.max_connections_per_user", detail: "user \(info.name)")
            encoder.tagged(tag, .no, .limit, "Too many connections for this user (limit \(ctx.limits.imapMaxConnectionsPerUser))")
            return .proceed
        }
        ctx.throttle.success(ip: peerIP, user: name)
        user = info
        logger.info("logged in", metadata: ["user": "\(info.name)"])
        encoder.tagged(tag, .ok, .capability(capabilities()), "Logged in")
        return .authenticated
    }
}

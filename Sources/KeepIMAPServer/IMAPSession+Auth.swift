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
        let response: [UInt8]
        if let initial {
            response = initial
        } else {
            encoder.continuation("")
            try await output.send(takeOutput())
            var iterator = lines?.makeAsyncIterator()
            guard let line = await iterator?.next() else { return .close }
            response = Array(line.prefix { $0 != 13 && $0 != 10 })
        }
        let plain: SASLPlain
        do {
            plain = try SASLPlain.decode(response, maxLength: ctx.limits.imapMaxLineLength)
        } catch {
            switch error {
            case .cancelled: encoder.tagged(tag, .bad, nil, "Authentication cancelled")
            case .tooLong(let limit): encoder.tagged(tag, .bad, nil, "Authentication response too long (limit \(limit) bytes)")
            case .invalidBase64: encoder.tagged(tag, .bad, nil, "Invalid base64 in authentication response")
            case .malformedPlain: encoder.tagged(tag, .bad, nil, "PLAIN response must be authzid NUL authcid NUL password")
            }
            return .proceed
        }
        if !plain.authorizationID.isEmpty && plain.authorizationID.lowercased() != plain.authenticationID.lowercased() {
            encoder.tagged(tag, .no, .authorizationFailed, "Acting as another user is not permitted")
            return .proceed
        }
        return try await authenticateUser(tag: tag, name: plain.authenticationID, password: plain.password)
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

import Foundation
import KeepGuard
import KeepIMAP
import KeepStore
import Logging

/// What the connection handler must do after a command.
enum SessionOutcome: Sendable, Equatable {
    case proceed
    /// Close the connection (after the responses are written).
    case close
    /// Insert TLS before reading further (after the OK is written).
    case startTLS
    /// The user logged in: raise the framing limits.
    case authenticated
}

/// The IMAP session state machine (RFC 9051 §3): not authenticated → authenticated ⇄ selected → logout. It turns
/// `Command` values into store calls and response bytes. Commands run one at a time: the connection handler starts
/// the next only after the previous returned, so the session's state is never touched by two threads at once
/// (which is why it may be `@unchecked Sendable`).
final class IMAPSession: @unchecked Sendable {
    enum State: String { case notAuthenticated = "not-authenticated", authenticated, selected, logout }

    let ctx: IMAPServerContext
    let peer: String
    let peerIP: String
    let isLoopback: Bool
    let logger: Logger
    var tlsActive: Bool
    var connectionID: ConnectionRegistry.ConnectionID = 0
    var output: IMAPOutput!

    var user: UserInfo?
    var selected: SelectedFolder?
    var enabled: Set<String> = []
    var badCommands = 0
    var commandsBeforeLogin = 0
    /// UIDs of the last SEARCH with RETURN (SAVE) (RFC 5182 `$`).
    var savedSearch: [UInt32] = []
    /// Responses produced by the command running now.
    var encoder = ResponseEncoder()

    init(ctx: IMAPServerContext, peer: String, peerIP: String, isLoopback: Bool, tlsActive: Bool) {
        self.ctx = ctx
        self.peer = peer
        self.peerIP = peerIP
        self.isLoopback = isLoopback
        self.tlsActive = tlsActive
        var logger = ctx.logger
        logger[metadataKey: "peer"] = "\(peer)"
        self.logger = logger
    }

    var state: State {
        if user == nil { return .notAuthenticated }
        return selected == nil ? .authenticated : .selected
    }

    /// IMAP4rev2 or UTF8=ACCEPT enabled: mailbox names travel as UTF-8, not modified UTF-7.
    var utf8Names: Bool { enabled.contains("IMAP4REV2") || enabled.contains("UTF8=ACCEPT") }
    var rev2: Bool { enabled.contains("IMAP4REV2") }
    var loginDisabled: Bool { ctx.requireTLSForLoginOffLoopback && !tlsActive && !isLoopback }

    func capabilities() -> [String] {
        ctx.capabilities(authenticated: user != nil, tlsActive: tlsActive, loginDisabled: loginDisabled)
    }

    func greeting() -> [UInt8] {
        var e = ResponseEncoder()
        e.untagged(.condition(.ok, .capability(capabilities()), "Keep IMAP ready"))
        return e.bytes
    }

    /// Takes the responses produced so far.
    func takeOutput() -> [UInt8] {
        let b = encoder.bytes
        encoder.reset()
        return b
    }

    /// Sends what is buffered when it has grown large (long FETCH/SEARCH answers are streamed, not held).
    func flushIfLarge() async throws {
        if encoder.bytes.count >= 64 * 1024 { try await output.send(takeOutput()) }
    }

    func report(_ kind: GuardEventKind, limit: String, detail: String = "") {
        ctx.reporter.report(GuardEvent(kind: kind, peer: peer, state: state.rawValue, user: user?.name, limit: limit,
                                       detail: detail))
    }

    // MARK: Dispatch

    /// How the handler should run a parsed frame.
    enum Step {
        /// Answered already (responses in `encoder`).
        case done(SessionOutcome)
        /// Needs the store: run `execute` off the event loop.
        case async(Command)
    }

    /// Parses a frame and answers it at once when no store work is needed (runs on the event loop).
    func begin(frame: [UInt8], parser: CommandParser) -> Step {
        let command: Command
        do {
            command = try parser.parse(frame)
        } catch {
            return .done(badCommand(tag: error.tag, text: error.description, limitName: error.limitName))
        }
        if user == nil {
            commandsBeforeLogin += 1
            if commandsBeforeLogin > ctx.limits.imapMaxCommandsBeforeLogin {
                report(.commandsBeforeLogin, limit: "imap.max_commands_before_login")
                encoder.untagged(.condition(.bye, .limit, "Too many commands before login"))
                return .done(.close)
            }
        }
        if let refusal = stateRefusal(command.kind) {
            return .done(badCommand(tag: command.tag, text: refusal, limitName: nil))
        }
        switch command.kind {
        case .capability:
            encoder.untagged(.capability(capabilities()))
            encoder.tagged(command.tag, .ok, nil, "CAPABILITY completed")
            return .done(.proceed)
        case .noop where selected == nil:
            encoder.tagged(command.tag, .ok, nil, "NOOP completed")
            return .done(.proceed)
        case .logout:
            encoder.untagged(.condition(.bye, nil, "Keep logging out"))
            encoder.tagged(command.tag, .ok, nil, "LOGOUT completed")
            return .done(.close)
        case .id:
            encoder.untagged(.id([("name", "Keep"), ("vendor", "Keep")]))
            encoder.tagged(command.tag, .ok, nil, "ID completed")
            return .done(.proceed)
        case .enable(let caps):
            var newly: [String] = []
            for c in caps {
                let u = c.uppercased()
                guard ["IMAP4REV2", "UTF8=ACCEPT", "CONDSTORE"].contains(u) else { continue }
                if enabled.insert(u).inserted { newly.append(u == "IMAP4REV2" ? "IMAP4rev2" : u) }
            }
            encoder.untagged(.enabled(newly))
            encoder.tagged(command.tag, .ok, nil, "ENABLE completed")
            return .done(.proceed)
        case .namespace:
            encoder.untagged(.namespace(personal: [("", UInt8(ascii: "/"))], other: [], shared: []))
            encoder.tagged(command.tag, .ok, nil, "NAMESPACE completed")
            return .done(.proceed)
        case .starttls:
            guard ctx.tls != nil, !tlsActive else {
                encoder.tagged(command.tag, .bad, nil, tlsActive ? "TLS is already active" : "STARTTLS is not available")
                return .done(.proceed)
            }
            encoder.tagged(command.tag, .ok, nil, "Begin TLS negotiation now")
            return .done(.startTLS)
        case .unselect:
            selected = nil
            encoder.tagged(command.tag, .ok, nil, "UNSELECT completed")
            return .done(.proceed)
        case .getMetadata, .setMetadata, .getQuota, .getQuotaRoot, .setQuota, .compress:
            encoder.tagged(command.tag, .no, .cannot, "\(command.kind.name) is not supported by this server")
            return .done(.proceed)
        default:
            return .async(command)
        }
    }

    /// Why a command may not run in the current state, or nil.
    func stateRefusal(_ kind: CommandKind) -> String? {
        switch kind {
        case .capability, .noop, .logout, .id:
            return nil
        case .starttls, .authenticate, .login:
            return user == nil ? nil : "Already authenticated"
        case .check, .close, .unselect, .expunge, .uidExpunge, .search, .fetch, .store, .copy, .move:
            if user == nil { return "Log in first" }
            return selected == nil ? "No mailbox selected" : nil
        default:
            return user == nil ? "Log in first" : nil
        }
    }

    /// Answers an invalid command with BAD, or BYE once too many have been sent.
    func badCommand(tag: String?, text: String, limitName: String?) -> SessionOutcome {
        badCommands += 1
        let max = user == nil ? ctx.limits.imapMaxBadCommandsUnauthenticated : ctx.limits.imapMaxBadCommands
        if let limitName { report(.parserBound, limit: "imap.\(limitName)", detail: text) }
        if badCommands > max {
            report(.badCommands, limit: user == nil ? "imap.max_bad_commands_unauthenticated" : "imap.max_bad_commands")
            encoder.untagged(.condition(.bye, nil, "Too many invalid commands"))
            return .close
        }
        if let tag {
            encoder.tagged(tag, .bad, nil, text)
        } else {
            encoder.untagged(.condition(.bad, nil, text))
        }
        return .proceed
    }

    /// Answers a command the framer could not frame.
    func framingError(_ error: FramingError) -> SessionOutcome {
        switch error {
        case .lineTooLong: report(.lineTooLong, limit: "imap.max_line_length")
        case .literalTooLarge: report(.literalTooLarge, limit: user == nil ? "imap.max_literal_size_unauthenticated" : "imap.append_limit")
        case .tooManyLiterals: report(.tooManyLiterals, limit: "imap.max_literals_per_command")
        case .commandTooLarge: report(.commandTooLarge, limit: user == nil ? "imap.max_command_size_unauthenticated" : "imap.append_limit")
        case .invalidLiteralSize: break
        case .nestingTooDeep: report(.parserBound, limit: "imap.max_nesting_depth", detail: "while the line arrived")
        }
        if error.framingLost {
            encoder.untagged(.condition(.bye, .limit, error.description))
            return .close
        }
        if case .literalTooLarge(let tag?, _, _, true) = error {
            // A synchronising literal over the limit: refused before any continuation, nothing else to skip.
            encoder.tagged(tag, user == nil ? .bad : .no, .tooBig, error.description)
            return .proceed
        }
        return badCommand(tag: error.tag, text: error.description, limitName: nil)
    }

    /// Runs a command that needs the store. `lines` delivers client lines for IDLE (DONE) and AUTHENTICATE.
    func execute(_ command: Command, lines: AsyncStream<[UInt8]>?) async -> SessionOutcome {
        let tag = command.tag
        do {
            var outcome = SessionOutcome.proceed
            switch command.kind {
            case .login(let u, let p):
                outcome = try await login(tag: tag, user: String(decoding: u, as: UTF8.self), password: String(decoding: p, as: UTF8.self))
            case .authenticate(let mech, let initial):
                outcome = try await authenticate(tag: tag, mechanism: mech, initial: initial, lines: lines)
            case .noop:
                try await reportChanges(allowExpunge: true)
                encoder.tagged(tag, .ok, nil, "NOOP completed")
            case .check:
                // Every change is already durable: a checkpoint has nothing to flush; report changes as NOOP does.
                try await reportChanges(allowExpunge: true)
                encoder.tagged(tag, .ok, nil, "CHECK completed")
            case .select(let m, let params), .examine(let m, let params):
                if case .examine = command.kind {
                    try await select(tag: tag, mailbox: m, readOnly: true, params: params)
                } else {
                    try await select(tag: tag, mailbox: m, readOnly: false, params: params)
                }
            case .create(let m, let uses): try await create(tag: tag, mailbox: m, uses: uses)
            case .delete(let m): try await delete(tag: tag, mailbox: m)
            case .rename(let a, let b): try await rename(tag: tag, from: a, to: b)
            case .subscribe(let m): try await subscribe(tag: tag, mailbox: m, true)
            case .unsubscribe(let m): try await subscribe(tag: tag, mailbox: m, false)
            case .list(let ref, let patterns, let options):
                try await list(tag: tag, reference: ref, patterns: patterns, options: options, lsub: false)
            case .lsub(let ref, let pattern):
                var o = ListOptions()
                o.subscribed = true
                try await list(tag: tag, reference: ref, patterns: [pattern], options: o, lsub: true)
            case .status(let m, let items): try await status(tag: tag, mailbox: m, items: items)
            case .append(let m, let messages): try await append(tag: tag, mailbox: m, messages: messages)
            case .idle: outcome = try await idle(tag: tag, lines: lines)
            case .close: try await close(tag: tag)
            case .expunge: try await expunge(tag: tag, uids: nil)
            case .uidExpunge(let set): try await expunge(tag: tag, uids: set)
            case .search(let request, let uid): try await search(tag: tag, request: request, uid: uid)
            case .fetch(let set, let atts, let mods, let uid): try await fetch(tag: tag, set: set, attributes: atts, modifiers: mods, uid: uid)
            case .store(let set, let request, let uid): try await store(tag: tag, set: set, request: request, uid: uid)
            case .copy(let set, let m, let uid): try await copyOrMove(tag: tag, set: set, destination: m, uid: uid, move: false)
            case .move(let set, let m, let uid): try await copyOrMove(tag: tag, set: set, destination: m, uid: uid, move: true)
            default:
                encoder.tagged(tag, .bad, nil, "Command not handled")
            }
            // What is left in the encoder (at least the tagged completion) is written by the connection handler on
            // its event loop, in the same step that counts the command as answered: a client that pipelines its
            // next commands the moment it reads the completion is never counted one command too many.
            return outcome
        } catch let error as StoreError {
            let (code, text) = Self.describe(error)
            encoder.tagged(tag, .no, code, text)
            return .proceed
        } catch SessionError.limit(let text) {
            encoder.tagged(tag, .no, .limit, text)
            return .proceed
        } catch is CancellationError {
            return .close
        } catch {
            logger.error("command \(command.kind.name) failed: \(error)")
            encoder.tagged(tag, .no, .serverBug, "Internal error; the event is logged")
            return .proceed
        }
    }

    /// The response code and text for a store error.
    static func describe(_ error: StoreError) -> (ResponseCode?, String) {
        switch error {
        case .noSuchFolder: return (.nonExistent, error.description)
        case .folderExists: return (.alreadyExists, error.description)
        case .invalidFolderName: return (.cannot, error.description)
        case .cannotDeleteInbox: return (.cannot, error.description)
        case .folderHasChildren: return (.hasChildren, error.description)
        case .messageTooLarge: return (.tooBig, error.description)
        case .namedPropertyQuotaReached, .replicaIDQuotaReached: return (.limit, error.description)
        case .databaseUnavailable: return (.unavailable, "Your mailbox database is not mounted right now; try again later")
        case .noSuchUser, .userExists, .invalidUserName, .noSuchDatabase, .databaseExists, .invalidDatabaseName,
             .databaseNotEmpty:
            return (nil, error.description)
        case .corrupt: return (.corruption, error.description)
        }
    }
}

import Crypto
import CryptoExtras
import Foundation

/// PBKDF2-SHA256 password hashes, stored as `pbkdf2-sha256$ROUNDS$SALT_B64$HASH_B64`.
struct PasswordHasher: Sendable {
    static let minimumRounds = 210_000
    static let scheme = "pbkdf2-sha256"
    static let saltLength = 16
    static let hashLength = 32

    /// Rounds for new hashes.
    let rounds: Int
    /// A hash that no password matches, checked for unknown users so that they cost the same time as known ones.
    let dummyHash: String
    /// How many derivations ran (tests check that unknown users take the same path).
    let derivations = Locked(0)

    init(rounds: Int) {
        self.rounds = rounds
        let salt = Data((0..<Self.saltLength).map { _ in UInt8.random(in: 0...255) })
        let hash = Data((0..<Self.hashLength).map { _ in UInt8.random(in: 0...255) })
        self.dummyHash = "\(Self.scheme)$\(rounds)$\(salt.base64EncodedString())$\(hash.base64EncodedString())"
    }

    /// A new hash of `password` with a fresh random salt.
    func hash(_ password: String) throws -> String {
        var salt = Data(count: Self.saltLength)
        for i in 0..<Self.saltLength { salt[i] = UInt8.random(in: 0...255) }
        let key = try derive(password, salt: salt, rounds: rounds)
        return "\(Self.scheme)$\(rounds)$\(salt.base64EncodedString())$\(key.base64EncodedString())"
    }

    /// Whether `password` matches `stored`; when `stored` is nil (unknown user) or unreadable, the dummy hash is
    /// checked instead so that every path runs one derivation of the same cost, and false is returned.
    func verify(_ password: String, against stored: String?) -> Bool {
        let parsed = stored.flatMap(Self.parse)
        let (rounds, salt, expected) = parsed ?? Self.parse(dummyHash)!
        guard let actual = try? derive(password, salt: salt, rounds: rounds) else { return false }
        return Self.constantTimeEqual(actual, expected) && parsed != nil
    }

    private func derive(_ password: String, salt: Data, rounds: Int) throws -> Data {
        derivations.withLock { $0 += 1 }
        let key = try KDF.Insecure.PBKDF2.deriveKey(
            from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: Self.hashLength,
            unsafeUncheckedRounds: rounds)
        return key.withUnsafeBytes { Data($0) }
    }

    static func parse(_ text: String) -> (rounds: Int, salt: Data, hash: Data)? {
        let parts = text.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == scheme, let rounds = Int(parts[1]), rounds > 0, rounds <= 100_000_000,
              let salt = Data(base64Encoded: String(parts[2])), let hash = Data(base64Encoded: String(parts[3])),
              hash.count == hashLength
        else { return nil }
        return (rounds, salt, hash)
    }

    /// Compares without an early exit, so the time taken does not depend on where the first difference is.
    static func constantTimeEqual(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for (x, y) in zip(a, b) { diff |= x ^ y }
        return diff == 0
    }
}

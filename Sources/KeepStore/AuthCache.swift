import Crypto
import Foundation

/// Remembers recent successful logins so that the next login of the same user with the same password does not pay
/// the PBKDF2 derivation again (Dovecot's `auth_cache`, for the same reason: a mail client reconnects often).
///
/// What is kept is per user: the stored password hash the login was checked against, and an HMAC-SHA256 of the
/// password under a key made at random when the process starts (never written anywhere). A lookup succeeds only when
/// the directory still holds the same stored hash (a password change, from this process or the `keep` CLI, misses at
/// once) and the HMAC matches, compared in constant time. Wrong passwords are never cached and always pay the full
/// derivation, so failures keep their cost and their timing. Entries expire after `ttl`; the table holds at most
/// `capacity` users (the oldest entry is dropped first).
final class AuthCache: Sendable {
    private struct Entry {
        var storedHash: String
        var verifier: Data
        var expires: ContinuousClock.Instant
    }

    private let key = SymmetricKey(size: .bits256)
    private let entries = Locked<[String: Entry]>([:])
    private let ttl: Duration
    private let capacity: Int

    /// `ttl` zero (or `capacity` zero) disables the cache.
    init(ttl: Duration, capacity: Int) {
        self.ttl = ttl
        self.capacity = capacity
    }

    var isEnabled: Bool { ttl > .zero && capacity > 0 }

    /// Whether `password` is the one `user` last logged in with, while the directory still holds `storedHash`.
    func matches(user: String, password: String, storedHash: String) -> Bool {
        guard isEnabled else { return false }
        let now = ContinuousClock.now
        guard let entry = entries.withLock({ $0[user.lowercased()] }), entry.expires > now,
              entry.storedHash == storedHash else { return false }
        return PasswordHasher.constantTimeEqual(verifier(user: user, password: password), entry.verifier)
    }

    /// Records a login that the full derivation accepted.
    func remember(user: String, password: String, storedHash: String) {
        guard isEnabled else { return }
        let entry = Entry(storedHash: storedHash, verifier: verifier(user: user, password: password),
                          expires: .now + ttl)
        let capacity = self.capacity
        entries.withLock { table in
            if table.count >= capacity, table[user.lowercased()] == nil {
                let now = ContinuousClock.now
                table = table.filter { $0.value.expires > now }
                if table.count >= capacity, let oldest = table.min(by: { $0.value.expires < $1.value.expires }) {
                    table[oldest.key] = nil
                }
            }
            table[user.lowercased()] = entry
        }
    }

    /// Forgets `user` (password changed or user removed through this process).
    func forget(user: String) {
        entries.withLock { $0[user.lowercased()] = nil }
    }

    var count: Int { entries.withLock { $0.count } }

    private func verifier(user: String, password: String) -> Data {
        var mac = HMAC<SHA256>(key: key)
        mac.update(data: Array(user.lowercased().utf8))
        mac.update(data: [0])
        mac.update(data: Array(password.utf8))
        return Data(mac.finalize())
    }
}

import Crypto
import Foundation
import HummingbirdBcrypt

/// Making and checking secrets: API tokens, session ids, setup codes and passwords.
///
/// Tokens and session ids are 256 random bits from the system's generator (`getrandom(2)`), so a fast hash is
/// enough to store them (nobody can choose a preimage; a slow hash would tax every request — bcrypt at cost 12
/// takes ~200 ms). Passwords are chosen by people, so they get bcrypt at cost 12, only at login.
public enum Secrets {
    /// The prefix of every API token: recognisable in a leaked file, and by secret scanners.
    public static let tokenPrefix = "tock_"

    /// A new API token: `tock_` and 43 base62 characters (256 bits).
    public static func newToken() -> String { tokenPrefix + randomBase62(bytes: 32) }

    /// A new session id for a cookie (256 bits, base62).
    public static func newSessionID() -> String { randomBase62(bytes: 32) }

    /// A one-time setup code (128 bits), short enough to type.
    public static func newSetupCode() -> String { randomBase62(bytes: 16) }

    /// SHA-256 of a secret, lowercase hex: what the store keeps of tokens and session ids.
    public static func hash(_ secret: String) -> String {
        var secret = secret
        let digest = secret.withUTF8 { SHA256.hash(data: $0) }
        let digits = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: SHA256.byteCount * 2) { buffer in
            var index = 0
            for byte in digest {
                buffer[index] = digits[Int(byte >> 4)]
                buffer[index + 1] = digits[Int(byte & 0x0f)]
                index += 2
            }
            return index
        }
    }

    /// Compares two secrets in time independent of where they differ.
    public static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }

    static func randomBase62(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        // 256 bits need 43 base62 digits (62^43 > 2^256); drawing each digit uniformly gives the same entropy
        // without big-number arithmetic.
        let digits = Int((Double(count * 8) / log2(62)).rounded(.up))
        return String((0..<digits).map { _ in alphabet[Int(generator.next(upperBound: UInt8(62)))] })
    }
}

/// Password rules and hashing (bcrypt, cost 12).
public enum Passwords {
    public static let cost: UInt8 = 12
    /// bcrypt reads at most 72 bytes: longer passwords would match anything sharing their first 72.
    public static let maximumBytes = 72
    public static let minimumCharacters = 8

    /// Checks a new password against the rules.
    public static func validate(_ password: String) throws(AccessProblem) {
        if password.count < minimumCharacters {
            throw AccessProblem("password: at least \(minimumCharacters) characters, please")
        }
        if password.utf8.count > maximumBytes {
            throw AccessProblem(
                "password: at most \(maximumBytes) bytes (this one has \(password.utf8.count)); bcrypt ignores the rest, "
                    + "so a longer password would not be as strong as it looks")
        }
        if password.utf8.contains(0) { throw AccessProblem("password: must not contain a NUL character") }
    }

    /// Hashes a valid password. Slow on purpose (about 0.2 s): call it off the request path's executors.
    public static func hash(_ password: String, cost: UInt8 = cost) throws(AccessProblem) -> String {
        try validate(password)
        return Bcrypt.hash(password, cost: cost)
    }

    /// Checks a password against a stored hash; `$2y$` hashes (htpasswd -B) are read as `$2b$`.
    public static func verify(_ password: String, hash: String) -> Bool {
        guard password.utf8.count <= maximumBytes, !password.utf8.contains(0) else { return false }
        var stored = hash
        if stored.hasPrefix("$2y$") { stored = "$2b$" + stored.dropFirst(4) }
        guard stored.hasPrefix("$2a$") || stored.hasPrefix("$2b$") else { return false }
        return Bcrypt.verify(password, hash: stored)
    }
}

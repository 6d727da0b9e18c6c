import Foundation

/// Makes API tokens: the secret (shown once) and the record the store keeps (its hash).
public enum TokenFactory {
    public static func make(
        name: String, role: Role, tags: Set<String>?, createdBy: String, at date: Date, expiresAt: Date?
    ) -> (token: APIToken, secret: String) {
        let secret = Secrets.newToken()
        let token = APIToken(
            id: String(secret.prefix(12)), name: name, hash: Secrets.hash(secret), role: role, tags: tags,
            createdBy: createdBy, createdAt: date, expiresAt: expiresAt)
        return (token, secret)
    }
}

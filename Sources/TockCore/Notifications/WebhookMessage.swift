import Crypto
import Foundation
import TockJSON

/// The body and headers of one webhook attempt: the event in the receiver's format, signed the Standard Webhooks
/// way (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256(id.timestamp.body)>`).
public struct WebhookMessage: Sendable {
    public var body: [UInt8]
    public var headers: [(String, String)]

    /// - Parameters:
    ///   - event: the stored event JSON.
    ///   - eventID: the `webhook-id`, the same on every attempt.
    ///   - secret: `whsec_<base64>` (or a plain secret, used as its bytes); no signature without one.
    ///   - timestamp: this attempt's time (seconds since 1970).
    public init(
        event: [UInt8], eventID: String, format: NotifierConfiguration.Format, includeOutput: Bool, secret: String?,
        timestamp: Int, userAgent: String
    ) {
        body = Self.body(event: event, format: format, includeOutput: includeOutput)
        headers = [
            ("Content-Type", "application/json"), ("User-Agent", userAgent), ("webhook-id", eventID),
            ("webhook-timestamp", String(timestamp)),
        ]
        if let secret {
            headers.append(
                ("webhook-signature", Self.signature(secret: secret, id: eventID, timestamp: timestamp, body: body)))
        }
    }

    /// `v1,` + base64 of HMAC-SHA256 over `id.timestamp.body`, keyed with the secret's bytes.
    public static func signature(secret: String, id: String, timestamp: Int, body: [UInt8]) -> String {
        let key = SymmetricKey(data: secretBytes(secret))
        var signed = Array("\(id).\(timestamp).".utf8)
        signed += body
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: key)
        return "v1," + Data(mac).base64EncodedString()
    }

    /// A `whsec_` secret is base64 after the prefix; anything else is used as its UTF-8 bytes.
    static func secretBytes(_ secret: String) -> [UInt8] {
        if secret.hasPrefix("whsec_"), let data = Data(base64Encoded: String(secret.dropFirst("whsec_".count))) {
            return Array(data)
        }
        return Array(secret.utf8)
    }

    /// A fresh `whsec_` secret (32 random bytes).
    public static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return "whsec_" + Data(bytes).base64EncodedString()
    }

    static func body(event: [UInt8], format: NotifierConfiguration.Format, includeOutput: Bool) -> [UInt8] {
        if format == .json && includeOutput { return event }
        guard case .object(var pairs)? = try? JSONValue.parse(event) else { return event }
        if !includeOutput { pairs.removeAll { $0.0 == "output" } }
        let text = JSONValue.object(pairs)["text"]?.stringValue ?? ""
        switch format {
        case .json:
            return JSONValue.object(pairs).jsonBytes
        case .slack:
            return JSONValue.object([("text", .string(text))]).jsonBytes
        case .teams:
            let card: JSONValue = .object([
                ("$schema", "http://adaptivecards.io/schemas/adaptive-card.json"), ("type", "AdaptiveCard"),
                ("version", "1.4"),
                ("body", .array([.object([("type", "TextBlock"), ("text", .string(text)), ("wrap", true)])])),
            ])
            return JSONValue.object([
                ("type", "message"),
                (
                    "attachments",
                    .array([
                        .object([
                            ("contentType", "application/vnd.microsoft.card.adaptive"), ("contentUrl", .null),
                            ("content", card),
                        ])
                    ])
                ),
            ]).jsonBytes
        }
    }
}

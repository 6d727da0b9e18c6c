import Crypto
import TockJSON

extension Job {
    /// SHA-256 (lowercase hex) of the job's canonical definition (``definition(defaultTimeZone:)`` as compact JSON):
    /// equal on two nodes exactly when they would run the same job. Where the job was defined (file, line) is not
    /// part of it; the server's zone is, for a job that names none (it decides when the job runs).
    public func definitionDigest(defaultTimeZone: String) -> String {
        let bytes = JSONValue.object(definition(defaultTimeZone: defaultTimeZone)).jsonBytes
        return Secrets.hex(SHA256.hash(data: bytes))
    }
}

extension Secrets {
    /// Lowercase hex of a digest's bytes.
    static func hex(_ digest: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in digest {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

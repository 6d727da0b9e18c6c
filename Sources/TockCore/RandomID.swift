/// Random ids: execution ids, and job ids the API makes when a body names none.
public enum RandomID {
    /// A 32-hex-digit id, as ndscheduler's ids of jobs and executions (a random UUID, version 4).
    ///
    /// The bits come from the system generator (`getrandom`, which needs no file descriptor): Foundation's `UUID()`
    /// reads /dev/urandom and, with every descriptor in use, silently returned zeros — ids that collide.
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (generator.next() as UInt64, generator.next() as UInt64)
        return withUnsafeMutableBytes(of: &bytes) { raw in
            raw[6] = (raw[6] & 0x0F) | 0x40
            raw[8] = (raw[8] & 0x3F) | 0x80
            let digits = Array("0123456789abcdef".utf8)
            var out = [UInt8](repeating: 0, count: 32)
            for (i, byte) in raw.enumerated() {
                out[2 * i] = digits[Int(byte >> 4)]
                out[2 * i + 1] = digits[Int(byte & 0xF)]
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}

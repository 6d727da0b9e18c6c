import Foundation

/// ISO 8601 timestamps with a numeric offset, as `tock next` and the API write them:
/// `2026-03-08T03:00:00-07:00` (seconds always; `+00:00`, never `Z`).
public enum Timestamp {
    /// Formats an instant (whole seconds) as its local reading in the zone, with the zone's offset at that instant.
    ///
    /// - Parameter microseconds: add `.ffffff` when the instant is not a whole second (ndscheduler's API form).
    public static func string(for date: Date, in rules: ZoneRules, microseconds: Bool = false) -> String {
        var t: Int64
        var micros: Int64 = 0
        if microseconds {
            let total = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
            t = total / 1_000_000
            micros = total % 1_000_000
            if micros < 0 {
                micros += 1_000_000
                t -= 1
            }
        } else {
            t = Int64(date.timeIntervalSince1970.rounded(.down))
        }
        let offset = rules.offset(at: t)
        let c = CivilTime.components(t + Int64(offset))
        var out: [UInt8] = []
        out.reserveCapacity(32)
        func put(_ value: Int, _ width: Int) {
            var digits = (UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0))
            var rest = value
            withUnsafeMutableBytes(of: &digits) { buffer in
                for i in stride(from: width - 1, through: 0, by: -1) {
                    buffer[i] = UInt8(ascii: "0") + UInt8(rest % 10)
                    rest /= 10
                }
                out.append(contentsOf: buffer.prefix(width))
            }
        }
        if c.year > 9999 {
            // Beyond four digits (a schedule far in the future): every digit, never a truncated year.
            out.append(contentsOf: Array(String(c.year).utf8))
        } else {
            put(c.year, 4)
        }
        out.append(UInt8(ascii: "-"))
        put(c.month, 2)
        out.append(UInt8(ascii: "-"))
        put(c.day, 2)
        out.append(UInt8(ascii: "T"))
        put(c.hour, 2)
        out.append(UInt8(ascii: ":"))
        put(c.minute, 2)
        out.append(UInt8(ascii: ":"))
        put(c.second, 2)
        if micros != 0 {
            out.append(UInt8(ascii: "."))
            put(Int(micros), 6)
        }
        let magnitude = abs(offset)
        out.append(offset < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        put(magnitude / 3600, 2)
        out.append(UInt8(ascii: ":"))
        put(magnitude / 60 % 60, 2)
        if magnitude % 60 != 0 {  // local mean time before ~1900
            out.append(UInt8(ascii: ":"))
            put(magnitude % 60, 2)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses `YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|±HH:MM|±HHMM|±HH]`. Without an offset the reading is
    /// taken as local time in `zone` (first occurrence in an overlap, first instant after a gap).
    ///
    /// - Returns: `nil` when the text is not such a timestamp.
    static func parse(_ text: String, defaultZone zone: ZoneRules) -> Date? {
        var scanner = Scanner(Array(text.trimmingWhitespace().utf8))
        guard let year = scanner.digits(4), scanner.skip("-"), let month = scanner.digits(2), scanner.skip("-"),
            let day = scanner.digits(2), (1...12).contains(month),
            (1...CivilTime.daysInMonth(year: year, month: month)).contains(day)
        else { return nil }
        var hour = 0
        var minute = 0
        var second = 0
        var fraction = 0.0
        if scanner.skip("T") || scanner.skip("t") || scanner.skip(" ") {
            guard let h = scanner.digits(2), scanner.skip(":"), let m = scanner.digits(2), h < 24, m < 60 else {
                return nil
            }
            hour = h
            minute = m
            if scanner.skip(":") {
                guard let s = scanner.digits(2), s < 60 else { return nil }
                second = s
                if scanner.skip(".") || scanner.skip(",") {
                    var scale = 0.1
                    var any = false
                    while let d = scanner.digit() {
                        fraction += Double(d) * scale
                        scale /= 10
                        any = true
                    }
                    if !any { return nil }
                }
            }
        }
        let local = CivilTime.seconds(
            .init(year: year, month: month, day: day, hour: hour, minute: minute, second: second))
        var instant: Int64
        if scanner.atEnd {
            instant = zone.instant(forLocal: local)
        } else if scanner.skip("Z") || scanner.skip("z") {
            instant = local
        } else {
            let sign: Int64
            if scanner.skip("+") {
                sign = 1
            } else if scanner.skip("-") {
                sign = -1
            } else {
                return nil
            }
            guard let oh = scanner.digits(2), oh <= 18 else { return nil }
            var om = 0
            if scanner.skip(":") {
                guard let m = scanner.digits(2), m < 60 else { return nil }
                om = m
            } else if let m = scanner.digits(2) {
                guard m < 60 else { return nil }
                om = m
            }
            instant = local - sign * Int64(oh * 3600 + om * 60)
        }
        guard scanner.atEnd else { return nil }
        return Date(timeIntervalSince1970: Double(instant) + fraction)
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        var atEnd: Bool { index == bytes.count }
        mutating func skip(_ s: Unicode.Scalar) -> Bool {
            guard index < bytes.count, bytes[index] == UInt8(ascii: s) else { return false }
            index += 1
            return true
        }
        mutating func digit() -> Int? {
            guard index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) else {
                return nil
            }
            defer { index += 1 }
            return Int(bytes[index] - UInt8(ascii: "0"))
        }
        mutating func digits(_ count: Int) -> Int? {
            var n = 0
            let start = index
            for _ in 0..<count {
                guard let d = digit() else {
                    index = start
                    return nil
                }
                n = n * 10 + d
            }
            return n
        }
    }
}

extension Date {
    /// Reads an ISO 8601 time (`2026-03-08T03:00:00-07:00`, `…Z`, a date alone); a time without an offset is a
    /// local reading in `defaultZone` (in a DST overlap, the first occurrence). `nil` when the text is not one.
    public init?(parsing text: String, defaultZone: ZoneRules) {
        guard let date = Timestamp.parse(text, defaultZone: defaultZone) else { return nil }
        self = date
    }
}

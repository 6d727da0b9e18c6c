import Foundation
import Synchronization

/// A time zone's UTC offsets as a sorted table of transitions, for fast and exact local-time arithmetic.
///
/// Built once per zone identifier from Foundation's `TimeZone` (the system tz database) over the years
/// 1900–2400 and shared. Outside that span the nearest known offset is assumed.
public final class ZoneRules: Sendable {
    /// The zone the table was built from.
    public let timeZone: TimeZone
    /// Instants (Unix seconds) at which the offset changes, ascending.
    let transitions: [Int64]
    /// `offsets[i]` applies from `transitions[i - 1]` (inclusive) to `transitions[i]` (exclusive).
    let offsets: [Int32]

    static let tableStart: Int64 = -2_208_988_800  // 1900-01-01T00:00:00Z
    static let tableEnd: Int64 = 13_569_465_600  // 2400-01-01T00:00:00Z

    private static let cache = Mutex<[String: ZoneRules]>([:])

    /// UTC, built once.
    public static let utc: ZoneRules = rules(for: TimeZone(identifier: "UTC")!)

    /// The shared rules of a zone.
    public static func rules(for timeZone: TimeZone) -> ZoneRules {
        if let cached = cache.withLock({ $0[timeZone.identifier] }) { return cached }
        let built = ZoneRules(building: timeZone)
        return cache.withLock { table in
            if let raced = table[timeZone.identifier] { return raced }
            table[timeZone.identifier] = built
            return built
        }
    }

    /// The rules of the zone with this IANA identifier, or `nil` when the system does not know it.
    public static func rules(forIdentifier identifier: String) -> ZoneRules? {
        // Creating a TimeZone costs tens of microseconds (ICU); a daemon with 100,000 jobs asks for a handful of
        // zones 100,000 times.
        if let cached = cache.withLock({ $0[identifier] }) { return cached }
        guard let zone = TimeZone(identifier: identifier) else { return nil }
        return rules(for: zone)
    }

    private init(building timeZone: TimeZone) {
        self.timeZone = timeZone
        var transitions: [Int64] = []
        var offsets: [Int32] = [
            Int32(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(Self.tableStart))))
        ]
        var cursor = Date(timeIntervalSince1970: Double(Self.tableStart))
        while let next = timeZone.nextDaylightSavingTimeTransition(after: cursor),
            next.timeIntervalSince1970 < Double(Self.tableEnd)
        {
            let instant = Int64(next.timeIntervalSince1970.rounded(.down))
            let offset = Int32(timeZone.secondsFromGMT(for: next))
            // ICU sometimes reports a transition that changes only the DST flag, not the offset.
            if offset != offsets[offsets.count - 1] {
                transitions.append(instant)
                offsets.append(offset)
            }
            cursor = next
        }
        self.transitions = transitions
        self.offsets = offsets
    }

    /// Index into `offsets` of the segment containing instant `t`.
    @inline(__always)
    func segmentIndex(containing t: Int64) -> Int {
        var low = 0
        var high = transitions.count
        while low < high {
            let mid = (low + high) >> 1
            if transitions[mid] <= t { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// UTC offset in seconds at instant `t` (Unix seconds).
    @inline(__always)
    public func offset(at t: Int64) -> Int {
        Int(offsets[segmentIndex(containing: t)])
    }

    /// The segment of constant offset that contains `t`: its offset and the instant it ends.
    @inline(__always)
    func segment(containing t: Int64) -> (offset: Int64, end: Int64) {
        let i = segmentIndex(containing: t)
        return (Int64(offsets[i]), i < transitions.count ? transitions[i] : Int64.max)
    }

    /// The instant a local wall-clock reading stands for.
    ///
    /// A reading that occurs twice (a fall-back overlap) gives its first occurrence; one that does not occur (a
    /// spring-forward gap) gives the first instant after the gap.
    func instant(forLocal local: Int64) -> Int64 {
        var i = segmentIndex(containing: local - CivilTime.secondsPerDay)
        let last = segmentIndex(containing: local + CivilTime.secondsPerDay)
        while i <= last {
            let start = i == 0 ? Int64.min : transitions[i - 1]
            let end = i < transitions.count ? transitions[i] : Int64.max
            let t = local - Int64(offsets[i])
            if t >= start && t < end { return t }
            if t < start { return start }  // the reading fell into the gap before this segment
            i += 1
        }
        return local - Int64(offsets[last])
    }
}

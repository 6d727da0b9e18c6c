import Foundation

/// The system's processes as /proc shows them: the one place that reads `/proc/PID/stat`.
public enum ProcessTable {
    /// One process: its state letter (`R`, `S`, `Z`, …), parent and process group.
    public struct Entry: Sendable, Hashable {
        public let pid: Int32
        public let state: Character
        public let parent: Int32
        public let group: Int32

        /// Running or sleeping, not a zombie waiting to be reaped.
        public var isAlive: Bool { state != "Z" && state != "X" }
    }

    /// The process `pid`, or `nil` when there is none.
    public static func entry(pid: Int32) -> Entry? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm)": state ppid pgrp … (comm may itself contain spaces and parentheses).
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let state = fields[0].first, let parent = Int32(fields[1]), let group = Int32(fields[2])
        else { return nil }
        return Entry(pid: pid, state: state, parent: parent, group: group)
    }

    /// Every process.
    public static func all() -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { Int32($0).flatMap(entry(pid:)) }
    }
}

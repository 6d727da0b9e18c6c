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

    /// Processes whose environment sets `name` to one of `values`, with the value each has. Reads
    /// /proc/PID/environ (the environment the process started with), so it finds a job's processes even when
    /// nothing recorded their pids.
    public static func processes(withEnvironment name: String, in values: Set<String>) -> [(Entry, String)] {
        guard !values.isEmpty else { return [] }
        let prefix = Array((name + "=").utf8)
        var found: [(Entry, String)] = []
        for entry in all() where entry.isAlive {
            guard let data = FileManager.default.contents(atPath: "/proc/\(entry.pid)/environ") else { continue }
            for variable in data.split(separator: 0) where variable.starts(with: prefix) {
                let value = String(decoding: variable.dropFirst(prefix.count), as: UTF8.self)
                if values.contains(value) { found.append((entry, value)) }
            }
        }
        return found
    }

    /// How long ago the process (a zombie, typically) last ran, from the scheduler's clock in /proc/PID/sched
    /// compared with the calling thread's own (which is running now). `nil` where the kernel does not show it
    /// (no CONFIG_SCHED_DEBUG).
    public static func secondsSinceLastRan(_ pid: Int32) -> Double? {
        guard let then = lastRan("/proc/\(pid)/sched"), let now = lastRan("/proc/thread-self/sched") else { return nil }
        return max(0, now - then)
    }

    /// `se.exec_start` of a sched file, in seconds.
    private static func lastRan(_ path: String) -> Double? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[0..<n], as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("se.exec_start") }),
            let colon = line.firstIndex(of: ":"),
            let milliseconds = Double(line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        else { return nil }
        return milliseconds / 1000
    }

    /// Every process.
    public static func all() -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { Int32($0).flatMap(entry(pid:)) }
    }
}

import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Facts about a run's process group (its pgid is the pid of the run's main process).
enum ProcessGroup {
    /// How many processes of the group are alive (zombies waiting to be reaped do not count).
    static func livingMembers(_ pgid: pid_t) -> Int {
        // Cheap answer first: no process at all in the group.
        if kill(-pgid, 0) != 0 && errno == ESRCH { return 0 }
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return 0 }
        var count = 0
        for entry in entries where entry.first?.isNumber == true {
            guard let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // After "pid (comm)": state ppid pgrp …
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, let group = Int32(fields[2]) else { continue }
            if group == pgid && fields[0] != "Z" && fields[0] != "X" { count += 1 }
        }
        return count
    }

    /// Reaps exited members of the group that became our children (when the daemon is a subreaper).
    static func reapExitedMembers(_ pgid: pid_t) {
        var status: Int32 = 0
        while waitpid(-pgid, &status, WNOHANG) > 0 {}
    }
}

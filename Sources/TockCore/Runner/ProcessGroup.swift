import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Facts about a run's process group (its pgid is the pid of the run's main process).
public enum ProcessGroup {
    /// How many processes of the group are alive (zombies waiting to be reaped do not count).
    public static func livingMembers(_ pgid: pid_t) -> Int {
        // Cheap answer first: no process at all in the group.
        if kill(-pgid, 0) != 0 && errno == ESRCH { return 0 }
        return ProcessTable.all().filter { $0.group == pgid && $0.isAlive }.count
    }

    /// Reaps exited members of the group that became our children (when the daemon is a subreaper).
    static func reapExitedMembers(_ pgid: pid_t) {
        var status: Int32 = 0
        while waitpid(-pgid, &status, WNOHANG) > 0 {}
    }
}

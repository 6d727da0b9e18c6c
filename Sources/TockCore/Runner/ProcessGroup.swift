import Foundation

/// Facts about a run's process group (its pgid is the pid of the run's main process).
public enum ProcessGroup {
    /// How many processes of the group are alive (zombies waiting to be reaped do not count).
    public static func livingMembers(_ pgid: pid_t) -> Int {
        // Cheap answer first: no process at all in the group.
        if kill(-pgid, 0) != 0 && errno == ESRCH { return 0 }
        return ProcessTable.all().filter { $0.group == pgid && $0.isAlive }.count
    }

    /// Ends the process groups that runs of a previous daemon left behind: SIGTERM now, SIGKILL to what is
    /// left of them after `grace`. The groups are those of the processes whose environment names one of the
    /// executions (`TOCK_EXECUTION_ID`, set on every run), plus the recorded pids — so a run whose pid was never
    /// saved (the daemon died first) is found too.
    ///
    /// - Returns: per execution id, the process groups found alive and signalled.
    public static func stopLeftovers(
        executionIDs: Set<String>, recordedGroups: [String: pid_t], grace: Duration
    ) -> [String: Set<pid_t>] {
        var groups: [String: Set<pid_t>] = [:]
        for (entry, id) in ProcessTable.processes(withEnvironment: "TOCK_EXECUTION_ID", in: executionIDs)
        where entry.group > 1 {
            groups[id, default: []].insert(entry.group)
        }
        for (id, pgid) in recordedGroups where pgid > 1 && livingMembers(pgid) > 0 {
            groups[id, default: []].insert(pgid)
        }
        // Never the daemon's own group (a job's group is always one of its own: setsid).
        let own = getpgrp()
        for id in groups.keys { groups[id]?.remove(own) }
        groups = groups.filter { !$0.value.isEmpty }
        let all = Set(groups.values.flatMap { $0 })
        guard !all.isEmpty else { return [:] }
        for pgid in all { kill(-pgid, SIGTERM) }
        Task.detached {
            try? await Task.sleep(for: grace)
            for pgid in all where livingMembers(pgid) > 0 { kill(-pgid, SIGKILL) }
        }
        return groups
    }

    /// Reaps exited members of the group that became our children (when the daemon is a subreaper).
    static func reapExitedMembers(_ pgid: pid_t) {
        var status: Int32 = 0
        while waitpid(-pgid, &status, WNOHANG) > 0 {}
    }
}

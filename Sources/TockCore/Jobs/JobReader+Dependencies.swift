import CronKit
import Foundation

/// `after`, `after_window`, `after_wait`: a job's dependencies on other jobs.
extension JobReader {
    mutating func readDependencies(_ table: DefinitionValue, into job: inout Job) {
        if let upstreams = stringArray(table, .after) {
            var seen: Set<String> = []
            for upstream in upstreams {
                if !Job.isValidID(upstream) {
                    fail(.after, "'\(upstream)' is not a job id (letters, digits, '_', '.' and '-')")
                } else if upstream == id {
                    // A self-edge is the shortest cycle: reported as every cycle is.
                    fail(.after, "cycle \(id) → \(id)")
                } else if !seen.insert(upstream).inserted {
                    fail(.after, "'\(upstream)' is named twice")
                }
            }
            job.after = upstreams
            let scheduleText = table[.schedule]?.string?.trimmingCharacters(in: .whitespaces).lowercased()
            if !upstreams.isEmpty && scheduleText == "@reboot" {
                fail(.after, "a @reboot job cannot wait for other jobs; give it a schedule or no schedule at all")
            }
            if upstreams.isEmpty && table[.schedule] == nil {
                fail(.after, "must name at least one job (a job without a schedule runs after the jobs it names)")
            }
        }
        job.afterWindow = duration(table, .afterWindow, allowZero: false) ?? job.afterWindow
        job.afterWait = duration(table, .afterWait, allowZero: true) ?? job.afterWait
        if job.isTriggered && table[.afterWait] != nil && job.afterWait > .zero {
            fail(.afterWait, "applies to a job with a schedule (a gated job); a job without one waits anyway")
        }
    }
}

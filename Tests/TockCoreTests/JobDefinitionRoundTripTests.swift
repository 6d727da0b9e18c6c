import CronKit
import Foundation
import Testing
import TockJSON

@testable import TockCore

/// The canonical writer and the reader agree: `read(definition(job)) == job`, over jobs that together use every
/// key and every kind of action.
struct JobDefinitionRoundTripTests {
    static func jobs() throws -> [Job] {
        var full = Job(
            id: "full", schedule: try ScheduleExpression(parsing: "30 2 * * MON-FRI"),
            action: .command("pg_dump db > /tmp/x", shell: "/bin/bash"), name: "Nightly dump",
            description: "dumps the database", timezone: "Europe/Paris")
        full.workingDirectory = "/srv"
        full.environment = ["A": "1", "PATH": "/usr/bin:/bin"]
        full.inheritEnvironment = false
        full.user = "postgres"
        full.stdin = "line one\nline two"
        full.timeout = .seconds(5400)
        full.killGrace = .milliseconds(1500)
        full.retry = RetryPolicy(retries: 3, delay: .seconds(30), maxDelay: .seconds(3600))
        full.overlap = .queue
        full.catchup = .all
        full.catchupWindow = .seconds(2 * 86_400)
        full.jitter = .seconds(300)
        full.maxOutput = 64 << 10
        full.enabled = false
        full.tags = ["nightly", "db"]
        full.mailTo = "ops@example.com"
        full.onFailure = Notification(webhook: "https://example.com/hook")
        full.onSuccess = Notification(command: "logger ok")
        full.onRecovery = Notification(notify: ["ops-slack", "pager"], mail: "dba@example.com")
        full.onAlert = Notification(notify: ["pager"])
        full.alertAfterFailures = 3
        full.warnAfter = .seconds(2700)
        var exec = Job(
            id: "exec", schedule: try ScheduleExpression(parsing: "@every 90s"), action: .exec(["/bin/echo", "a b"]),
            timezone: "UTC")
        exec.overlap = .replace
        let custom = Job(
            id: "disk", schedule: try ScheduleExpression(parsing: "@hourly"),
            action: .custom(kind: "disk-space", arguments: ["path": "/", "min_free_percent": "10"]),
            timezone: "America/New_York")
        let reboot = Job(
            id: "boot", schedule: .reboot, action: .command("true", shell: "/bin/sh"), timezone: "UTC")
        // APScheduler's day rule (an imported ndscheduler job): the first Monday of each month.
        let firstMonday = Job(
            id: "first-monday", schedule: .cron(try CronExpression(parsing: "0 9 1-7 * 1", daysMatchBoth: true)),
            action: .exec(["/bin/true"]), timezone: "UTC")
        return [full, exec, custom, reboot, firstMonday]
    }

    @Test func readingTheCanonicalDefinition_givesTheSameJob() throws {
        let jobs = try Self.jobs()
        var used = Set<String>()
        for job in jobs {
            let pairs = job.definition(defaultTimeZone: "UTC")
            used.formUnion(pairs.filter { $0.1 != .null }.map(\.0))
            let definition = APIJobDefinition(id: job.id, body: .object(pairs))
            let read = try definition.job(kinds: ["disk-space"])
            #expect(read == job, "\(job.id)")
            #expect(read.definition(defaultTimeZone: "UTC").map(\.0) == pairs.map(\.0))
        }
        #expect(
            used == Set(JobKey.allCases.map(\.rawValue)),
            "every key used: \(Set(JobKey.allCases.map(\.rawValue)).subtracting(used))")
    }

    @Test func changes_nameTheKeysThatDiffer() throws {
        let job = try Self.jobs()[1]
        var changed = job
        changed.timeout = .seconds(60)
        changed.tags = ["x"]
        let changes = Job.changes(
            from: job.definition(defaultTimeZone: "UTC"), to: changed.definition(defaultTimeZone: "UTC"))
        #expect(changes.map(\.key) == ["timeout", "tags"])
        #expect(changes.map(\.auditLine) == [#"timeout: null → "1m""#, #"tags: [] → ["x"]"#])
    }
}

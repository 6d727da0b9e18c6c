import ArgumentParser
import CronKit
import Foundation
import TockClient
import TockCore
import TockJSON

/// `tock import ndscheduler --server URL [--output FILE | --into URL] [--with-history --data-dir DIR] [--dry-run]`
struct ImportNdschedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ndscheduler",
        abstract: "Move jobs (and their history) from a running ndscheduler into Tock.",
        discussion: """
            Reads every job through ndscheduler's own API (whatever its datastore) and writes a jobs.d TOML file \
            (stdout or --output), or creates the jobs in a running Tock (--into, with $TOCK_TOKEN). Schedules keep \
            APScheduler's meaning; ShellJob runs its argv without a shell, CurlJob and SlackJob become curl \
            commands, other job classes are skipped (exit status 1). --with-history also copies ndscheduler's \
            executions and audit log into a Tock store (--data-dir, as tock serve's); running it again adds nothing \
            twice.
            """)

    @Option(help: "ndscheduler's URL, e.g. http://127.0.0.1:8888.") var server: String
    @Option(help: "Write the jobs.d file here (default: stdout).") var output: String?
    @Flag(help: "Overwrite --output if it exists.") var force = false
    @Option(help: "Create the jobs through a running Tock's API instead (token in $TOCK_TOKEN).") var into: String?
    @Option(help: "With --into on a root daemon: the user the imported jobs run as (from its api_job_users).")
    var user: String?
    @Option(help: "ndscheduler's TIMEZONE setting (default UTC).") var timezone = "UTC"
    @Flag(help: "CurlJob: keep ndscheduler's meaning (an HTTP error status still succeeds).") var curlKeepStatus = false
    @Flag(help: "Also copy executions and the audit log into the Tock store (needs --data-dir or --database).")
    var withHistory = false
    @OptionGroup var store: StoreOptions
    @Flag(help: "Print what would be done and every warning; write nothing.") var dryRun = false

    func run() async throws {
        guard ZoneRules.rules(forIdentifier: timezone) != nil else {
            throw ValidationError("--timezone: unknown time zone '\(timezone)'")
        }
        if output != nil && into != nil { throw ValidationError("give --output or --into, not both") }
        let source: APIClient
        do { source = try APIClient(server: server) } catch { throw ValidationError("--server: \(error)") }
        let listed = try fetch(source, "/api/v1/jobs")
        guard case .array(let jobs)? = listed["jobs"] else {
            throw accessFailure("\(server) answered no job list (is it ndscheduler?)")
        }
        var options = NdschedulerImporter.Options()
        options.timezone = timezone
        options.curlFailsOnHTTPError = !curlKeepStatus
        let result = NdschedulerImporter.convert(jobs, options: options)

        for diagnostic in result.skipped { note("skipped: \(diagnostic)") }
        for diagnostic in result.warnings { note("warning: \(diagnostic)") }
        let toml = NdschedulerImporter.toml(result, source: server)
        // Never write what Tock itself would refuse.
        let check = JobDefinitionReader.parse(toml, file: output ?? "<output>")
        if !check.errors.isEmpty {
            for error in check.errors { note("internal: \(error)") }
            throw ExitCode(3)
        }

        if dryRun {
            for job in result.jobs {
                note(
                    "would import \(job.id) (\(job.name)): \(job.schedule)\(job.cronDaysBoth ? " [days: both]" : "")"
                        + (job.paused ? ", paused" : ""))
            }
        } else if let into {
            try importInto(into, result.jobs)
        } else if let output {
            if FileManager.default.fileExists(atPath: output) && !force {
                note("\(output) exists; nothing written (use --force to overwrite)")
                throw ExitCode(2)
            }
            try toml.write(toFile: output, atomically: true, encoding: .utf8)
        } else {
            print(toml, terminator: "")
        }
        if withHistory { try await importHistory(source) }
        note(
            "\(result.jobs.count) jobs \(dryRun ? "to import" : "imported"), \(result.skipped.count) skipped, "
                + "\(result.warnings.count) warnings" + (output.map { " → \($0)" } ?? into.map { " → \($0)" } ?? ""))
        if !result.skipped.isEmpty { throw ExitCode(1) }
    }

    func fetch(_ client: APIClient, _ path: String) throws -> JSONValue {
        let reply: APIClient.Reply
        do { reply = try client.send("GET", path) } catch { throw accessFailure("\(server): \(error)") }
        guard reply.status == 200, let json = reply.json else {
            throw accessFailure("\(server)\(path): HTTP \(reply.status)")
        }
        return json
    }

    /// Creates each job through Tock's API (then pauses the paused ones); a job that exists is left as it is.
    func importInto(_ url: String, _ jobs: [NdschedulerImporter.ImportedJob]) throws {
        let tock: APIClient
        do {
            tock = try APIClient(server: url, token: ProcessInfo.processInfo.environment["TOCK_TOKEN"])
        } catch { throw ValidationError("--into: \(error)") }
        for job in jobs {
            var body = NdschedulerImporter.apiBody(job)
            if let user, case .object(var pairs) = body {
                pairs.append((JobKey.user.rawValue, .string(user)))
                body = .object(pairs)
            }
            let reply: APIClient.Reply
            do { reply = try tock.send("POST", "/api/v1/jobs", json: body) } catch {
                throw accessFailure("\(url): \(error)")
            }
            switch reply.status {
            case 201: break
            case 409: note("\(job.id) exists in Tock already; left as it is")
            default:
                throw accessFailure(
                    "\(url): creating \(job.id): \(reply.json?["error"]?.stringValue ?? reply.text) (HTTP \(reply.status))"
                )
            }
            if job.paused, reply.status == 201 {
                _ = try? tock.send("POST", "/api/v1/jobs/\(job.id)/pause")
            }
        }
    }

    /// Executions (all of them: ndscheduler's API is asked for a range from 2000 to tomorrow) and the audit log,
    /// written to the store with their ndscheduler ids: a second import replaces, never adds.
    func importHistory(_ client: APIClient) async throws {
        let zone = ZoneRules.rules(forIdentifier: timezone) ?? .utc
        let range =
            "time_range_start=2000-01-01T00:00:00%2B00:00&time_range_end="
            + Timestamp.string(for: Date().addingTimeInterval(86_400), in: .utc).replacingOccurrences(
                of: "+", with: "%2B")
        let logs = try fetch(client, "/api/v1/logs?\(range)")
        let executions = try fetch(client, "/api/v1/executions?\(range)")
        guard case .array(let logItems)? = logs["logs"], case .array(let executionItems)? = executions["executions"]
        else { throw accessFailure("\(server): no executions or logs in the answer") }
        let entries = logItems.compactMap { NdschedulerImporter.auditEntry($0, zone: zone) }
        let manual = Set(entries.filter { $0.event == .customRun }.map(\.description))
        let records = executionItems.compactMap { NdschedulerImporter.execution($0, manualIDs: manual, zone: zone) }
        if dryRun {
            note("would import \(records.count) executions and \(entries.count) audit entries")
            return
        }
        let target = try store.open()
        try await target.save(records)
        var added = 0
        for entry in entries {
            let existing = try await target.auditLog(
                matching: AuditQuery(
                    jobID: entry.jobID, from: entry.createdAt.addingTimeInterval(-0.001),
                    to: entry.createdAt.addingTimeInterval(0.001), limit: 100))
            if existing.contains(where: { $0.event == entry.event && $0.user == entry.user }) { continue }
            try await target.append(entry)
            added += 1
        }
        note("history: \(records.count) executions, \(added) new audit entries (of \(entries.count))")
    }

    func note(_ message: String) {
        FileHandle.standardError.write(Data("tock import ndscheduler: \(message)\n".utf8))
    }
}

import ArgumentParser
import Foundation
import TockClient
import TockJSON

/// `tock jobs …`: a running server's jobs over its REST API.
struct JobsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "List, show, run, pause, resume and delete a running server's jobs.",
        subcommands: [List.self, Show.self, Run.self, Pause.self, Resume.self, Delete.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List jobs.")
        @OptionGroup var options: ServerOptions
        @Option(help: "Only jobs with this tag.") var tag: String?
        @Option(name: .customLong("search"), help: "Only jobs whose id, name, command or tags contain this text.")
        var query: String?

        func run() throws {
            var path = "/api/v1/jobs"
            var parameters: [String] = []
            if let tag { parameters.append("tag=\(percentEncoded(tag))") }
            if let query { parameters.append("q=\(percentEncoded(query))") }
            if !parameters.isEmpty { path += "?" + parameters.joined(separator: "&") }
            let reply = try call(try options.client(), "GET", path)
            if options.json { return printRaw(reply) }
            guard case .array(let jobs)? = reply.json?["jobs"] else { throw ExitCode(1) }
            printTable(
                ["ID", "SCHEDULE", "NEXT RUN", "LAST", "SOURCE", "PAUSED"],
                jobs.map { job in
                    [
                        job["job_id"]?.cell ?? "-", job["schedule"]?.cell ?? "-", job["next_run_time"]?.cell ?? "-",
                        job["last_execution"]?["state"]?.cell ?? "-", job["source"]?.cell ?? "-",
                        job["paused"]?.cell ?? "-",
                    ]
                })
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one job.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The job's id.") var id: String

        func run() throws {
            let reply = try call(try options.client(), "GET", "/api/v1/jobs/\(percentEncoded(id))")
            if options.json { return printRaw(reply) }
            printObject(reply.json?.objectPairs.map { .object($0.filter { $0.0 != "dependencies" }) })
            printDependencies(reply.json)
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a job now; prints the execution id (with --follow, its output, and exits with its status).")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The job's id.") var id: String
        @Flag(help: "Run even if the job is running and its overlap policy forbids another run.") var force = false
        @Flag(help: "Stream the run's output until it ends; exit with its exit status.") var follow = false
        @Option(
            help: ArgumentHelp(
                "Run at most once for this key: a retry with the same key (within 24 h) prints the same execution.",
                discussion: "Sent as the Idempotency-Key header; 1 to 200 characters, no control characters.",
                valueName: "key"))
        var idempotencyKey: String?

        func validate() throws {
            if let key = idempotencyKey {
                guard !key.isEmpty, key.count <= 200,
                    !key.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
                else {
                    throw ValidationError("--idempotency-key: 1 to 200 characters, none of them a control character")
                }
            }
        }

        func run() throws {
            let client = try options.client()
            let reply = try call(
                client, "POST", "/api/v1/executions/\(percentEncoded(id))" + (force ? "?force=true" : ""),
                headers: idempotencyKey.map { [("Idempotency-Key", $0)] } ?? [])
            if options.json && !follow { return printRaw(reply) }
            guard let execution = reply.json?["execution_id"]?.stringValue else { throw ExitCode(1) }
            guard follow else { return print(execution) }
            FileHandle.standardError.write(Data("tock: execution \(execution)\n".utf8))
            try followOutput(client, execution)
        }
    }

    struct Pause: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pause a job: its instants pass without running.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The job's id.") var id: String
        func run() throws {
            let reply = try call(try options.client(), "POST", "/api/v1/jobs/\(percentEncoded(id))/pause")
            if options.json { return printRaw(reply) }
            print("paused \(id)" + (reply.json?["changed"] == .bool(false) ? " (it already was)" : ""))
        }
    }

    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused job from its next instant.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The job's id.") var id: String
        func run() throws {
            let reply = try call(try options.client(), "POST", "/api/v1/jobs/\(percentEncoded(id))/resume")
            if options.json { return printRaw(reply) }
            print("resumed \(id)" + (reply.json?["changed"] == .bool(false) ? " (it was not paused)" : ""))
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a job created through the API (its history stays; file jobs: edit the file).")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The job's id.") var id: String
        func run() throws {
            let reply = try call(try options.client(), "DELETE", "/api/v1/jobs/\(percentEncoded(id))")
            if options.json { return printRaw(reply) }
            print("deleted \(id)")
        }
    }
}

/// `tock executions …`: a running server's executions over its REST API.
struct ExecutionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "executions", abstract: "List, show, stop executions and print their output.",
        subcommands: [List.self, Show.self, Output.self, Stop.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List executions, newest first.")
        @OptionGroup var options: ServerOptions
        @Option(help: "Only this job's.") var job: String?
        @Option(help: "Only in this state (succeeded, failed, running, …).") var state: String?
        @Option(help: "Scheduled at or after this ISO 8601 time (default: the last 10 minutes, or all of a job's).")
        var since: String?
        @Option(help: "At most this many.") var limit: Int = 50

        func run() throws {
            var parameters = ["limit=\(limit)"]
            if let job { parameters.append("job_id=\(percentEncoded(job))") }
            if let state { parameters.append("state=\(percentEncoded(state))") }
            if let since { parameters.append("time_range_start=\(percentEncoded(since))") }
            let reply = try call(try options.client(), "GET", "/api/v1/executions?" + parameters.joined(separator: "&"))
            if options.json { return printRaw(reply) }
            guard case .array(let executions)? = reply.json?["executions"] else { throw ExitCode(1) }
            printTable(
                ["ID", "JOB", "STATE", "SCHEDULED", "DURATION", "EXIT", "TRIGGER"],
                executions.map { e in
                    [
                        e["execution_id"]?.cell ?? "-", e["job_id"]?.cell ?? "-", e["state"]?.cell ?? "-",
                        e["scheduled_time"]?.cell ?? "-",
                        e["duration"].map { $0 == .null ? "-" : $0.cell + "s" } ?? "-",
                        e["exit_code"]?.cell ?? (e["signal"].map { "signal " + $0.cell } ?? "-"),
                        e["trigger"]?.cell ?? "-",
                    ]
                })
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one execution.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The execution's id.") var id: String
        func run() throws {
            let reply = try call(try options.client(), "GET", "/api/v1/executions/\(percentEncoded(id))")
            if options.json { return printRaw(reply) }
            printObject(reply.json)
        }
    }

    struct Output: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print an execution's output (with --follow, live until it ends).")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The execution's id.") var id: String
        @Option(help: "stdout or stderr (default stdout; --follow: both).") var stream: String?
        @Flag(help: "Follow a running execution's output to its end; exit with its exit status.") var follow = false

        func run() throws {
            let client = try options.client()
            if follow { return try followOutput(client, id, stream: stream) }
            let reply = try call(
                client, "GET", "/api/v1/executions/\(percentEncoded(id))/output?stream=\(stream ?? "stdout")")
            FileHandle.standardOutput.write(Data(reply.body))
        }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop a running execution (SIGTERM to its process group, SIGKILL after kill_grace).")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The execution's id.") var id: String
        func run() throws {
            let reply = try call(try options.client(), "DELETE", "/api/v1/executions/\(percentEncoded(id))")
            if options.json { return printRaw(reply) }
            print("stopping \(id)")
        }
    }
}

func printRaw(_ reply: APIClient.Reply) {
    FileHandle.standardOutput.write(Data(reply.body))
    if reply.body.last != UInt8(ascii: "\n") { print() }
}

/// `key: value` lines of a JSON object, nested objects indented.
func printObject(_ value: JSONValue?, indent: String = "") {
    guard let pairs = value?.objectPairs else { return }
    for (key, item) in pairs {
        if case .object(let inner) = item, !inner.isEmpty {
            print("\(indent)\(key):")
            printObject(item, indent: indent + "  ")
        } else {
            print("\(indent)\(key): \(item.cell)")
        }
    }
}

/// Follows an execution's server-sent events: output to stdout/stderr as it comes, then exits with the run's
/// status (its exit code, 128 + signal, or 1 for other failures).
func followOutput(_ client: APIClient, _ id: String, stream: String? = nil) throws {
    var pending: [UInt8] = []
    var event = ""
    var final: JSONValue?
    let path = "/api/v1/executions/\(percentEncoded(id))/output" + (stream.map { "?stream=\($0)" } ?? "")
    let result: (status: Int, headers: [String: String])
    do {
        result = try client.stream("GET", path, accept: "text/event-stream") { bytes in
            pending += bytes
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeFirst(newline + 1)
                if line.hasPrefix("event: ") {
                    event = String(line.dropFirst(7))
                } else if line.hasPrefix("data: "), let data = try? JSONValue.parse(Array(line.dropFirst(6).utf8)) {
                    if event == "output", let text = data["text"]?.stringValue {
                        let handle =
                            data["stream"]?.stringValue == "stderr" ? FileHandle.standardError : .standardOutput
                        handle.write(Data(text.utf8))
                    } else if event == "end" {
                        final = data
                    }
                }
            }
        }
    } catch {
        FileHandle.standardError.write(Data("tock: \(error.description)\n".utf8))
        throw ExitCode(2)
    }
    guard result.status == 200 else {
        FileHandle.standardError.write(Data("tock: HTTP \(result.status) for execution \(id)\n".utf8))
        throw ExitCode(1)
    }
    guard let final else { throw ExitCode(1) }
    let state = final["state"]?.stringValue ?? "?"
    FileHandle.standardError.write(Data("tock: execution \(id) \(state)\n".utf8))
    if case .int(let code)? = final["exit_code"] { throw ExitCode(Int32(truncatingIfNeeded: code)) }
    if case .int(let signal)? = final["signal"] { throw ExitCode(Int32(truncatingIfNeeded: 128 + signal)) }
    throw ExitCode(state == "succeeded" ? 0 : 1)
}

import ArgumentParser
import Foundation
import TockClient
import TockJSON

/// `tock notifications`: the delivery log of a running server, and retrying a delivery.
struct NotificationsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notifications", abstract: "Notifications sent (or being sent) by a running server.",
        subcommands: [List.self, Retry.self, Test.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List deliveries, newest first.")
        @OptionGroup var options: ServerOptions
        @Option(help: "Only this job's.") var job: String?
        @Option(help: "Only this execution's.") var execution: String?
        @Option(help: "Only in this state (pending, delivering, delivered, failed, abandoned).") var state: String?
        @Option(help: "At most this many.") var limit: Int = 50

        func run() throws {
            var parameters = ["limit=\(limit)"]
            if let job { parameters.append("job_id=\(percentEncoded(job))") }
            if let execution { parameters.append("execution_id=\(percentEncoded(execution))") }
            if let state { parameters.append("state=\(percentEncoded(state))") }
            let reply = try call(
                try options.client(), "GET", "/api/v1/notifications?" + parameters.joined(separator: "&"))
            if options.json { return printRaw(reply) }
            guard case .array(let deliveries)? = reply.json?["notifications"] else { throw ExitCode(1) }
            printTable(
                ["ID", "EVENT", "JOB", "CHANNEL", "TARGET", "STATE", "ATTEMPTS", "LAST"],
                deliveries.map { d in
                    [
                        d["notification_id"]?.cell ?? "-", d["event_type"]?.cell ?? "-", d["job_id"]?.cell ?? "-",
                        d["channel"]?.cell ?? "-", d["target"]?.cell ?? "-", d["state"]?.cell ?? "-",
                        d["attempts"]?.cell ?? "-",
                        d["last_error"].flatMap { $0 == .null ? nil : $0.cell }
                            ?? d["last_status"].flatMap { $0 == .null ? nil : $0.cell } ?? "-",
                    ]
                })
        }
    }

    struct Retry: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Try a delivery again now.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The delivery's id (notification_id).") var id: String

        func run() throws {
            let reply = try call(
                try options.client(), "POST", "/api/v1/notifications/\(percentEncoded(id))/retry")
            if options.json { return printRaw(reply) }
            print("retrying \(id)")
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a test event to a notifier of the server configuration.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The notifier's name ([notifier.NAME]).") var name: String

        func run() throws {
            let reply = try call(try options.client(), "POST", "/api/v1/notifiers/\(percentEncoded(name))/test")
            if options.json { return printRaw(reply) }
            print("queued \(reply.json?["event_id"]?.cell ?? "a test event") for \(name)")
        }
    }
}

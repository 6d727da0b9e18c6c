// An example of Tock as a library: a daemon of your own with a job kind of your own, next to `command` and `exec`.
//
//   swift run DiskCheckExample --jobs-dir Examples/DiskCheck/jobs.d --data-dir /tmp/disk-check-data
//
// A job file then uses the kind:
//
//   [job.root-space]
//   schedule = "*/5 * * * *"
//   kind = "disk-space"
//   args = { path = "/", min_free_percent = "10" }
import Foundation
import Logging
import ServiceLifecycle
import TockApp
import TockCore

/// Fails when a filesystem has less free space than asked.
struct DiskSpaceKind: JobKind {
    let name = "disk-space"

    func run(_ invocation: JobKindInvocation) async -> AttemptOutcome {
        let start = Date()
        let path = invocation.arguments["path"] ?? "/"
        let minimum = Double(invocation.arguments["min_free_percent"] ?? "10") ?? 10
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else {
            invocation.printError("cannot stat \(path): \(String(cString: strerror(errno)))\n")
            return AttemptOutcome(termination: .exited(2), startedAt: start, endedAt: Date())
        }
        let free = Double(stats.f_bavail) / Double(max(stats.f_blocks, 1)) * 100
        invocation.print(String(format: "%@: %.1f%% free (minimum %.1f%%)\n", path, free, minimum))
        return AttemptOutcome(termination: .exited(free >= minimum ? 0 : 1), startedAt: start, endedAt: Date())
    }
}

var configuration = TockConfiguration()
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    switch flag {
    case "--jobs-dir": configuration.jobsDirectory = arguments.popFirst() ?? configuration.jobsDirectory
    case "--data-dir": configuration.dataDirectory = arguments.popFirst() ?? configuration.dataDirectory
    case "--listen": configuration.listen = arguments.popFirst() ?? configuration.listen
    default:
        FileHandle.standardError.write(
            Data("usage: DiskCheckExample [--jobs-dir DIR] [--data-dir DIR] [--listen HOST:PORT]\n".utf8))
        exit(2)
    }
}
LoggingSystem.bootstrap(StreamLogHandler.standardError)
let app = try TockApplication.buildServiceGroup(
    configuration: configuration, logger: Logger(label: "disk-check"), kinds: [DiskSpaceKind()])
try await app.serviceGroup.run()

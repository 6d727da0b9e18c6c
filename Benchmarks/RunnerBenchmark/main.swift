// Runs per second of /bin/true through ProcessJobRunner, next to a bare posix_spawn + waitpid loop in the same
// run: the runner's overhead as a ratio. `scripts/bench-runner` runs this and records the table.
import Foundation
import TockCore

let count = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 5_000

/// The physical limit: spawn and reap, nothing else.
func bareLoop(_ n: Int) {
    var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
    defer { free(argv[0]) }
    for _ in 0..<n {
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/true", nil, nil, &argv, environ) == 0 else { fatalError("posix_spawn") }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
}

func seconds(_ body: () async -> Void) async -> Double {
    let start = ContinuousClock.now
    await body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

let runner = ProcessJobRunner()
let request = AttemptRequest(program: .exec(["/bin/true"]), environment: ProcessInfo.processInfo.environment)

var rows: [(String, Double, Double)] = []
for concurrency in [1, 4] {
    // Warm up both paths.
    bareLoop(200)
    for _ in 0..<200 { _ = await runner.run(request) }

    let bare = await seconds {
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask { await Task.detached { bareLoop(count / concurrency) }.value }
            }
        }
    }
    let tock = await seconds {
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    for _ in 0..<(count / concurrency) {
                        let outcome = await runner.run(request)
                        precondition(outcome.state == .succeeded, "\(outcome.termination)")
                    }
                }
            }
        }
    }
    rows.append(("\(concurrency) at a time", Double(count) / bare, Double(count) / tock))
}

print(
    "| runs of `/bin/true` (\(count) each) | bare posix_spawn + waitpid, runs/s | ProcessJobRunner, runs/s | runner time ÷ bare time |"
)
print("|---|---:|---:|---:|")
for (label, bare, tock) in rows {
    print(
        "| \(label) | \(Int(bare).formatted()) | \(Int(tock).formatted()) | \(String(format: "%.2f", bare / tock))× |")
}

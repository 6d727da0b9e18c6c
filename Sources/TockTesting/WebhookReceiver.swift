import Foundation

/// `scripts/webhook-receiver` running: a Standard Webhooks receiver in Python, independent of Tock's code, that
/// checks each request's signature itself and answers a programmed list of statuses.
public final class WebhookReceiver: @unchecked Sendable {
    // @unchecked: the process is started in `init` and only signalled afterwards; the log is a file.
    let process = Process()
    public let log: URL
    public let port: Int

    /// - Parameters:
    ///   - statuses: the status of the 1st, 2nd, … request (the last one repeats).
    ///   - port: 0 for any free port.
    ///   - secret: `whsec_…` the signatures are checked with.
    public init(statuses: [Int], directory: URL, port: Int = 0, secret: String) throws {
        log = directory.appendingPathComponent("receiver-\(UUID()).jsonl")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/webhook-receiver")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [
            script.path, secret, statuses.map(String.init).joined(separator: ","), log.path, String(port),
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        // The first line of its output is the port it listens on.
        var line: [UInt8] = []
        while true {
            let byte = pipe.fileHandleForReading.readData(ofLength: 1)
            guard let first = byte.first, first != 0x0A else { break }
            line.append(first)
        }
        self.port = Int(String(decoding: line, as: UTF8.self)) ?? -1
    }

    public var url: String { "http://127.0.0.1:\(port)/hook" }

    /// Every request received, as the receiver logged it (`webhook_id`, `verified`, `body`, `status`, `path`…).
    public var requests: [[String: Any]] {
        guard let text = try? String(contentsOf: log, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    public func stop() {
        // SIGKILL: Foundation's Process hands children the test runner's blocked signal mask, so SIGTERM would
        // wait forever.
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

import Synchronization

/// Output captures written from a custom kind's task.
final class CaptureBox: Sendable {
    private let state: Mutex<(stdout: OutputCapture, stderr: OutputCapture)>
    init(limit: Int) { state = Mutex((OutputCapture(limit: limit), OutputCapture(limit: limit))) }
    func append(_ chunk: OutputChunk) {
        state.withLock { s in
            if chunk.stream == .stdout { s.stdout.append(chunk.bytes) } else { s.stderr.append(chunk.bytes) }
        }
    }
    var stdout: OutputCapture { state.withLock { $0.stdout } }
    var stderr: OutputCapture { state.withLock { $0.stderr } }
}

import Hummingbird
import NIOCore
import Synchronization
import TockCore
import TockJSON

/// Rendered jobs, kept until the scheduler's version moves: a list of a thousand jobs is then one buffer
/// written out. When it moves, only the jobs whose revision changed are rendered again, and one render at a time
/// runs (concurrent requests wait for it instead of repeating it).
final class JobRenderCache: Sendable {
    struct Item: Sendable {
        let job: Job
        let revision: Int
        let paused: Bool
        let failing: Bool
        let health: JobHealth.State
        let bytes: [UInt8]
        /// With `env` values hidden (for callers who are not admins); nil when the job has no `env`.
        let redactedBytes: [UInt8]?

        func bytes(redacted: Bool) -> [UInt8] { redacted ? redactedBytes ?? bytes : bytes }
    }

    struct Snapshot: Sendable {
        let version: Int
        let items: [Item]
        let index: [String: Int]
        /// The whole unfiltered list response.
        let fullList: ByteBuffer
        /// The same with `env` values hidden.
        let fullListRedacted: ByteBuffer
    }

    private struct State {
        var latest: Snapshot?
        var inFlight: (version: Int, task: Task<Snapshot, any Error>)?
    }

    private let state = Mutex(State())

    /// The snapshot of `version`, built by `build` (given the previous snapshot) unless kept or being built.
    func snapshot(
        version: Int, build: @escaping @Sendable (Snapshot?) async throws -> Snapshot
    ) async throws -> Snapshot {
        let task: Task<Snapshot, any Error> = state.withLock { state in
            if let latest = state.latest, latest.version == version {
                return Task { latest }
            }
            if let inFlight = state.inFlight, inFlight.version >= version { return inFlight.task }
            let previous = state.latest
            let task = Task { try await build(previous) }
            state.inFlight = (version, task)
            return task
        }
        let snapshot: Snapshot
        do {
            snapshot = try await task.value
        } catch {
            // A failed build (the store could not be read) must not be handed to later requests.
            state.withLock { state in
                if state.inFlight?.version == version { state.inFlight = nil }
            }
            throw error
        }
        state.withLock { state in
            if snapshot.version >= state.latest?.version ?? Int.min { state.latest = snapshot }
            if state.inFlight?.version == snapshot.version { state.inFlight = nil }
        }
        return snapshot
    }

    func current(version: Int) -> Snapshot? {
        state.withLock { $0.latest?.version == version ? $0.latest : nil }
    }
}

import Foundation
import Testing
import TockCore

/// The live output of running executions: replay, live chunks, the end, and what is kept afterwards.
struct LiveOutputHubTests {
    func record(_ id: String, stdout: String = "", state: ExecutionState = .succeeded) -> ExecutionRecord {
        var e = ExecutionRecord(id: id, jobID: "j", state: state, trigger: .manual, scheduledAt: Date(), host: "h")
        e.stdout = Array(stdout.utf8)
        return e
    }

    @Test func subscriber_getsWhatWasWritten_thenLiveChunks_thenTheEnd() async throws {
        let hub = LiveOutputHub()
        hub.open("e")
        hub.append("e", OutputChunk(stream: .stdout, bytes: Array("one\n".utf8)))
        let events = try #require(hub.subscribe("e"))
        hub.append("e", OutputChunk(stream: .stderr, bytes: Array("two\n".utf8)))
        hub.finish(record("e", stdout: "one\n"))
        var seen: [String] = []
        for await event in events {
            switch event {
            case .output(let chunk):
                seen.append("\(chunk.stream.rawValue):\(String(decoding: chunk.bytes, as: UTF8.self))")
            case .end(let final): seen.append("end:\(final.state.rawValue)")
            case .dropped(let stream, let bytes): seen.append("dropped:\(stream.rawValue):\(bytes)")
            }
        }
        #expect(seen == ["stdout:one\n", "stderr:two\n", "end:succeeded"])
        #expect(hub.subscribe("unknown") == nil)
    }

    @Test func replayKeepsTheTail_upToTheLimit() throws {
        let hub = LiveOutputHub(replayLimit: 1024)
        hub.open("e")
        for n in 0..<3 {
            hub.append("e", OutputChunk(stream: .stdout, bytes: [UInt8](repeating: UInt8(65 + n), count: 1000)))
        }
        let snapshot = try #require(hub.snapshot("e"))
        #expect(snapshot.stdout.count == 1024 && snapshot.stdout.last == 67 && snapshot.stdout.first == 66)
        #expect(hub.isLive("e"))
        // Between the limit and twice it (not trimmed yet), a reader still gets only the limit's worth.
        hub.open("f")
        hub.append("f", OutputChunk(stream: .stderr, bytes: [UInt8](repeating: 1, count: 1000) + [2, 3]))
        hub.append("f", OutputChunk(stream: .stderr, bytes: [UInt8](repeating: 4, count: 500)))
        let partial = try #require(hub.snapshot("f"))
        #expect(partial.stderr.count == 1024 && partial.stderr.last == 4)
    }

    @Test func finishedEntries_dropTheirBuffers_andAreKeptBriefly() throws {
        let hub = LiveOutputHub(keepFinished: 2, keepFinishedFor: 3600)
        for id in ["a", "b", "c"] {
            hub.open(id)
            hub.append(id, OutputChunk(stream: .stdout, bytes: [UInt8](repeating: 0x78, count: 100_000)))
            hub.finish(record(id, stdout: "captured \(id)\n"))
        }
        #expect(hub.entryCount == 2, "only the last two finished are kept")
        #expect(hub.subscribe("a") == nil, "evicted: the store answers")
        // A late subscriber replays the captured output of the record, not the live buffer.
        let kept = try #require(hub.snapshot("c"))
        #expect(String(decoding: kept.stdout, as: UTF8.self) == "captured c\n" && kept.final?.id == "c")
        #expect(!hub.isLive("c"))
        // With no time to keep them, the next finish clears the others.
        let brief = LiveOutputHub(keepFinished: 100, keepFinishedFor: 0)
        for id in ["x", "y"] {
            brief.open(id)
            brief.finish(record(id))
        }
        #expect(brief.entryCount <= 1)
    }
}

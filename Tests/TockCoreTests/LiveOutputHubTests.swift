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

    /// A follower that stops reading while the job writes 64 MiB holds at most its limit, and learns how much it
    /// missed; when it reads again it gets the newest output, then the end.
    @Test func aStalledFollower_holdsAtMostItsLimit_andIsToldWhatItMissed() async throws {
        let hub = LiveOutputHub(followerLimit: 1 << 20)
        hub.open("e")
        let follower = try #require(hub.subscribe("e"))
        let chunk = [UInt8](repeating: 0x61, count: 64 * 1024)
        for _ in 0..<1024 {
            hub.append("e", OutputChunk(stream: .stdout, bytes: chunk))
            #expect(follower.bufferedBytes <= 1 << 20)
        }
        hub.append("e", OutputChunk(stream: .stderr, bytes: Array("last words\n".utf8)))
        hub.finish(record("e", stdout: String(repeating: "x", count: 1000)))
        #expect(hub.snapshot("e")?.stdout.count == 1000, "the run's live buffers are freed at its end")
        var dropped = 0
        var received = 0
        var tail = ""
        var ended: ExecutionRecord?
        for await event in follower {
            switch event {
            case .dropped(let stream, let bytes):
                #expect(stream == .stdout)
                dropped += bytes
            case .output(let chunk):
                if chunk.stream == .stdout {
                    received += chunk.bytes.count
                } else {
                    tail += String(decoding: chunk.bytes, as: UTF8.self)
                }
            case .end(let record): ended = record
            }
        }
        #expect(dropped + received == 64 << 20)
        #expect(received <= 1 << 20 && received > 0)
        #expect(tail == "last words\n")
        #expect(ended?.state == .succeeded && ended?.stdout.isEmpty == true, "the end carries no second copy")
        #expect(follower.bufferedBytes == 0)
    }

    @Test func aFollowerThatGoes_isForgotten_andFreesItsBuffer() async throws {
        let hub = LiveOutputHub(followerLimit: 4096)
        hub.open("e")
        let follower = try #require(hub.subscribe("e"))
        hub.append("e", OutputChunk(stream: .stdout, bytes: [UInt8](repeating: 1, count: 10_000)))
        #expect(follower.bufferedBytes == 4096)
        follower.close()
        #expect(follower.bufferedBytes == 0)
        hub.append("e", OutputChunk(stream: .stdout, bytes: [1, 2, 3]))
        #expect(follower.bufferedBytes == 0, "no longer fed")
        #expect(await follower.next() == nil)
        // A reader waiting for output ends when its task is cancelled (the client went away).
        hub.open("quiet")
        let waiting = try #require(hub.subscribe("quiet"))
        let task = Task { await waiting.next() }
        try await Task.sleep(for: .milliseconds(20))
        task.cancel()
        let result = await task.value
        #expect(result == nil)
    }
}

import CronKit
import Foundation
import Logging
import Testing
import TockJSON
import TockTesting

@testable import TockCore

/// What another node changed in a shared store, applied to a scheduler (``Scheduler/applySharedChanges``): no store
/// write, no audit, the same in-memory effects as the scheduler's own pause, resume, upsert and remove.
@Suite(.timeLimit(.minutes(1)))
struct SchedulerSharedChangesTests {
    typealias H = SchedulerTests.Harness

    static func definition(_ id: String, _ schedule: String, command: String = "true") -> APIJobDefinition {
        APIJobDefinition(id: id, body: .object([("schedule", .string(schedule)), ("command", .string(command))]))
    }

    @Test func aPauseFromAnotherNode_stopsFiring_andAResumeSchedulesFromNow() async throws {
        let h = H([SchedulerTests.job("minutely", "* * * * *")])
        try await h.running {
            #expect(await h.scheduler.nextFireTimes()["minutely"] != nil)
            let changes = await h.scheduler.applySharedChanges(paused: ["minutely": true], apiJobs: [:])
            #expect(changes.paused == ["minutely"])
            #expect(await h.scheduler.status(of: "minutely")?.paused == true)
            #expect(await h.scheduler.status(of: "minutely")?.nextFireTime == nil)
            h.clock.advance(by: 120)
            try await Task.sleep(for: .milliseconds(100))
            #expect(try await h.executions("minutely").isEmpty, "paused: its instants pass")
            // Applying the same state again changes nothing.
            #expect(await h.scheduler.applySharedChanges(paused: ["minutely": true], apiJobs: [:]).isEmpty)
            #expect(
                await h.scheduler.applySharedChanges(paused: ["minutely": false], apiJobs: [:]).resumed == ["minutely"])
            #expect(await h.scheduler.status(of: "minutely")?.paused == false)
            h.clock.advance(by: 60)
            try await eventually("runs again") { try await h.executions("minutely").count == 1 }
            // Nothing was written for the pause: the other node stored it.
            #expect(try await h.store.state(ofJob: "minutely").paused == false)
        }
    }

    @Test func apiJobsFromAnotherNode_areAddedReplacedAndRemoved_butFileJobsAreNot() async throws {
        let h = H([SchedulerTests.job("file-job", "@yearly")])
        try await h.running {
            var changes = await h.scheduler.applySharedChanges(
                paused: [:], apiJobs: ["made-elsewhere": Self.definition("made-elsewhere", "* * * * *")])
            #expect(changes.added == ["made-elsewhere"])
            #expect(await h.scheduler.status(of: "made-elsewhere")?.job.source == .api)
            h.clock.advance(by: 60)
            try await eventually("it runs here") { try await h.executions("made-elsewhere").count == 1 }

            changes = await h.scheduler.applySharedChanges(
                paused: [:], apiJobs: ["made-elsewhere": Self.definition("made-elsewhere", "@hourly")])
            #expect(changes.replaced == ["made-elsewhere"])
            #expect(await h.scheduler.status(of: "made-elsewhere")?.job.schedule == "@hourly")
            // The same definition again: nothing to do.
            #expect(
                await h.scheduler.applySharedChanges(
                    paused: [:], apiJobs: ["made-elsewhere": Self.definition("made-elsewhere", "@hourly")]
                ).isEmpty)

            // An API job of another node with a file job's id: the file's job stays. Deleting "it": nothing.
            changes = await h.scheduler.applySharedChanges(
                paused: [:], apiJobs: ["file-job": Self.definition("file-job", "* * * * *")])
            #expect(changes.isEmpty)
            #expect(await h.scheduler.status(of: "file-job")?.job.source != .api)
            changes = await h.scheduler.applySharedChanges(paused: [:], apiJobs: ["file-job": APIJobDefinition?.none])
            #expect(changes.isEmpty)
            #expect(await h.scheduler.status(of: "file-job") != nil)

            changes = await h.scheduler.applySharedChanges(
                paused: [:], apiJobs: ["made-elsewhere": APIJobDefinition?.none])
            #expect(changes.removed == ["made-elsewhere"])
            #expect(await h.scheduler.status(of: "made-elsewhere") == nil)
        }
    }

    @Test func aFullReconciliation_removesAPIJobsNoLongerStored() async throws {
        let h = H([])
        try await h.running {
            await h.scheduler.applySharedChanges(
                paused: [:], apiJobs: ["a": Self.definition("a", "@daily"), "b": Self.definition("b", "@daily")])
            #expect(await h.scheduler.apiJobIDs() == ["a", "b"])
            // "b" is stored but could not be read: listed as stored, not removed.
            let changes = await h.scheduler.applySharedChanges(
                paused: ["a": true], apiJobs: ["a": Self.definition("a", "@daily")], keepingOnlyAPIJobs: ["a", "b"])
            #expect(changes.paused == ["a"] && changes.removed.isEmpty)
            let gone = await h.scheduler.applySharedChanges(paused: [:], apiJobs: [:], keepingOnlyAPIJobs: ["a"])
            #expect(gone.removed == ["b"])
            #expect(await h.scheduler.apiJobIDs() == ["a"])
        }
    }
}

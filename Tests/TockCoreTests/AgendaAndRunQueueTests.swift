import CronKit
import Foundation
import Testing
import TockJSON

@testable import TockCore

/// The scheduler's two collaborators, synchronously: no clock, no tasks, no store.
struct AgendaAndRunQueueTests {
    static let t0 = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z

    func every(_ seconds: Int64) -> any Schedule { IntervalSchedule(seconds: seconds) }

    @Test func agenda_popsDueEntriesInOrder_andSkipsDroppedOnes() {
        var agenda = Agenda()
        agenda.setSchedule(every(60), of: "minute")
        agenda.setSchedule(every(10), of: "ten")
        #expect(agenda.reschedule("minute", after: Self.t0) == Self.t0.addingTimeInterval(60))
        #expect(agenda.reschedule("ten", after: Self.t0) == Self.t0.addingTimeInterval(10))
        #expect(agenda.earliest == Self.t0.addingTimeInterval(10))
        #expect(agenda.popDue(at: Self.t0.addingTimeInterval(5)) == nil, "nothing due yet")
        let first = agenda.popDue(at: Self.t0.addingTimeInterval(60))
        #expect(first?.jobID == "ten" && first?.date == Self.t0.addingTimeInterval(10))
        // Rescheduling drops the old entry: it is skipped, never fired.
        agenda.reschedule("minute", after: Self.t0.addingTimeInterval(60))
        #expect(agenda.nextFire["minute"] == Self.t0.addingTimeInterval(120))
        #expect(agenda.popDue(at: Self.t0.addingTimeInterval(60)) == nil, "the dropped 00:01 entry is skipped")
        #expect(agenda.popDue(at: Self.t0.addingTimeInterval(120))?.jobID == "minute")
        agenda.remove("minute")
        #expect(agenda.schedule(of: "minute") == nil && agenda.nextFire["minute"] == nil)
        #expect(agenda.reschedule("minute", after: Self.t0) == nil, "no schedule, nothing on the agenda")
    }

    @Test func agenda_aRemovedJobsEntry_neverFiresForTheJobThatTakesItsID() {
        var agenda = Agenda()
        agenda.setSchedule(every(60), of: "j")
        agenda.reschedule("j", after: Self.t0)
        agenda.remove("j")
        agenda.setSchedule(every(600), of: "j")
        #expect(agenda.reschedule("j", after: Self.t0) == Self.t0.addingTimeInterval(600))
        #expect(agenda.popDue(at: Self.t0.addingTimeInterval(60)) == nil, "the removed job's 00:01 entry is stale")
        #expect(agenda.popDue(at: Self.t0.addingTimeInterval(600))?.date == Self.t0.addingTimeInterval(600))
    }

    @Test func agenda_jobsWithTheSameScheduleAndZone_shareOneSchedule() throws {
        var agenda = Agenda()
        let utc = try #require(TimeZone(identifier: "UTC"))
        let paris = try #require(TimeZone(identifier: "Europe/Paris"))
        let fiveMinutes = try ScheduleExpression(parsing: "*/5 * * * *")
        agenda.setSchedule(fiveMinutes, in: utc, of: "a")
        agenda.setSchedule(fiveMinutes, in: utc, of: "b")
        #expect(agenda.distinctSchedules == 1)
        agenda.setSchedule(fiveMinutes, in: paris, of: "c")
        agenda.setSchedule(try ScheduleExpression(parsing: "0 3 * * *"), in: utc, of: "d")
        #expect(agenda.distinctSchedules == 3)
        #expect(agenda.reschedule("b", after: Self.t0) == Self.t0.addingTimeInterval(300))
        // 03:00 in UTC; Paris is UTC+1 in January, so its */5 instants fall on the same minutes.
        #expect(agenda.reschedule("d", after: Self.t0) == Self.t0.addingTimeInterval(3 * 3600))
        #expect(agenda.nextFire == ["b": Self.t0.addingTimeInterval(300), "d": Self.t0.addingTimeInterval(3 * 3600)])
    }

    func run(_ jobID: String, _ id: String) -> PendingRun {
        PendingRun(
            job: Job(id: jobID, schedule: .every(seconds: 60), action: .exec(["true"])),
            record: ExecutionRecord(
                id: id, jobID: jobID, state: .scheduled, trigger: .schedule, scheduledAt: Self.t0, host: "h"),
            control: RunControl())
    }

    @Test func runQueue_admitsUpToTheLimit_inOneTurn() {
        var queue = RunQueue(maxConcurrentRuns: 3)
        var waited: [String] = []
        for n in 0..<5 {
            let pending = run("j\(n)", "e\(n)")
            if queue.hasFreeSlot {
                queue.start(pending)
            } else {
                queue.waitForSlot(pending); waited.append(pending.record.id)
            }
        }
        #expect(queue.takeStartable().map(\.record.id) == ["e0", "e1", "e2"], "three slots, three starts")
        #expect(waited == ["e3", "e4"])
        #expect(queue.nextWaitingForSlot() == nil, "no slot until a run ends")
        #expect(queue.finish("e1", jobID: "j1") == nil)
        #expect(queue.nextWaitingForSlot()?.record.id == "e3")
        #expect(queue.runningIDs(of: "j0") == ["e0"] && queue.runningIDs(of: "j1").isEmpty)
    }

    @Test func runQueue_queuedBehindAJob_startsWhenItsRunEnds_andPendingRunsCanBeRemoved() {
        var queue = RunQueue(maxConcurrentRuns: 10)
        queue.start(run("j", "first"))
        queue.queueBehindJob(run("j", "second"))
        var delayed = run("k", "later")
        delayed.startAt = Self.t0.addingTimeInterval(30)
        queue.delay(delayed)
        #expect(queue.isWaiting("k") && !queue.isWaiting("j"))
        #expect(queue.nextDelayedStart == Self.t0.addingTimeInterval(30))
        #expect(queue.takeDelayed(dueAt: Self.t0.addingTimeInterval(29)).isEmpty)
        #expect(queue.takeDelayed(dueAt: Self.t0.addingTimeInterval(30)).map(\.record.id) == ["later"])
        #expect(queue.finish("first", jobID: "j")?.record.id == "second")
        queue.queueBehindJob(run("j", "third"))
        #expect(queue.removePending("third").map(\.record.id) == ["third"])
        queue.waitForSlot(run("m", "waiting"))
        #expect(queue.drainNotStarted().map(\.record.id) == ["waiting", "first"])
        #expect(queue.startable.isEmpty && !queue.isWaiting("m"))
    }
}

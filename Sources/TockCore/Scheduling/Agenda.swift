import CronKit
import Foundation

/// The scheduler's agenda: every scheduled job's next instant, earliest first, and the schedules they come from.
///
/// Entries are dropped lazily: each job has a generation, and an entry of an older generation is skipped when it
/// reaches the top. A plain value — tested synchronously, without a clock or tasks.
struct Agenda {
    /// One job's place on the agenda: 24 bytes (a dictionary bucket of 40 with its key; 80 with the schedule as an
    /// existential and the instant as a `Date?`: 21 MB at 100,000 jobs).
    private struct Slot {
        var schedule: ScheduleRef?
        /// Heap entries of another generation are stale.
        var generation = 0
        /// The job's next instant in seconds since 1970 (kept beside the heap so that reading it costs no heap
        /// walk); NaN when it has none.
        var nextSeconds = Double.nan

        var next: Date? {
            get { nextSeconds.isNaN ? nil : Date(timeIntervalSince1970: nextSeconds) }
            set { nextSeconds = newValue?.timeIntervalSince1970 ?? .nan }
        }
    }

    /// A schedule, shared by reference by the jobs that have it.
    private final class ScheduleRef {
        let schedule: any Schedule
        init(_ schedule: any Schedule) { self.schedule = schedule }
    }

    /// What a schedule is made of: jobs with the same expression in the same zone share one schedule value.
    private struct ScheduleKey: Hashable {
        let expression: ScheduleExpression
        let zone: String
    }

    private var heap = FireQueue()
    /// Generations are numbered across all jobs: an entry left from a removed job never matches its successor.
    private var lastGeneration = 0
    /// One dictionary for everything per job (three, at 100,000 jobs, were 13 MB more and three hash lookups).
    private var slots: [String: Slot] = [:]
    /// Schedules made so far, shared by the jobs that have the same one (a cron schedule is ~130 bytes of heap).
    private var made: [ScheduleKey: ScheduleRef] = [:]

    /// How many distinct schedule values the jobs share.
    var distinctSchedules: Int { made.count }

    /// Entries in the heap, current or not.
    var count: Int { heap.count }

    /// The earliest entry's instant (it may belong to a dropped entry: waking for it costs one empty turn).
    var earliest: Date? { heap.first?.date }

    func schedule(of jobID: String) -> (any Schedule)? { slots[jobID]?.schedule?.schedule }

    /// The job's next instant, if it is on the agenda.
    func nextFire(of jobID: String) -> Date? { slots[jobID]?.next }

    /// Every job's next instant.
    var nextFire: [String: Date] { slots.compactMapValues(\.next) }

    /// Sets (or, with `nil`, clears) a job's schedule; its entry is dropped.
    mutating func setSchedule(_ schedule: (any Schedule)?, of jobID: String) {
        setSchedule(schedule.map(ScheduleRef.init), of: jobID)
    }

    private mutating func setSchedule(_ schedule: ScheduleRef?, of jobID: String) {
        slots[jobID, default: Slot()].schedule = schedule
        drop(jobID)
    }

    /// Sets a job's schedule from its expression in `zone` (shared with other jobs of the same schedule).
    mutating func setSchedule(_ expression: ScheduleExpression, in zone: TimeZone, of jobID: String) {
        let key = ScheduleKey(expression: expression, zone: zone.identifier)
        if let schedule = made[key] {
            setSchedule(schedule, of: jobID)
            return
        }
        let schedule = expression.schedule(in: zone).map(ScheduleRef.init)
        // Bounded: a catalog that keeps changing its schedules does not keep every one it ever had.
        if made.count >= 65_536 { made.removeAll(keepingCapacity: true) }
        made[key] = schedule
        setSchedule(schedule, of: jobID)
    }

    /// Forgets a job.
    mutating func remove(_ jobID: String) {
        slots[jobID] = nil
    }

    /// Drops the job's entry (a new generation; the heap skips the old entry when it surfaces).
    mutating func drop(_ jobID: String) {
        lastGeneration += 1
        let generation = lastGeneration
        modify(jobID) { slot in
            slot.generation = generation
            slot.next = nil
        }
    }

    /// Puts an instant on the agenda under the job's current generation.
    mutating func push(_ jobID: String, _ date: Date) {
        var generation = 0
        modify(jobID) { slot in
            slot.next = date
            generation = slot.generation
        }
        heap.push(.init(date: date, jobID: jobID, generation: generation))
    }

    private mutating func modify(_ jobID: String, _ change: (inout Slot) -> Void) {
        change(&slots[jobID, default: Slot()])
    }

    private func generation(_ jobID: String) -> Int { slots[jobID]?.generation ?? -1 }

    /// Drops the job's entry and puts its first instant after `date`; returns it (`nil`: never again).
    @discardableResult
    mutating func reschedule(_ jobID: String, after date: Date) -> Date? {
        lastGeneration += 1
        let generation = lastGeneration
        var next: Date?
        modify(jobID) { slot in
            slot.generation = generation
            slot.next = slot.schedule?.schedule.nextFireDate(after: date)
            next = slot.next
        }
        guard let next else { return nil }
        heap.push(.init(date: next, jobID: jobID, generation: generation))
        return next
    }

    /// The current entries due at or before `date`, earliest first, left on the agenda.
    func upcoming(through date: Date) -> [(jobID: String, date: Date)] {
        heap.entries(through: date).filter { generation($0.jobID) == $0.generation }
            .sorted { ($0.date, $0.jobID) < ($1.date, $1.jobID) }.map { ($0.jobID, $0.date) }
    }

    /// Takes the earliest current entry due at `now` off the agenda (stale entries on the way are discarded).
    mutating func popDue(at now: Date) -> (jobID: String, date: Date)? {
        while let top = heap.first, top.date <= now {
            _ = heap.pop()
            if generation(top.jobID) == top.generation { return (top.jobID, top.date) }
        }
        return nil
    }
}

import CronKit
import Foundation

/// The scheduler's agenda: every scheduled job's next instant, earliest first, and the schedules they come from.
///
/// Entries are dropped lazily: each job has a generation, and an entry of an older generation is skipped when it
/// reaches the top. A plain value — tested synchronously, without a clock or tasks.
struct Agenda {
    private var heap = FireQueue()
    private var generations: [String: Int] = [:]
    private var schedules: [String: any Schedule] = [:]
    /// Each job's next instant (kept beside the heap so that reading it costs no heap walk).
    private(set) var nextFire: [String: Date] = [:]

    /// Entries in the heap, current or not.
    var count: Int { heap.count }

    /// The earliest entry's instant (it may belong to a dropped entry: waking for it costs one empty turn).
    var earliest: Date? { heap.first?.date }

    func schedule(of jobID: String) -> (any Schedule)? { schedules[jobID] }

    /// Sets (or, with `nil`, clears) a job's schedule; its entry is dropped.
    mutating func setSchedule(_ schedule: (any Schedule)?, of jobID: String) {
        drop(jobID)
        schedules[jobID] = schedule
    }

    /// Forgets a job.
    mutating func remove(_ jobID: String) {
        setSchedule(nil, of: jobID)
        generations[jobID] = nil
    }

    /// Drops the job's entry (a new generation; the heap skips the old entry when it surfaces).
    mutating func drop(_ jobID: String) {
        generations[jobID, default: 0] += 1
        nextFire[jobID] = nil
    }

    /// Puts an instant on the agenda under the job's current generation.
    mutating func push(_ jobID: String, _ date: Date) {
        heap.push(.init(date: date, jobID: jobID, generation: generations[jobID, default: 0]))
        nextFire[jobID] = date
    }

    /// Drops the job's entry and puts its first instant after `date`; returns it (`nil`: never again).
    @discardableResult
    mutating func reschedule(_ jobID: String, after date: Date) -> Date? {
        drop(jobID)
        guard let next = schedules[jobID]?.nextFireDate(after: date) else { return nil }
        push(jobID, next)
        return next
    }

    /// The current entries due at or before `date`, earliest first, left on the agenda.
    func upcoming(through date: Date) -> [(jobID: String, date: Date)] {
        heap.entries(through: date).filter { generations[$0.jobID, default: 0] == $0.generation }
            .sorted { ($0.date, $0.jobID) < ($1.date, $1.jobID) }.map { ($0.jobID, $0.date) }
    }

    /// Takes the earliest current entry due at `now` off the agenda (stale entries on the way are discarded).
    mutating func popDue(at now: Date) -> (jobID: String, date: Date)? {
        while let top = heap.first, top.date <= now {
            _ = heap.pop()
            if generations[top.jobID, default: 0] == top.generation { return (top.jobID, top.date) }
        }
        return nil
    }
}

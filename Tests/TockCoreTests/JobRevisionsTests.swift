import Testing

@testable import TockCore

/// What readers of jobs are told: per-job revisions, the log of notes, and start-up's one note for all jobs.
struct JobRevisionsTests {
    @Test func notes_moveTheJobsRevision_andAreLogged() throws {
        let revisions = JobRevisions()
        let start = revisions.noteVersion
        revisions.noteChanged("a")
        revisions.noteChanged("b")
        revisions.noteChanged("a")
        #expect(revisions.revisions(of: ["a", "b", "c"]) == [2, 1, 0])
        let changes = try #require(revisions.notedChanges(since: start))
        #expect(changes.ids == ["a", "b"] && changes.version == start + 3)
        #expect(revisions.notedChanges(since: changes.version)?.ids == [])
        #expect(revisions.notedChanges(since: changes.version + 1) == nil, "a version not reached yet")
    }

    /// Start-up: every job's next instant moves (one note for all at the end, not 100,000), while what else moves
    /// meanwhile (a run started, an instant recorded missed) is still logged — readers of the log (the job lists'
    /// health) go on from where they were instead of reading every job again.
    @Test func suspendedNotes_thenEverythingChanged_movesEveryRevision_andKeepsTheLog() throws {
        let revisions = JobRevisions()
        revisions.noteChanged("a")
        let before = revisions.revisions(of: ["a", "b", "c"])
        let seen = revisions.noteVersion
        let version = revisions.version
        revisions.suspendNotes()
        revisions.noteChanged("b", onlyNextInstant: true)
        revisions.noteChanged("c")
        #expect(revisions.revisions(of: ["a", "b", "c"]) == before, "not kept one by one while suspended")
        revisions.everythingChanged()
        let after = revisions.revisions(of: ["a", "b", "c"])
        #expect(zip(after, before).allSatisfy { $0 > $1 })
        let changes = try #require(revisions.notedChanges(since: seen), "a reader of the log goes on")
        #expect(changes.ids == ["c"], "the run noted meanwhile, not the next instants")
        #expect(revisions.version > version)
        revisions.noteChanged("b", onlyNextInstant: true)
        #expect(revisions.notedChanges(since: changes.version)?.ids == ["b"], "every note is kept again")
        #expect(revisions.revisions(of: ["b"]) == [after[1] + 1])
    }

    @Test func theLog_keepsTheNewestWhenFull() {
        var log = ChangeLog()
        for n in 0..<(ChangeLog.capacity + 1) { log.append("j\(n)") }
        #expect(log.changes(since: 0) == nil)
        #expect(log.changes(since: log.end - 2)?.ids == ["j\(ChangeLog.capacity - 1)", "j\(ChangeLog.capacity)"])
    }
}

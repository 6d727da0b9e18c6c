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

    @Test func suspendedNotes_thenEverythingChanged_movesEveryRevision_andRestartsReaders() {
        let revisions = JobRevisions()
        revisions.noteChanged("a")
        let before = revisions.revisions(of: ["a", "b"])
        let seen = revisions.noteVersion
        let version = revisions.version
        revisions.suspendNotes()
        revisions.noteChanged("b")
        #expect(revisions.revisions(of: ["a", "b"]) == before, "not kept one by one while suspended")
        revisions.everythingChanged()
        let after = revisions.revisions(of: ["a", "b"])
        #expect(after[0] > before[0] && after[1] > before[1])
        #expect(revisions.notedChanges(since: seen) == nil, "a reader of the log starts again")
        #expect(revisions.version > version)
        revisions.noteChanged("a")
        #expect(revisions.notedChanges(since: revisions.noteVersion - 1)?.ids == ["a"], "notes are kept again")
    }

    @Test func theLog_keepsTheNewestWhenFull() {
        var log = ChangeLog()
        for n in 0..<(ChangeLog.capacity + 1) { log.append("j\(n)") }
        #expect(log.changes(since: 0) == nil)
        #expect(log.changes(since: log.end - 2)?.ids == ["j\(ChangeLog.capacity - 1)", "j\(ChangeLog.capacity)"])
    }
}

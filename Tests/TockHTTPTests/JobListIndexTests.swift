import CronKit
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import Synchronization
import Testing
import TockJSON
import TockSQLite
import TockTesting

@testable import TockCore
@testable import TockHTTP

/// The job lists' index is patched with the jobs that changed (issue 18): after adds, changes, deletes, pauses and
/// resumes it equals an index built from every job, and tag pages come from its per-tag ids.
@Suite struct JobListIndexTests {
    let h: APIHarness

    init() throws { h = try APIHarness() }

    /// What an index says of the jobs, comparable.
    static func summary(_ index: JobRenderCache.Index) -> [String] {
        index.entries.map { entry in
            "\(entry.id) tags=\(entry.tags) enabled=\(entry.enabled) paused=\(entry.paused) blocked=\(entry.blocked) "
                + "after=\(entry.dependent) streak=\(entry.alertAfterFailures ?? 0) "
                + "text=\(index.searchText(of: entry))"
        } + [
            "active=\(index.active) paused=\(index.paused) dependents=\(index.dependents)",
            "tagged=\(index.tagged.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" })",
        ]
    }

    @Test func patchedIndex_equalsARebuiltOne() async throws {
        let h = self.h
        try await h.test { client in
            for n in 0..<20 {
                _ = try await client.create(
                    #"{"job_id": "j\#(n)", "schedule": "@daily", "command": "echo \#(n)", "tags": ["t\#(n % 3)", "all"]}"#
                )
            }
            let controller = JobsController<TockRequestContext>(api: h.api)
            let first = try await controller.index()
            #expect(first.entries.count == 21)
            var steps: [(String, () async throws -> Void)] = []
            steps.append(
                (
                    "add",
                    {
                        _ = try await client.create(
                            #"{"job_id": "a0", "schedule": "@hourly", "command": "true", "tags": ["t1"]}"#)
                    }
                ))
            steps.append(("pause", { _ = try await client.send(.post, "/api/v1/jobs/j3/pause") }))
            steps.append(("pause upstream", { _ = try await client.send(.post, "/api/v1/jobs/j4/pause") }))
            steps.append(
                (
                    "add dependent",
                    { _ = try await client.create(#"{"job_id": "z-down", "after": ["j4"], "command": "true"}"#) }
                ))
            steps.append(("resume upstream", { _ = try await client.send(.post, "/api/v1/jobs/j4/resume") }))
            steps.append(
                (
                    "replace",
                    {
                        _ = try await client.send(
                            .put, "/api/v1/jobs/j5",
                            #"{"schedule": "@weekly", "command": "date", "name": "Five", "tags": ["t2", "new"], "enabled": false}"#
                        )
                    }
                ))
            steps.append(("delete", { _ = try await client.send(.delete, "/api/v1/jobs/j6") }))
            steps.append(("delete upstream", { _ = try await client.send(.delete, "/api/v1/jobs/j4") }))
            steps.append(("resume", { _ = try await client.send(.post, "/api/v1/jobs/j3/resume") }))
            for (label, step) in steps {
                try await step()
                let before = h.scheduler.catalogVersion
                let patched = try await controller.index()
                #expect(patched.version >= before, "\(label)")
                #expect(patched.version > first.version)
                // A new cache builds its index from every job.
                let rebuilt = try await JobsController<TockRequestContext>(
                    api: TockAPI(scheduler: h.scheduler, store: h.store)
                ).index()
                #expect(Self.summary(patched) == Self.summary(rebuilt), "\(label)")
            }
            // Tag pages (the per-tag ids) agree with the filter over every job.
            func ids(_ query: String) async throws -> (ids: [String], matching: Int?) {
                let body = try json(try await client.get("/api/v1/jobs\(query)"))
                guard case .array(let jobs)? = body["jobs"] else { return ([], nil) }
                var matching: Int?
                if case .int(let count)? = body["counts"]?["matching"] { matching = count }
                return (jobs.compactMap { $0["job_id"]?.stringValue }, matching)
            }
            let t1 = try await ids("?tag=t1")
            #expect(t1.ids == ["a0", "j1", "j10", "j13", "j16", "j19", "j4", "j7"].filter { $0 != "j4" })
            #expect(t1.matching == t1.ids.count)
            #expect(try await ids("?tag=t1&limit=2&offset=1").ids == ["j1", "j10"])
            #expect(try await ids("?tag=new").ids == ["j5"])
            #expect(try await ids("?tag=t2").ids.contains("j5"))
            #expect(try await ids("?tag=none").ids.isEmpty)
            #expect(try await ids("?tag=t1&q=echo%201").ids == ["j1", "j10", "j13", "j16", "j19"])
        }
    }

    /// What start-up's catch-up records (an instant `missed` while the daemon was down) is a job's newest execution:
    /// the health kept from before the start is patched with it (a failing job whose newest row is now `missed` is no
    /// longer counted failing).
    @Test func healthFromBeforeTheStart_isPatchedWithTheCatchUpsRows() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tock-prepare-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        // Daily at the hour twelve hours from now: its missed instants are never near now (an instant just past
        // would be run late, not recorded missed).
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let hour = (utc.component(.hour, from: Date()) + 12) % 24
        let threeDaysAgo = Date().addingTimeInterval(-3 * 86400)
        let (scheduler, api, store) = try await Self.bootAndIdle(
            directory,
            jobs: """
                [job.daily]
                schedule = "0 \(hour) * * *"
                timezone = "UTC"
                command = "true"
                catchup = "skip"
                """,
            before: { store in
                var failed = ExecutionRecord(
                    jobID: "daily", state: .failed, trigger: .schedule, scheduledAt: threeDaysAgo, host: "test")
                failed.startedAt = threeDaysAgo
                failed.endedAt = threeDaysAgo
                try await store.save(failed)
                try await store.setLastScheduled(["daily": threeDaysAgo])
            })
        let lists = JobsController<TockRequestContext>(api: api)
        let before = try await lists.healthView(try await lists.index())
        #expect(before.state(at: 0) == .failing)
        let loop = Task { try await scheduler.run() }
        defer { loop.cancel() }
        try await eventually("the missed instants recorded") {
            try await store.executions(jobID: "daily", limit: 5).first?.state == .missed
        }
        try await eventually("noted") {
            scheduler.jobsChanged(since: before.noteVersion)?.ids.contains("daily") == true
        }
        let view = try await lists.healthView(try await lists.index())
        #expect(view.state(at: 0) == .ok && !view.isFailing(at: 0))
        #expect(view.madeWhole == before.madeWhole, "patched, not read whole again")
    }

    /// The index start-up's snapshot of the catalog gives (made off the actor, no job copied) is the one made through
    /// the scheduler: the same entries, flags, search bytes and counts.
    @Test func indexOfTheStartSnapshot_equalsOneBuiltThroughTheScheduler() async throws {
        let h = self.h
        try await h.test { client in
            for n in 0..<12 {
                _ = try await client.create(
                    #"{"job_id": "j\#(n)", "schedule": "@daily", "command": "echo \#(n)", "tags": ["t\#(n % 3)"]}"#)
            }
            _ = try await client.create(
                #"{"job_id": "zurich", "name": "Zürich", "schedule": "@daily", "command": "true"}"#)
            _ = try await client.create(#"{"job_id": "z-down", "after": ["nowhere"], "command": "true"}"#)
            _ = try await client.create(#"{"job_id": "z-up", "after": ["j4"], "command": "true"}"#)
            _ = try await client.send(.post, "/api/v1/jobs/j3/pause")
            _ = try await client.send(.post, "/api/v1/jobs/j4/pause")
            let scheduler = h.scheduler
            let snapshot = await scheduler.catalogSnapshot()
            let fromSnapshot = JobRenderCache.Index.built(from: snapshot)
            let (version, ids) = await scheduler.catalogIDs()
            let throughActor = await JobRenderCache.Index.built(version: version, ids: ids.sorted(), previous: nil) {
                await scheduler.catalogEntries(ofIDs: $0)
            }
            #expect(fromSnapshot.version == throughActor.version)
            #expect(Self.summary(fromSnapshot) == Self.summary(throughActor))
            let flags = Dictionary(uniqueKeysWithValues: fromSnapshot.entries.map { ($0.id, $0) })
            #expect(flags["j3"]?.paused == true && flags["j4"]?.paused == true && flags["j5"]?.paused == false)
            #expect(flags["z-down"]?.blocked == true && flags["z-up"]?.blocked == false, "its upstream is unknown")
            #expect(flags["zurich"]?.texts != nil, "not ASCII: searched as Strings")
            #expect(fromSnapshot.entries.map(\.id) == ids.sorted())
        }
    }

    /// Lists read start-up's snapshot of the catalog only while it is the catalog: once a job is paused (the catalog
    /// moves past it), the index is patched through the scheduler, not made from the stale snapshot.
    @Test func theStartSnapshot_servesListsOnlyWhileCurrent() async throws {
        let h = self.h
        try await h.test { client in
            for n in 0..<4 {
                _ = try await client.create(#"{"job_id": "j\#(n)", "schedule": "@daily", "command": "true"}"#)
            }
            let scheduler = h.scheduler
            let snapshot = await scheduler.catalogSnapshot()
            scheduler.startCatalog.withLock { $0 = snapshot }
            defer { scheduler.startCatalog.withLock { $0 = nil } }
            let lists = JobsController<TockRequestContext>(api: h.api)
            let first = try await lists.index()
            #expect(first.version == snapshot.version && first.entries.count == 5)
            _ = try await client.send(.post, "/api/v1/jobs/j2/pause")
            let after = try await lists.index()
            #expect(after.version > snapshot.version)
            #expect(after.entries.first { $0.id == "j2" }?.paused == true, "the pause, not the snapshot's state")
            #expect(after.paused == 1)
        }
    }

    /// A scheduler of a `@reboot` job and a yearly one over a SQLite file, and the API over it.
    static func bootAndIdle(
        _ directory: URL,
        jobs: String = """
        [job.boot]
        schedule = "@reboot"
        command = "true"

        [job.idle]
        schedule = "@yearly"
        command = "true"
        """,
        before: (SQLiteJobStore) async throws -> Void = { _ in }
    ) async throws -> (Scheduler, TockAPI, SQLiteJobStore) {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = try SQLiteJobStore(path: directory.appendingPathComponent("tock.sqlite").path)
        try await before(store)
        let parsed = JobDefinitionReader.parse(jobs, file: "jobs.d/a.toml")
        var logger = Logger(label: "tock-test")
        logger.logLevel = .warning
        let scheduler = Scheduler(jobs: parsed.jobs, store: store, runner: ProcessJobRunner(), logger: logger)
        return (scheduler, TockAPI(scheduler: scheduler, store: store, access: .open()), store)
    }

    /// `prepareJobLists` leaves the index and every job's health kept once the start is over.
    @Test func preparedLists_areKeptAfterTheStart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tock-prepare-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (scheduler, api, store) = try await Self.bootAndIdle(directory)
        #expect(api.cache.health == nil)
        let prepared = Task { await api.prepareJobLists() }
        let loop = Task { try await scheduler.run() }
        defer { loop.cancel() }
        await prepared.value
        let index = try #require(api.cache.keptIndex(version: scheduler.catalogVersion))
        #expect(index.entries.map(\.id) == ["boot", "idle"])
        #expect(api.cache.health?.indexVersion == index.version)
        try await eventually("boot ran") {
            try await store.executions(jobID: "boot", limit: 5).first?.state == .succeeded
        }
        let lists = JobsController<TockRequestContext>(api: api)
        let view = try await lists.healthView(try await lists.index())
        #expect(view.state(at: 0) == .ok && view.state(at: 1) == .new)
    }

    /// Start-up moves every job's next instant without a note each; what else it does (a `@reboot` run) is still
    /// noted, so the health kept from before the start is brought up to date by a patch, not read whole again
    /// (at 100,000 jobs and 10,000,000 executions a whole read is ~100 ms).
    @Test func healthFromBeforeTheStart_isPatchedWithItsRuns() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tock-prepare-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (scheduler, api, store) = try await Self.bootAndIdle(directory)
        let lists = JobsController<TockRequestContext>(api: api)
        let before = try await lists.healthView(try await lists.index())
        #expect(before.state(at: 0) == .new)
        let loop = Task { try await scheduler.run() }
        defer { loop.cancel() }
        try await eventually("boot ran") {
            try await store.executions(jobID: "boot", limit: 5).first?.state == .succeeded
        }
        try await eventually("the run's end noted") {
            scheduler.jobsChanged(since: before.noteVersion)?.ids == ["boot"]
        }
        let view = try await lists.healthView(try await lists.index())
        #expect(view.state(at: 0) == .ok && view.state(at: 1) == .new)
        #expect(view.madeWhole == before.madeWhole, "patched, not read whole again")
    }

    /// What a search looks in is what a job renders: its id, name, description, schedule, `pub_args` and tags; the
    /// search bytes are those lowercased, each ended by a 0 byte.
    @Test(arguments: [
        Job.Action.command("Echo 'Hi'", shell: "/bin/bash"), .exec(["/usr/bin/env", "FOO=1", "Printenv"]),
        .custom(kind: "Report", arguments: ["x": "y"]),
    ])
    func searchTexts_areTheRenderedOnes(action: Job.Action) {
        var job = Job(id: "Nightly-1", schedule: .reboot, action: action)
        job.name = "Nightly Report"
        job.description = "Sends the REPORT"
        job.tags = ["Team-A", "db"]
        let texts = JobRenderCache.Entry.texts(of: job)
        #expect(
            texts == ["Nightly-1", "Nightly Report", "Sends the REPORT", job.schedule] + Render.pubArgs(job) + job.tags)
        var bytes: [UInt8] = [7]
        #expect(JobRenderCache.Entry.appendHaystack(of: job, to: &bytes))
        #expect(bytes == [7] + Array(texts.map { $0.lowercased() + "\0" }.joined().utf8))
        job.description = "Zürich"
        #expect(!JobRenderCache.Entry.appendHaystack(of: job, to: &bytes), "not ASCII")
        #expect(bytes == [7] + Array(texts.map { $0.lowercased() + "\0" }.joined().utf8), "nothing left appended")
    }

    /// The search bytes of all entries live in one buffer: a patch appends the changed jobs' bytes, and the buffer is
    /// compacted once the replaced bytes would outgrow the live ones (it stays bounded however many patches).
    @Test func searchBytes_patchedManyTimes_stayBoundedAndRight() {
        func entry(_ id: String, _ name: String, revision: Int) -> Scheduler.CatalogEntry {
            var job = Job(id: id, schedule: .reboot, action: .command("echo \(id)", shell: "/bin/sh"))
            job.name = name
            job.tags = ["T"]
            return Scheduler.CatalogEntry(job: job, paused: false, blocked: false, revision: revision)
        }
        var bytes: [UInt8] = []
        let entries = [entry("a", "Alpha", revision: 1), entry("b", "Bäckerei", revision: 1)].map {
            JobRenderCache.Entry($0, reusing: nil, from: [], into: &bytes)
        }
        var index = JobRenderCache.Index(version: 1, entries: entries, haystacks: bytes)
        func expected(_ name: String) -> String {
            var own: [UInt8] = []
            _ = JobRenderCache.Entry.appendHaystack(of: entry("a", name, revision: 0).job, to: &own)
            return String(decoding: own, as: UTF8.self)
        }
        #expect(index.searchText(of: index.entries[0]) == expected("Alpha"))
        #expect(expected("Alpha").contains("\0alpha\0") && expected("Alpha").contains("\0echo a\0t\0"))
        #expect(index.entries[1].texts != nil && index.entries[1].haystack.isEmpty, "not ASCII: searched as Strings")
        var largest = 0
        for n in 2...4000 {
            index = index.patched(version: n, changed: ["a"], statuses: [entry("a", "Alpha \(n)", revision: n)])
            largest = max(largest, index.haystacks.count)
        }
        #expect(index.searchText(of: index.entries[0]) == expected("Alpha 4000"))
        #expect(largest < 65536 + 200, "compacted, not grown by every patch (largest \(largest) bytes)")
        #expect(index.haystacks.count < 4000 * 20)
        // A job patched at the same revision keeps its bytes (copied to the end of the buffer), not made again.
        var renamed = entry("a", "Alpha 4000", revision: 4000)
        renamed.job.name = "a name the entry must not take"
        let kept = index.patched(version: 4001, changed: ["a"], statuses: [renamed])
        #expect(kept.searchText(of: kept.entries[0]) == expected("Alpha 4000"))
        #expect(kept.entries[0].haystack != index.entries[0].haystack, "appended, not the old range")
        #expect(kept.searchText(of: kept.entries[1]) == index.searchText(of: index.entries[1]))
    }

    /// A full rebuild (more changes than a patch takes) reuses the previous index's unchanged entries, search bytes
    /// copied from its buffer, and equals a build from nothing.
    @Test func rebuild_reusingAPreviousIndex_equalsABuildFromNothing() async {
        func entry(_ n: Int, revision: Int, name: String? = nil) -> Scheduler.CatalogEntry {
            var job = Job(id: "j\(n)", schedule: .reboot, action: .exec(["echo", "\(n)"]))
            job.name = name ?? "Job \(n)"
            job.tags = n % 3 == 0 ? ["ünï", "t"] : ["t\(n % 2)"]
            if n % 5 == 0 { job.description = "Ünicode \(n)" }
            return Scheduler.CatalogEntry(job: job, paused: n % 7 == 0, blocked: false, revision: revision)
        }
        let first = (0..<50).map { entry($0, revision: 1) }
        let ids = first.map(\.job.id).sorted()
        func lookup(_ all: [Scheduler.CatalogEntry]) -> (ArraySlice<String>) async -> [Scheduler.CatalogEntry] {
            let byID = Dictionary(uniqueKeysWithValues: all.map { ($0.job.id, $0) })
            return { slice in slice.compactMap { byID[$0] } }
        }
        let previous = await JobRenderCache.Index.built(version: 1, ids: ids, previous: nil, entriesOf: lookup(first))
        // Every third job changed (new revision and name), one removed, one added; the rest unchanged.
        var second = (0..<50).filter { $0 != 10 }.map { n in
            n % 3 == 1 ? entry(n, revision: 2, name: "Renamed \(n)") : first[n]
        }
        second.append(entry(99, revision: 2))
        let secondIDs = second.map(\.job.id).sorted()
        let reused = await JobRenderCache.Index.built(
            version: 2, ids: secondIDs, previous: previous, entriesOf: lookup(second))
        let fresh = await JobRenderCache.Index.built(
            version: 2, ids: secondIDs, previous: nil, entriesOf: lookup(second))
        #expect(Self.summary(reused) == Self.summary(fresh))
        #expect(reused.haystacks.count == fresh.haystacks.count, "compacted to the bytes of its entries")
        #expect(reused.entries.contains { reused.searchText(of: $0).contains("renamed 4") })
        #expect(!reused.entries.contains { reused.searchText(of: $0).contains("job 4\u{0}") })
    }
}

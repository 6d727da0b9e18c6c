import Foundation
import Logging
import Testing
import TockJSON
import TockTesting

@testable import TockCore

/// The rules of administering jobs, without HTTP: conflicts, file jobs, deletes while running, and the audit log
/// with the acting user.
@Suite(.timeLimit(.minutes(1)))
struct JobCatalogTests {
    typealias Harness = SchedulerTests.Harness

    static func definition(_ id: String, _ pairs: [(String, JSONValue)]) -> APIJobDefinition {
        APIJobDefinition(id: id, body: .object(pairs))
    }

    static let fileJob = SchedulerTests.job("from-file", "@yearly")

    func catalog(_ h: Harness) -> JobCatalog {
        JobCatalog(scheduler: h.scheduler, store: h.store, defaultTimeZone: "UTC", clock: h.clock)
    }

    @Test func create_conflicts_andInvalidDefinitions() async throws {
        let h = Harness([Self.fileJob])
        let catalog = catalog(h)
        try await h.running {
            let job = try await catalog.create(
                Self.definition("a", [("schedule", "@hourly"), ("command", "echo a")]), user: "alice")
            #expect(job.id == "a" && job.source == .api)
            #expect(try await h.store.apiJobs().map(\.id) == ["a"])
            await #expect(throws: JobCatalog.Failure.idTaken("a")) {
                try await catalog.create(Self.definition("a", [("schedule", "@daily"), ("command", "x")]), user: "bob")
            }
            await #expect(throws: JobCatalog.Failure.idTaken("from-file")) {
                try await catalog.create(
                    Self.definition("from-file", [("schedule", "@daily"), ("command", "x")]), user: "bob")
            }
            do {
                try await catalog.create(Self.definition("b", [("schedule", "nope"), ("comand", "x")]), user: "bob")
                Issue.record("an invalid definition was accepted")
            } catch JobCatalog.Failure.invalid(let problems) {
                #expect(problems.contains { $0.field == "schedule" })
                #expect(problems.contains { $0.field == "comand" && $0.message.contains("did you mean 'command'") })
            }
            #expect(try await h.store.apiJobs().map(\.id) == ["a"], "nothing half-stored")
            let audit = try await h.store.auditLog(limit: 10)
            #expect(audit.map(\.event) == [.added] && audit.first?.user == "alice")
        }
    }

    @Test func replace_recordsTheChangedKeys_andRefusesFileJobs() async throws {
        let h = Harness([Self.fileJob])
        let catalog = catalog(h)
        try await h.running {
            try await catalog.create(
                Self.definition("a", [("schedule", "@hourly"), ("command", "echo a")]), user: "alice")
            let changes = try await catalog.replace(
                Self.definition("a", [("schedule", "@hourly"), ("command", "echo b"), ("timeout", "1h")]),
                user: "bob")
            #expect(changes.map(\.key) == ["command", "timeout"])
            let unchanged = try await catalog.replace(
                Self.definition("a", [("schedule", "@hourly"), ("command", "echo b"), ("timeout", "60m")]),
                user: "bob")
            #expect(unchanged.isEmpty, "the same job written differently is no change")
            await #expect(throws: JobCatalog.Failure.fileManaged(Self.fileJob)) {
                try await catalog.replace(
                    Self.definition("from-file", [("schedule", "@daily"), ("command", "x")]), user: "bob")
            }
            await #expect(throws: JobCatalog.Failure.unknownJob("zz")) {
                try await catalog.replace(Self.definition("zz", [("schedule", "@daily"), ("command", "x")]), user: "b")
            }
            let audit = try await h.store.auditLog(limit: 10)
            #expect(audit.map(\.event) == [.modified, .added])
            #expect(audit.first?.user == "bob")
            #expect(audit.first?.description == "command: \"echo a\" → \"echo b\"\ntimeout: null → \"1h\"")
        }
    }

    @Test func deleteWhileRunning_letsTheRunFinish_andAuditsTheJobAsItWas() async throws {
        let h = Harness([Self.fileJob])
        h.runner.script("a", [.hold])
        let catalog = catalog(h)
        try await h.running {
            try await catalog.create(
                Self.definition("a", [("schedule", "@yearly"), ("command", "sleep 100")]), user: "alice")
            let execution = try await catalog.runNow(jobID: "a", force: false, user: "carol")
            try await eventually("running") { h.runner.calls.count == 1 }
            await #expect(throws: JobCatalog.Failure.alreadyRunning(jobID: "a", executionID: execution)) {
                _ = try await catalog.runNow(jobID: "a", force: false, user: "carol")
            }
            let (job, running) = try await catalog.delete(id: "a", user: "dave")
            #expect(job.id == "a" && running == [execution])
            #expect(try await h.store.apiJobs().isEmpty)
            await #expect(throws: JobCatalog.Failure.fileManaged(Self.fileJob)) {
                _ = try await catalog.delete(id: "from-file", user: "dave")
            }
            h.runner.finish(executionID: execution)
            try await eventually("the run finished") { try await h.store.execution(id: execution)?.state == .succeeded }
            let audit = try await h.store.auditLog(limit: 10)
            #expect(audit.map(\.event) == [.deleted, .customRun, .added])
            #expect(audit.map(\.user) == ["dave", "carol", "alice"])
            let was = try JSONValue.parse(Array(try #require(audit.first).description.utf8))
            #expect(was["command"] == "sleep 100" && was["schedule"] == "@yearly")
        }
    }

    @Test func pauseResumeStop_areAuditedWithTheUser_onlyWhenSomethingChanged() async throws {
        let h = Harness([Self.fileJob])
        h.runner.script("from-file", [.hold])
        let catalog = catalog(h)
        try await h.running {
            #expect(try await catalog.setPaused(true, jobID: "from-file", user: "erin"))
            #expect(try await catalog.setPaused(true, jobID: "from-file", user: "erin") == false)
            #expect(try await catalog.setPaused(false, jobID: "from-file", user: "frank"))
            let execution = try await catalog.runNow(jobID: "from-file", force: false, user: "gina")
            try await eventually("running") { h.runner.calls.count == 1 }
            try await catalog.stop(executionID: execution, user: "hank")
            try await eventually("stopped") { try await h.store.execution(id: execution)?.state == .stopped }
            do {
                try await catalog.stop(executionID: execution, user: "hank")
                Issue.record("stopping a finished run succeeded")
            } catch JobCatalog.Failure.notRunning(let id, let state) {
                #expect(id == execution && state == .stopped)
            }
            await #expect(throws: JobCatalog.Failure.unknownExecution("nope")) {
                try await catalog.stop(executionID: "nope", user: "hank")
            }
            let audit = try await h.store.auditLog(limit: 10)
            #expect(audit.map(\.event) == [.stopped, .customRun, .resumed, .paused])
            #expect(audit.map(\.user) == ["hank", "gina", "frank", "erin"])
        }
    }
}

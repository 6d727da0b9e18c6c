import CronKit
import Foundation
import Testing
import TockJSON

@testable import TockCore

/// `after`, `after_window`, `after_wait` in job files and API bodies; cycles found with their path and line.
struct DependencyDefinitionTests {
    @Test func reader_readsTriggeredAndGatedJobs() throws {
        let text = """
            [job.report]
            after = ["extract", "load"]
            after_window = "12h"
            command = "make report"

            [job.publish]
            schedule = "30 8 * * MON-FRI"
            after = ["report"]
            after_wait = "30m"
            command = "publish"
            """
        let (jobs, errors) = JobDefinitionReader.parse(text, file: "deps.toml")
        #expect(errors.isEmpty)
        let report = try #require(jobs.first { $0.id == "report" })
        #expect(report.isTriggered && report.after == ["extract", "load"] && report.afterWindow == .seconds(12 * 3600))
        #expect(report.afterWait == .zero)
        let publish = try #require(jobs.first { $0.id == "publish" })
        #expect(!publish.isTriggered && publish.after == ["report"] && publish.afterWait == .seconds(1800))
        #expect(publish.afterWindow == .seconds(24 * 3600))
    }

    @Test(arguments: [
        ("schedule = \"@reboot\"\nafter = [\"x\"]", 3, "after: a @reboot job cannot wait for other jobs"),
        ("schedule = \"@daily\"\nafter = [\"a\"]", 3, "after: cycle a → a"),
        ("after = [\"x\", \"x\"]", 2, "after: 'x' is named twice"),
        ("after = [\"no spaces\"]", 2, "after: 'no spaces' is not a job id"),
        ("after = []", 2, "after: must name at least one job"),
        ("after = \"x\"", 2, "after: must be an array of strings"),
        ("after = [\"x\"]\nafter_wait = \"10m\"", 3, "after_wait: applies to a job with a schedule"),
        ("after = [\"x\"]\nafter_window = \"0s\"", 3, "after_window: must be longer than 0s"),
        ("command = \"y\"", 1, "needs 'schedule'"),
    ])
    func reader_refusesBadDependencies(body: String, line: Int, message: String) {
        let text = "[job.a]\n\(body)\ncommand = \"true\"\n"
        let (jobs, errors) = JobDefinitionReader.parse(
            text.replacingOccurrences(of: "command = \"y\"\ncommand = \"true\"", with: "command = \"y\""),
            file: "a.toml")
        #expect(jobs.isEmpty)
        #expect(errors.contains { $0.line == line && $0.message.contains(message) }, "\(errors)")
    }

    @Test func definition_roundTripsThroughTheAPIForm() throws {
        let text = """
            [job.report]
            after = ["extract"]
            command = "make report"
            """
        let job = try #require(JobDefinitionReader.parse(text, file: "r.toml").jobs.first)
        let definition = job.definition(defaultTimeZone: "UTC")
        let values = Dictionary(definition, uniquingKeysWith: { $1 })
        #expect(values["schedule"] == .null)
        #expect(values["after"] == .array(["extract"]))
        #expect(values["after_window"] == "1d" && values["after_wait"] == "0s")
        let api = APIJobDefinition(id: "report", body: .object(definition))
        var back = try api.job()
        back.source = job.source
        back.timezone = nil  // the definition writes the server's zone for a job that names none
        #expect(back == job)
    }

    @Test func graph_findsEveryCycleMemberWithItsPath() {
        let graph = DependencyGraph(upstreams: [
            "backup": ["report"], "report": ["backup", "extract"], "extract": [], "x": ["y"], "y": ["z"], "z": ["x"],
            "self": ["self"], "fine": ["backup"],
        ])
        let cycles = graph.cycles()
        #expect(cycles["backup"] == ["backup", "report", "backup"])
        #expect(cycles["report"] == ["report", "backup", "report"])
        #expect(cycles["x"] == ["x", "y", "z", "x"] && cycles["z"] == ["z", "x", "y", "z"])
        #expect(cycles["self"] == ["self", "self"])
        #expect(cycles["fine"] == nil && cycles["extract"] == nil)
        #expect(graph.downstream()["backup"] == ["fine", "report"])
    }

    @Test func graph_aLongChainIsNoCycleAndNeedsNoDeepStack() throws {
        var edges: [String: [String]] = [:]
        for i in 1..<50_000 { edges["j\(i)"] = ["j\(i - 1)"] }
        #expect(DependencyGraph(upstreams: edges).cycles().isEmpty)
        edges["j0"] = ["j49999"]
        let cycles = DependencyGraph(upstreams: edges).cycles()
        #expect(cycles.count == 50_000)
        // Written with its middle left out, from the member back to it.
        let path = try #require(cycles["j7"])
        #expect(path.first == "j7" && path.last == "j7" && path.contains("… (50000 jobs)"))
        #expect(path.count <= DependencyGraph.longestWrittenCycle + 3)
        #expect(Array(path.prefix(3)) == ["j7", "j6", "j5"] && Array(path.suffix(3)) == ["j9", "j8", "j7"])
    }

    @Test func graph_aLargeComponentStillGivesEachMemberACycleThroughIt() {
        // 100 jobs in a ring plus chords: above the size where each member gets its own search.
        var edges: [String: [String]] = [:]
        for i in 0..<100 { edges["n\(i)"] = ["n\((i + 1) % 100)"] }
        edges["n50"]?.append("n0")
        let cycles = DependencyGraph(upstreams: edges).cycles()
        #expect(cycles.count == 100)
        for (member, path) in cycles {
            #expect(path.first == member && path.last == member)
            // Every step shown side by side is an edge (the elided middle aside).
            for (a, b) in zip(path, path.dropFirst()) where !a.hasPrefix("…") && !b.hasPrefix("…") {
                #expect(edges[a]?.contains(b) == true, "\(member): \(a) → \(b) in \(path)")
            }
        }
        #expect(cycles["n60"]?.count ?? 0 <= DependencyGraph.longestWrittenCycle + 3)
    }

    @Test func directory_reportsACycleAtEachMembersAfterLine_andWarnsOfUnknownUpstreams() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tock-deps-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try """
        # backups

        [job.backup]
        command = "backup"
        schedule = "@daily"

        after = ["report"]
        """.write(to: dir.appendingPathComponent("a.toml"), atomically: true, encoding: .utf8)
        try """
        [job.report]
        command = "report"
        after = ["backup"]
        """.write(to: dir.appendingPathComponent("b.toml"), atomically: true, encoding: .utf8)
        try """
        [job.publish]
        command = "publish"
        after = ["api-made"]
        """.write(to: dir.appendingPathComponent("c.toml"), atomically: true, encoding: .utf8)
        let loaded = JobDirectory.load(dir.path)
        let a = dir.appendingPathComponent("a.toml").path
        let b = dir.appendingPathComponent("b.toml").path
        let c = dir.appendingPathComponent("c.toml").path
        #expect(
            loaded.errors.map(\.description) == [
                "\(a):7: after: cycle backup → report → backup", "\(b):3: after: cycle report → backup → report",
            ])
        #expect(
            loaded.warnings.map(\.description) == [
                "\(c):3: job 'publish': after: 'api-made' is not in jobs.d (an API job?)"
            ])
        // The files of a cycle yield no job; the other files load.
        #expect(loaded.jobs.map(\.id) == ["publish"])
    }
}

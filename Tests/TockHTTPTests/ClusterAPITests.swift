import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TockCore
import TockHTTP
import TockJSON
import TockTesting

/// `GET /api/v1/cluster` of a daemon alone on SQLite, the definition digest each execution records, and a cluster's
/// definition mismatch on the job JSON and in the metric.
@Suite(.timeLimit(.minutes(2)))
struct ClusterAPITests {
    let h: APIHarness
    init() throws { h = try APIHarness() }

    @Test func cluster_ofASingleDaemon_isOneAliveNode_withItsJobDigests_andDocumentedShape() async throws {
        let scheduler = h.scheduler
        try await h.test { client in
            let document = OpenAPISchemaChecker(document: try json(try await client.get("/api/v1/openapi.json")))
            let schema = try document.responseSchema(path: "/api/v1/cluster", method: "get")
            let run = try json(try await client.send(.post, "/api/v1/executions/from-file", nil, headers: [:]))
            _ = try await client.finished(try #require(run["execution_id"]?.stringValue))

            let cluster = try json(try await client.get("/api/v1/cluster"))
            let problems = document.problems(of: cluster, against: schema)
            #expect(problems.isEmpty, "\(problems)")
            #expect(document.problems(of: cluster.removing("nodes"), against: schema).contains { $0.contains("nodes") })
            let nodes = try #require(cluster["nodes"]?.arrayItems)
            #expect(nodes.count == 1)
            let node = try #require(nodes.first)
            #expect(node["self"] == true && node["state"] == "alive")
            #expect(node["pid"] == .int(Int(ProcessInfo.processInfo.processIdentifier)))
            #expect(node["executions_last_hour"] == 1 && node["running"] == 0)
            #expect(node["job_count"] == 1)
            let digest = try #require(await scheduler.fileJobDigests()["from-file"])
            #expect(node["jobs"]?["from-file"] == .string(digest))
            #expect(cluster["definition_mismatches"] == .array([]))

            let bad = try await client.get("/api/v1/cluster?dead_within=soon")
            #expect(bad.status == .badRequest)
            #expect(try json(bad)["field"] == "dead_within")
        }
    }

    @Test func execution_recordsTheDigestOfTheDefinitionItRan() async throws {
        let scheduler = h.scheduler
        try await h.test { client in
            _ = try await client.create(#"{"job_id": "api-job", "schedule": "@yearly", "command": "echo one"}"#)
            var digests: [String] = []
            for command in ["echo one", "echo two"] {
                if command != "echo one" {
                    let body = #"{"schedule": "@yearly", "command": "\#(command)"}"#
                    let response = try await client.send(.put, "/api/v1/jobs/api-job", body)
                    #expect(response.status == .ok)
                }
                let job = try #require(await scheduler.jobs(withIDs: ["api-job"])["api-job"])
                let expected = job.definitionDigest(defaultTimeZone: "UTC")
                let run = try json(try await client.send(.post, "/api/v1/executions/api-job", nil, headers: [:]))
                let id = try #require(run["execution_id"]?.stringValue)
                _ = try await client.finished(id)
                let execution = try json(try await client.get("/api/v1/executions/\(id)"))
                #expect(execution["definition_digest"] == .string(expected))
                digests.append(expected)
            }
            #expect(Set(digests).count == 2, "a changed definition has another digest")
            #expect(digests.allSatisfy { $0.count == 64 && $0.allSatisfy(\.isHexDigit) })
        }
    }

    @Test func jobJSON_andMetric_showTheMismatchTheClusterFound_untilItIsGone() async throws {
        let scheduler = h.scheduler
        try await h.test { client in
            #expect(try json(try await client.get("/api/v1/jobs/from-file"))["definition_mismatch"] == .null)
            let mismatch = DefinitionMismatch(
                jobID: "from-file", nodes: [.init(node: "b", digest: nil), .init(node: "a", digest: "abc")])
            await scheduler.setDefinitionMismatches([mismatch])
            let shown = try json(try await client.get("/api/v1/jobs/from-file"))["definition_mismatch"]
            #expect(shown?["job_id"] == "from-file")
            #expect(shown?["nodes"]?.arrayItems?.compactMap { $0["node"]?.stringValue } == ["a", "b"])
            #expect(shown?["nodes"]?.arrayItems?.last?["digest"] == .null)
            #expect(
                text(try await client.get("/metrics")).contains(#"tock_job_definition_mismatch{job="from-file"} 1"#))
            await scheduler.setDefinitionMismatches([])
            #expect(try json(try await client.get("/api/v1/jobs/from-file"))["definition_mismatch"] == .null)
            #expect(
                text(try await client.get("/metrics")).contains(#"tock_job_definition_mismatch{job="from-file"} 0"#))
        }
    }
}

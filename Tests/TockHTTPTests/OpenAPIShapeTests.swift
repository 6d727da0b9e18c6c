import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TockCore
import TockHTTP
import TockJSON
import TockTesting

/// The OpenAPI document checked for shape, not only for paths: real responses of `GET /api/v1/jobs/{job_id}` and
/// `GET /api/v1/executions/{id}` against the schemas the document gives for them.
@Suite(.timeLimit(.minutes(2)))
struct OpenAPIShapeTests {
    let h: APIHarness
    init() throws { h = try APIHarness() }

    @Test func jobResponses_haveEveryRequiredKey_andOnlyDocumentedKeys() async throws {
        try await h.test { client in
            let document = OpenAPISchemaChecker(document: try json(try await client.get("/api/v1/openapi.json")))
            let schema = try document.responseSchema(path: "/api/v1/jobs/{job_id}", method: "get")
            // Required keys come from both halves of `Job` (its own and JobInput's, through `allOf`).
            let required = document.requiredKeys(of: schema)
            #expect(required.isSuperset(of: ["job_id", "name", "schedule", "next_run_time", "paused", "source"]))
            #expect(required.isSuperset(of: ["timeout", "on_failure", "last_execution", "recent_results"]))

            let shell = try await client.create(
                #"{"job_id": "shell", "schedule": "*/5 * * * *", "command": "echo hi", "timeout": "1m", "#
                    + #""on_failure": {"command": "true"}, "tags": ["a"], "env": {"A": "1"}}"#)
            let run = try json(try await client.send(.post, "/api/v1/executions/\(shell)", nil, headers: [:]))
            _ = try await client.finished(try #require(run["execution_id"]?.stringValue))
            let argv = try await client.create(
                #"{"job_id": "argv", "schedule": "@every 90s", "exec": ["/bin/echo", "hi"], "working_dir": "/tmp", "#
                    + #""max_output": "64KiB", "overlap": "queue"}"#)
            let paused = try await client.create(
                #"{"job_id": "paused", "job_class_string": "simple_scheduler.jobs.shell_job.ShellJob", "#
                    + #""pub_args": ["true"], "minute": "*/10", "hour": "*"}"#)
            #expect(try await client.send(.post, "/api/v1/jobs/\(paused)/pause", nil, headers: [:]).status == .ok)

            for id in ["from-file", shell, argv, paused] {
                let response = try await client.get("/api/v1/jobs/\(id)")
                #expect(response.status == .ok)
                let job = try json(response)
                let problems = document.problems(of: job, against: schema)
                #expect(problems.isEmpty, "GET /api/v1/jobs/\(id): \(problems)")
                // The check can fail: without one required key, the same response does not pass.
                for key in ["next_run_time", "last_execution"] {
                    #expect(
                        document.problems(of: job.removing(key), against: schema).contains {
                            $0.contains(".\(key) is required")
                        })
                }
            }
            let withRun = try json(try await client.get("/api/v1/jobs/\(shell)"))
            #expect(withRun["last_execution"] != .null, "the summary of the last run was checked too")
        }
    }

    @Test func executionResponses_haveEveryRequiredKey_andOnlyDocumentedKeys() async throws {
        try await h.test { client in
            let document = OpenAPISchemaChecker(document: try json(try await client.get("/api/v1/openapi.json")))
            let schema = try document.responseSchema(path: "/api/v1/executions/{id}", method: "get")
            let required = document.requiredKeys(of: schema)
            #expect(required.isSuperset(of: ["execution_id", "state", "job_id", "exit_code", "duration", "result"]))

            var executions: [String] = []
            for (id, command) in [("ok", "echo out; echo err >&2"), ("fails", "exit 3"), ("gone", "true")] {
                _ = try await client.create(
                    #"{"job_id": "\#(id)", "schedule": "@yearly", "command": "\#(command)"}"#)
                let run = try json(try await client.send(.post, "/api/v1/executions/\(id)", nil, headers: [:]))
                let execution = try #require(run["execution_id"]?.stringValue)
                _ = try await client.finished(execution)
                executions.append(execution)
            }
            // An execution of a deleted job: no `job` object, `job_name` null.
            #expect(try await client.send(.delete, "/api/v1/jobs/gone", nil, headers: [:]).status == .ok)
            // And one still running.
            _ = try await client.create(#"{"job_id": "slow", "schedule": "@yearly", "command": "sleep 30"}"#)
            let slow = try json(try await client.send(.post, "/api/v1/executions/slow", nil, headers: [:]))
            let running = try #require(slow["execution_id"]?.stringValue)
            try await eventually("running") {
                try json(try await client.get("/api/v1/executions/\(running)"))["state"] == "running"
            }
            executions.append(running)

            for id in executions {
                let response = try await client.get("/api/v1/executions/\(id)")
                #expect(response.status == .ok)
                let execution = try json(response)
                let problems = document.problems(of: execution, against: schema)
                #expect(problems.isEmpty, "GET /api/v1/executions/\(id): \(problems)")
                #expect(
                    document.problems(of: execution.removing("state"), against: schema).contains {
                        $0.contains(".state is required")
                    })
            }
            #expect(try await client.send(.delete, "/api/v1/executions/\(running)", nil, headers: [:]).status == .ok)
            _ = try await client.finished(running)
        }
    }
}

/// Enough of OpenAPI 3.0's schemas to check a response: `$ref`, `allOf`, `oneOf`, `type`, `nullable`, `enum`,
/// `required`, `properties`, `items`, `additionalProperties`. A key of a response that an object schema with
/// properties does not list counts as a problem: the document is meant to describe every key.
struct OpenAPISchemaChecker {
    let document: JSONValue

    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    /// The schema of the JSON body of a 200 response.
    func responseSchema(path: String, method: String) throws -> JSONValue {
        guard
            let schema = document["paths"]?[path]?[method]?["responses"]?["200"]?["content"]?["application/json"]?[
                "schema"]
        else { throw Missing(description: "no 200 JSON schema for \(method) \(path)") }
        return schema
    }

    /// A schema with its `$ref` followed (`#/components/schemas/Name`).
    func resolved(_ schema: JSONValue) -> JSONValue {
        guard let reference = schema["$ref"]?.stringValue else { return schema }
        let name = reference.replacingOccurrences(of: "#/components/schemas/", with: "")
        guard let target = document["components"]?["schemas"]?[name] else { return .object([]) }
        return resolved(target)
    }

    /// The schema and every schema it is made of through `allOf`, references followed.
    func members(_ schema: JSONValue) -> [JSONValue] {
        let schema = resolved(schema)
        return [schema] + (schema["allOf"]?.arrayItems ?? []).flatMap { members($0) }
    }

    func requiredKeys(of schema: JSONValue) -> Set<String> {
        Set(members(schema).flatMap { $0["required"]?.arrayItems ?? [] }.compactMap(\.stringValue))
    }

    /// What is wrong with `value` as an instance of `schema`, one line per problem; empty when it conforms.
    func problems(of value: JSONValue, against schema: JSONValue, at path: String = "$") -> [String] {
        let schema = resolved(schema)
        if value == .null {
            return schema["nullable"] == true ? [] : ["\(path) is null but not nullable"]
        }
        let members = members(schema)
        var found: [String] = []
        for member in members {
            if let options = member["oneOf"]?.arrayItems {
                let matches = options.filter { problems(of: value, against: $0, at: path).isEmpty }.count
                if matches != 1 { found.append("\(path) matches \(matches) of the oneOf schemas, not one") }
            }
            if let type = member["type"]?.stringValue, !value.isOpenAPIType(type) {
                found.append("\(path) is \(value.typeName), not \(type)")
            }
            if let options = member["enum"]?.arrayItems, !options.contains(value) {
                found.append("\(path) is \(value.jsonString), not one of \(JSONValue.array(options).jsonString)")
            }
            if let items = value.arrayItems, let itemSchema = member["items"] {
                for (n, item) in items.enumerated() {
                    found += problems(of: item, against: itemSchema, at: "\(path)[\(n)]")
                }
            }
        }
        guard let pairs = value.objectPairs else { return found }
        let properties = members.flatMap { $0["properties"]?.objectPairs ?? [] }
        let additional = members.compactMap { $0["additionalProperties"] }.first
        for key in requiredKeys(of: schema).sorted() where value[key] == nil {
            found.append("\(path).\(key) is required but missing")
        }
        for (key, item) in pairs {
            let schemas = properties.filter { $0.0 == key }.map(\.1)
            if schemas.isEmpty {
                if let additional {
                    found += problems(of: item, against: additional, at: "\(path).\(key)")
                } else if !properties.isEmpty {
                    found.append("\(path).\(key) is not documented")
                }
            }
            for property in schemas { found += problems(of: item, against: property, at: "\(path).\(key)") }
        }
        return found
    }
}

extension JSONValue {
    var arrayItems: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    func isOpenAPIType(_ type: String) -> Bool {
        switch (type, self) {
        case ("string", .string), ("boolean", .bool), ("integer", .int), ("number", .int), ("number", .double),
            ("array", .array), ("object", .object):
            true
        default: false
        }
    }

    /// The object without `key`.
    func removing(_ key: String) -> JSONValue {
        .object((objectPairs ?? []).filter { $0.0 != key })
    }
}

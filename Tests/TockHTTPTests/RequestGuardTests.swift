import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TockCore
import TockHTTP
import TockJSON
import TockSQLite
import TockTesting

/// The three attacks of issue 13, each of which succeeded before the request guards: a DNS-rebinding page
/// creating a job, a cross-site page running one with a bodiless POST, and a CORS preflight resuming one.
@Suite(.timeLimit(.minutes(1)))
struct RequestGuardTests {
    let h: APIHarness
    init() throws { h = try APIHarness() }

    static let createBody = #"{"job_id": "pwned", "schedule": "@yearly", "command": "id > /tmp/tock-pwned"}"#

    @Test func dnsRebinding_aForeignHostCannotCreateOrRead() async throws {
        try await h.test { client in
            var headers = jsonHeaders
            headers[HTTPField.Name("Host")!] = "attacker.example"
            let created = try await client.send(.post, "/api/v1/jobs", Self.createBody, headers: headers)
            #expect(created.status == .misdirectedRequest)
            #expect(try json(created)["error"]?.stringValue?.contains("attacker.example") == true)
            #expect(try await h.store.apiJobs().isEmpty)
            // Reads too: the rebinding page must not read jobs or output either.
            let read = try await client.get("/api/v1/jobs", headers: [HTTPField.Name("Host")!: "attacker.example:8888"])
            #expect(read.status == .misdirectedRequest)
            // Loopback names, IP literals and this machine's name are served.
            for host in ["127.0.0.1:8888", "localhost:8888", "[::1]:8888", "tock.localhost", "10.1.2.3"] {
                let ok = try await client.get("/api/v1/jobs", headers: [HTTPField.Name("Host")!: host])
                #expect(ok.status == .ok, "\(host)")
            }
        }
    }

    @Test func crossSite_bodilessPostsCannotRunOrPause() async throws {
        try await h.test { client in
            let id = try await client.create(#"{"job_id": "j", "schedule": "@yearly", "command": "true"}"#)
            let crossSite: HTTPFields = [
                HTTPField.Name("Origin")!: "http://evil.example", HTTPField.Name("Sec-Fetch-Site")!: "cross-site",
            ]
            let run = try await client.send(.post, "/api/v1/executions/\(id)", nil, headers: crossSite)
            #expect(run.status == .forbidden)
            let pause = try await client.send(.post, "/api/v1/jobs/\(id)/pause", nil, headers: crossSite)
            #expect(pause.status == .forbidden)
            let patch = try await client.send(.patch, "/api/v1/jobs/\(id)", nil, headers: crossSite)
            #expect(patch.status == .forbidden)
            // Older browsers send no Sec-Fetch-Site: the Origin decides.
            let originOnly = try await client.send(
                .delete, "/api/v1/jobs/\(id)", nil, headers: [HTTPField.Name("Origin")!: "http://evil.example"])
            #expect(originOnly.status == .forbidden)
            let sameSite = try await client.send(
                .post, "/api/v1/jobs/\(id)/pause", nil, headers: [HTTPField.Name("Sec-Fetch-Site")!: "same-site"])
            #expect(sameSite.status == .forbidden, "another port on localhost is another origin")
            #expect(try await h.store.executions(jobID: id, limit: 10).isEmpty)
            #expect(await h.scheduler.status(of: id)?.paused == false)
            #expect(await h.scheduler.status(of: id) != nil)

            // Tock's own pages (same origin), the CLI (no browser headers) and bearer-token clients pass.
            let own = try await client.send(
                .post, "/api/v1/jobs/\(id)/pause", nil,
                headers: [
                    HTTPField.Name("Origin")!: "http://127.0.0.1:8888", HTTPField.Name("Host")!: "127.0.0.1:8888",
                    HTTPField.Name("Sec-Fetch-Site")!: "same-origin",
                ])
            #expect(own.status == .ok)
            let cli = try await client.send(.post, "/api/v1/jobs/\(id)/resume", nil, headers: [:])
            #expect(cli.status == .ok)
            var withToken = crossSite
            withToken[.authorization] = "Bearer tock_example"
            let bearer = try await client.send(.post, "/api/v1/executions/\(id)", nil, headers: withToken)
            #expect(bearer.status == .ok)
        }
    }

    @Test func corsPreflight_hasNoSideEffect_butPlainOptionsStillResumes() async throws {
        try await h.test { client in
            let id = try await client.create(#"{"job_id": "j", "schedule": "@yearly", "command": "true"}"#)
            #expect(try await client.send(.post, "/api/v1/jobs/\(id)/pause", nil).status == .ok)
            // A same-origin preflight (no Origin check to fail) must not resume either.
            let preflight = try await client.send(
                .options, "/api/v1/jobs/\(id)", nil,
                headers: [
                    HTTPField.Name("Access-Control-Request-Method")!: "POST",
                    HTTPField.Name("Access-Control-Request-Headers")!: "content-type",
                ])
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[HTTPField.Name("Access-Control-Allow-Origin")!] == nil)
            let crossPreflight = try await client.send(
                .options, "/api/v1/jobs/\(id)", nil,
                headers: [
                    HTTPField.Name("Access-Control-Request-Method")!: "PUT",
                    HTTPField.Name("Origin")!: "http://evil.example",
                ])
            #expect(crossPreflight.status != .ok)
            #expect(await h.scheduler.status(of: id)?.paused == true)
            // ndscheduler's client: a plain OPTIONS resumes.
            let resume = try await client.send(.options, "/api/v1/jobs/\(id)", nil, headers: [:])
            #expect(resume.status == .ok)
            #expect(await h.scheduler.status(of: id)?.paused == false)
        }
    }

    @Test func hostChecks_unitCases() {
        let guardrail = RequestGuard(
            allowedHosts: ["cron.example.com"], publicURL: URL(string: "https://tock.example.org"))
        for host in [
            "127.0.0.1", "127.0.0.1:8888", "localhost", "LOCALHOST:1", "a.localhost", "[::1]:8888", "::1",
            "192.168.1.20:8888", "cron.example.com", "Cron.Example.Com.:443", "tock.example.org",
        ] {
            #expect(guardrail.isAllowed(host: host), "\(host)")
        }
        for host in [
            "attacker.example", "127.0.0.1.attacker.example", "localhost.attacker.example", "cron.example.com.evil",
            "", "example.com",
        ] {
            #expect(!guardrail.isAllowed(host: host), "\(host)")
        }
        #expect(RequestGuard(allowedHosts: ["*"]).isAllowed(host: "anything.example"))
        // Behind the proxy, the public origin is Tock's own.
        let fields: HTTPFields = [HTTPField.Name("Origin")!: "https://tock.example.org"]
        #expect(guardrail.check(method: .post, headers: fields, authority: "tock.example.org") == nil)
        #expect(
            guardrail.check(method: .post, headers: [HTTPField.Name("Origin")!: "null"], authority: "127.0.0.1:8888")
                == .crossOrigin("Origin: null"))
    }

    @Test func everyResponse_carriesAContentSecurityPolicy() async throws {
        try await h.test { client in
            for path in ["/healthz", "/api/v1/jobs", "/no/such/page"] {
                let response = try await client.get(path)
                let policy = try #require(response.headers[HTTPField.Name("Content-Security-Policy")!], "\(path)")
                #expect(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"), "\(policy)")
                #expect(response.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            }
        }
    }
}

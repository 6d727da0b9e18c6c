import Foundation
import Testing
import TockClient
import TockJSON
import TockTesting

/// The `tock` CLI against a real `tock serve` behind a real TLS endpoint: a CA and server certificates made with the
/// `openssl` command, and a TLS-terminating proxy (Python's `ssl`) in front of the daemon's plain HTTP.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct TLSEndToEndTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tock-tls-e2e-\(UUID())")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("jobs"), withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Runs a program to its end; its stdout and stderr.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws
        -> TockBinary.Result
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        for name in ["SSL_CERT_FILE", "SSL_CERT_DIR", "TOCK_CACERT", "TOCK_SERVER"] { merged[name] = nil }
        merged.merge(environment) { $1 }
        process.environment = merged
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return TockBinary.Result(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    func tock(_ arguments: [String], environment: [String: String] = [:]) throws -> TockBinary.Result {
        try Self.run(TockBinary.url.path, arguments, environment: environment)
    }

    /// A CA, a server certificate it signed for `localhost` and 127.0.0.1, and one it signed for another name.
    func makeCertificates() throws {
        let openssl = "/usr/bin/openssl"
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        func check(_ result: TockBinary.Result) throws {
            if result.status != 0 { throw CertificateFailure(description: result.stderr) }
        }
        try check(
            Self.run(
                openssl,
                ["req", "-x509"] + ec + [
                    "-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "2", "-subj", "/CN=Tock test CA",
                ]))
        for (name, names) in [("server", "DNS:localhost,IP:127.0.0.1"), ("elsewhere", "DNS:elsewhere.test")] {
            try "subjectAltName=\(names)\n".write(toFile: path("\(name).ext"), atomically: true, encoding: .utf8)
            try check(
                Self.run(
                    openssl,
                    ["req"] + ec + [
                        "-keyout", path("\(name).key"), "-out", path("\(name).csr"), "-subj", "/CN=\(name)",
                    ]))
            try check(
                Self.run(
                    openssl,
                    [
                        "x509", "-req", "-in", path("\(name).csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
                        "-CAcreateserial", "-out", path("\(name).pem"), "-days", "2", "-extfile", path("\(name).ext"),
                    ]))
        }
    }

    struct CertificateFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// A TLS-terminating proxy: one request per connection, read whole and sent on to the daemon's plain port, the
    /// reply streamed back as it comes (server-sent events included).
    final class TLSProxy {
        let process = Process()
        let port: Int

        static let script = """
            import socket, ssl, sys, threading
            certificate, key, backend = sys.argv[1], sys.argv[2], int(sys.argv[3])
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certificate, key)
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(64)
            print(listener.getsockname()[1], flush=True)

            def serve(raw):
                client = upstream = None
                try:
                    client = context.wrap_socket(raw, server_side=True)
                    data = b""
                    while b"\\r\\n\\r\\n" not in data:
                        piece = client.recv(65536)
                        if not piece:
                            return
                        data += piece
                    head, _, body = data.partition(b"\\r\\n\\r\\n")
                    length = 0
                    for line in head.split(b"\\r\\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                    while len(body) < length:
                        piece = client.recv(65536)
                        if not piece:
                            break
                        body += piece
                    upstream = socket.create_connection(("127.0.0.1", backend))
                    upstream.sendall(head + b"\\r\\n\\r\\n" + body)
                    while True:
                        piece = upstream.recv(65536)
                        if not piece:
                            break
                        client.sendall(piece)
                except (ssl.SSLError, OSError):
                    pass
                finally:
                    for s in (client or raw, upstream):
                        if s is not None:
                            s.close()

            while True:
                connection, _ = listener.accept()
                threading.Thread(target=serve, args=(connection,), daemon=True).start()
            """

        init(certificate: String, key: String, backendPort: Int) throws {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", Self.script, certificate, key, String(backendPort)]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.standardError
            try process.run()
            var line: [UInt8] = []
            while let byte = try out.fileHandleForReading.read(upToCount: 1)?.first, byte != UInt8(ascii: "\n") {
                line.append(byte)
            }
            port = Int(String(decoding: line, as: UTF8.self)) ?? 0
        }

        deinit {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
    }

    @Test func everyClientCommand_overHTTPS_withAPrivateCA() async throws {
        try makeCertificates()
        let daemon = try ServeCommandTests.Daemon(directory: directory)
        var backend = 0
        try await eventually("listening") {
            backend = daemon.port ?? 0
            return backend > 0
        }
        let proxy = try TLSProxy(certificate: path("server.pem"), key: path("server.key"), backendPort: backend)
        #expect(proxy.port > 0)
        let server = "https://127.0.0.1:\(proxy.port)"
        let ca = path("ca.pem")

        // The library: a job created over TLS.
        let client = try APIClient(server: server, caFile: ca)
        let created = try client.send(
            "POST", "/api/v1/jobs",
            json: [
                "job_id": "talker", "schedule": "@yearly",
                "command": "echo first; sleep 1.5; echo second >&2; sleep 0.5; echo 'third é'",
            ])
        #expect(created.status == 201, "\(created.text)")

        // Every client command, with --cacert.
        let list = try tock(["jobs", "list", "--server", server, "--cacert", ca])
        #expect(list.status == 0 && list.stdout.contains("talker"), "\(list.stderr)")
        let show = try tock(["jobs", "show", "talker", "--server", server, "--cacert", ca, "--json"])
        #expect(show.status == 0 && show.stdout.contains("\"schedule\""), "\(show.stderr)")
        // The live output (server-sent events) over TLS, to the run's end and its exit status.
        let run = try tock(["jobs", "run", "talker", "--follow", "--server", server, "--cacert", ca])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "first\nthird é\n" && run.stderr.contains("second\n"), "\(run.stdout)|\(run.stderr)")
        let executionID = try #require(
            run.stderr.split(separator: "\n").first { $0.hasPrefix("tock: execution ") }?.split(separator: " ")
                .dropFirst(2).first.map(String.init))
        let executions = try tock(["executions", "list", "--job", "talker", "--server", server, "--cacert", ca])
        #expect(executions.status == 0 && executions.stdout.contains(executionID), "\(executions.stderr)")
        let execution = try tock(["executions", "show", executionID, "--server", server, "--cacert", ca])
        #expect(execution.status == 0 && execution.stdout.contains("succeeded"), "\(execution.stderr)")
        let output = try tock(["executions", "output", executionID, "--server", server, "--cacert", ca])
        #expect(output.status == 0 && output.stdout == "first\nthird é\n", "\(output.stderr)")
        let replay = try tock(["executions", "output", executionID, "--follow", "--server", server, "--cacert", ca])
        #expect(replay.status == 0 && replay.stdout == "first\nthird é\n", "\(replay.stderr)")
        for verb in ["pause", "resume"] {
            let result = try tock(["jobs", verb, "talker", "--server", server, "--cacert", ca])
            #expect(result.status == 0, "\(verb): \(result.stderr)")
        }

        // Server-sent events arrive as they are written, not when the reply ends: the first output event comes
        // well before the end (the job sleeps 2 s between them).
        let again = try #require(
            try client.send("POST", "/api/v1/executions/talker?force=true").json?["execution_id"]?.stringValue)
        let began = Date()
        var firstOutput: TimeInterval?
        var end: TimeInterval?
        var text = ""
        _ = try client.stream("GET", "/api/v1/executions/\(again)/output", accept: "text/event-stream") { bytes in
            text += String(decoding: bytes, as: UTF8.self)
            if firstOutput == nil, text.contains("event: output") { firstOutput = Date().timeIntervalSince(began) }
            if end == nil, text.contains("event: end") { end = Date().timeIntervalSince(began) }
        }
        let (first, last) = (try #require(firstOutput), try #require(end))
        #expect(last - first > 1, "first output at \(first) s, end at \(last) s")

        // The private CA from OpenSSL's own variable, or from TOCK_CACERT; a host name verified against its name.
        let byName = "https://localhost:\(proxy.port)"
        let fromVariable = try tock(["jobs", "list", "--server", byName], environment: ["SSL_CERT_FILE": ca])
        #expect(fromVariable.status == 0 && fromVariable.stdout.contains("talker"), "\(fromVariable.stderr)")
        let fromTockVariable = try tock(["jobs", "list", "--server", byName], environment: ["TOCK_CACERT": ca])
        #expect(fromTockVariable.status == 0, "\(fromTockVariable.stderr)")

        // Without the CA, the system's store does not know the certificate: refused, exit 2, a message that says so.
        let untrusted = try tock(["jobs", "list", "--server", server])
        #expect(untrusted.status == 2 && untrusted.stdout.isEmpty)
        #expect(untrusted.stderr.contains("certificate"), "\(untrusted.stderr)")
        // A certificate of the right CA for another name: refused too.
        let elsewhere = try TLSProxy(
            certificate: path("elsewhere.pem"), key: path("elsewhere.key"), backendPort: backend)
        let wrongName = try tock(["jobs", "list", "--server", "https://127.0.0.1:\(elsewhere.port)", "--cacert", ca])
        #expect(wrongName.status == 2 && wrongName.stderr.contains("certificate"), "\(wrongName.stderr)")
        let missingFile = try tock(["jobs", "list", "--server", server, "--cacert", path("none.pem")])
        #expect(missingFile.status == 2 && missingFile.stderr.contains("none.pem"), "\(missingFile.stderr)")
        // TLS to a plain HTTP port fails cleanly, and plain http:// is as it was.
        let plainPort = try tock(["jobs", "list", "--server", "https://127.0.0.1:\(backend)", "--cacert", ca])
        #expect(plainPort.status == 2, "\(plainPort.stderr)")
        let plain = try tock(["jobs", "list", "--server", "http://127.0.0.1:\(backend)"])
        #expect(plain.status == 0 && plain.stdout.contains("talker"), "\(plain.stderr)")

        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }
}

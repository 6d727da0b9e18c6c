import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import TockHTTP

/// The web UI compiled into the binary: every file of web/, byte for byte, served with its type, an ETag and
/// revalidation, for what no API route answers.
@Suite struct EmbeddedWebUITests {
    static let webDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("web")

    /// Every file of web/ on disk, by URL path.
    static func filesOnDisk() throws -> [String: Data] {
        var files: [String: Data] = [:]
        let root = webDirectory.standardizedFileURL.path
        let enumerator = try #require(FileManager.default.enumerator(atPath: root))
        for case let relative as String in enumerator {
            var isDirectory: ObjCBool = false
            let path = root + "/" + relative
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                !(relative as NSString).lastPathComponent.hasPrefix(".")
            else { continue }
            files["/" + relative] = try Data(contentsOf: URL(fileURLWithPath: path))
        }
        return files
    }

    @Test func embeddedFiles_areExactlyTheFilesOfWeb() throws {
        let onDisk = try Self.filesOnDisk()
        #expect(onDisk.count >= 5)
        #expect(Set(EmbeddedWebUI.files.keys) == Set(onDisk.keys))
        for (path, data) in onDisk {
            #expect(EmbeddedWebUI.files[path]?.bytes == Array(data), "\(path) differs from web\(path)")
        }
    }

    @Test func servedWithContentTypeETagAndRevalidation() async throws {
        let h = try APIHarness()
        let index = try Self.filesOnDisk()["/index.html"]
        try await h.test { client in
            let root = try await client.get("/")
            #expect(root.status == .ok)
            #expect(root.headers[.contentType] == "text/html; charset=utf-8")
            #expect(text(root) == index.map { String(decoding: $0, as: UTF8.self) })
            #expect(root.headers[.cacheControl] == "no-cache")
            #expect(root.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("script-src 'self'") == true)
            let eTag = try #require(root.headers[.eTag])
            #expect(eTag.hasPrefix("\"") && eTag.count == 34)

            let again = try await client.get("/index.html", headers: [.ifNoneMatch: eTag])
            #expect(again.status == .notModified && text(again).isEmpty)
            let stale = try await client.get("/index.html", headers: [.ifNoneMatch: "\"0000\""])
            #expect(stale.status == .ok)

            let script = try await client.get("/js/app.js")
            #expect(script.status == .ok && script.headers[.contentType] == "text/javascript; charset=utf-8")
            let style = try await client.get("/app.css")
            #expect(style.headers[.contentType] == "text/css; charset=utf-8")
            #expect(try await client.get("/js").status == .notFound)
            #expect(try await client.get("/js/").status != .ok)

            // The API keeps its own answers: JSON errors, not the UI.
            let unknown = try await client.get("/api/v1/nothing-here")
            #expect(unknown.status == .notFound && unknown.headers[.contentType]?.contains("json") == true)
            #expect(try await client.get("/no-such-file.js").status == .notFound)
            #expect(try await client.send(.post, "/index.html").status != .ok)
        }
    }
}

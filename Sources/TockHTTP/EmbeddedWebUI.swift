import Foundation
import HTTPTypes
import Hummingbird

/// The web UI's files (`web/`), compiled into the binary at build time by the `EmbedWebUI` plugin, so `tock serve`
/// serves its UI wherever it is started from and whatever is installed beside it.
public enum EmbeddedWebUI {
    /// One embedded file.
    public struct File: Sendable {
        public let bytes: [UInt8]
        /// `text/html; charset=utf-8`, `text/javascript; charset=utf-8`, …
        public let contentType: String
        /// A strong entity tag: the first 32 hex digits of the content's SHA-256, quoted.
        public let eTag: String
    }

    /// The files by URL path (`/index.html`, `/js/app.js`).
    public static let files: [String: File] = {
        var files: [String: File] = [:]
        for (path, sha256, base64) in generatedFiles {
            guard let data = Data(base64Encoded: base64) else { continue }
            files[path] = File(
                bytes: Array(data), contentType: contentType(forPath: path), eTag: "\"\(sha256.prefix(32))\"")
        }
        return files
    }()

    /// The file a request path names: `/` and directories mean their `index.html`.
    public static func file(forPath path: String) -> File? {
        if path.hasSuffix("/") { return files[path + "index.html"] }
        return files[path]
    }

    static func contentType(forPath path: String) -> String {
        let suffix = path.split(separator: ".").last.map { $0.lowercased() } ?? ""
        switch suffix {
        case "html": return "text/html; charset=utf-8"
        case "js", "mjs": return "text/javascript; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "json": return "application/json"
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        case "ico": return "image/x-icon"
        case "txt": return "text/plain; charset=utf-8"
        case "woff2": return "font/woff2"
        default: return "application/octet-stream"
        }
    }
}

/// Serves ``EmbeddedWebUI`` for `GET` and `HEAD` requests no route answers (like Hummingbird's `FileMiddleware`,
/// it acts only on a 404, so the API pays nothing for it): the content type by extension, a strong `ETag`
/// (`If-None-Match` gets `304`), and `Cache-Control: no-cache`, so a browser revalidates and an upgraded Tock's UI
/// is never mixed with a cached older one.
struct EmbeddedWebUIMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let fallback: Result<Response, any Error>
        do {
            let response = try await next(request, context)
            guard response.status == .notFound else { return response }
            fallback = .success(response)
        } catch let error as any HTTPResponseError where error.status == .notFound {
            fallback = .failure(error)
        }
        guard request.method == .get || request.method == .head,
            let file = EmbeddedWebUI.file(forPath: request.uri.path)
        else { return try fallback.get() }
        var headers = HTTPFields()
        headers[.contentType] = file.contentType
        headers[.eTag] = file.eTag
        headers[.cacheControl] = "no-cache"
        if request.headers[values: .ifNoneMatch].contains(where: { $0 == file.eTag || $0 == "*" }) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentLength] = String(file.bytes.count)
        if request.method == .head { return Response(status: .ok, headers: headers, body: .init()) }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: file.bytes)))
    }
}

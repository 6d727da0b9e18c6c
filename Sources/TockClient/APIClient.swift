import CTockTLS
import Foundation
import Glibc
import TockJSON

/// A small HTTP/1.1 client of Tock's API (used by `tock jobs`, `tock executions` and the end-to-end tests): one
/// connection per request, the body read as it arrives (server-sent events are printed live).
///
/// `https://` servers are reached over TLS (the system's OpenSSL, see `CTockTLS`), their certificate verified for the
/// URL's host against the system's CA certificates — or those of `caFile`; OpenSSL's `SSL_CERT_FILE` and
/// `SSL_CERT_DIR` variables replace the system's file and directory.
public struct APIClient: Sendable {
    public let host: String
    public let port: Int
    /// Whether the server is `https://`.
    public let usesTLS: Bool
    let base: String
    let token: String?
    /// PEM certificates of the CAs to trust instead of the system's (a private CA), for `https://`.
    let caFile: String?

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public struct Reply: Sendable {
        public let status: Int
        /// Header names in lower case.
        public let headers: [String: String]
        public let body: [UInt8]
        public var json: JSONValue? { try? JSONValue.parse(body) }
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// - Parameters:
    ///   - server: `http://HOST[:PORT][/PREFIX]` or `https://HOST[:PORT][/PREFIX]`.
    ///   - caFile: For `https://`: a PEM file of the CA certificates to trust instead of the system's.
    public init(server: String, token: String? = nil, caFile: String? = nil) throws(Failure) {
        var rest = Substring(server)
        if rest.hasPrefix("https://") {
            usesTLS = true
            rest = rest.dropFirst("https://".count)
        } else if rest.hasPrefix("http://") {
            usesTLS = false
            rest = rest.dropFirst("http://".count)
        } else {
            throw Failure(description: "--server must be an http:// or https:// URL (got '\(server)')")
        }
        guard !rest.isEmpty, !rest.hasPrefix("/") else {
            throw Failure(description: "--server: no host in '\(server)'")
        }
        let authority = rest.prefix { $0 != "/" }
        base = String(rest.dropFirst(authority.count)).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            host = String(authority[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            guard let number = Int(authority[authority.index(after: colon)...]) else {
                throw Failure(description: "--server: bad port in '\(server)'")
            }
            port = number
        } else {
            host = String(authority).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            port = usesTLS ? 443 : 80
        }
        self.token = token
        self.caFile = caFile
        self.server = server
    }

    let server: String

    /// Sends a request (with `headers` besides the client's own) and reads the whole reply.
    public func send(
        _ method: String, _ path: String, json body: JSONValue? = nil, headers extra: [(String, String)] = []
    ) throws(Failure) -> Reply {
        var collected: [UInt8] = []
        let (status, headers) = try stream(method, path, json: body, accept: nil, headers: extra) { collected += $0 }
        return Reply(status: status, headers: headers, body: collected)
    }

    /// Sends a request and hands each piece of the (de-chunked) body to `onBody` as it arrives.
    public func stream(
        _ method: String, _ path: String, json body: JSONValue? = nil, accept: String?,
        headers extra: [(String, String)] = [], onBody: ([UInt8]) -> Void
    ) throws(Failure) -> (status: Int, headers: [String: String]) {
        for (name, value) in extra where (name + value).contains(where: { $0 == "\r" || $0 == "\n" }) || name.isEmpty {
            throw Failure(
                description: "the header '\(name)' cannot be sent: a name and a value may not hold a line break")
        }
        let connection = try openConnection()
        let target = "/" + (base.isEmpty ? "" : base + "/") + path.drop { $0 == "/" }
        var head =
            "\(method) \(target) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\nUser-Agent: tock-cli\r\n"
        if let accept { head += "Accept: \(accept)\r\n" }
        if let token, !token.isEmpty { head += "Authorization: Bearer \(token)\r\n" }
        for (name, value) in extra { head += "\(name): \(value)\r\n" }
        let payload = body?.jsonBytes ?? []
        if body != nil { head += "Content-Type: application/json\r\n" }
        if body != nil || method == "POST" || method == "PUT" { head += "Content-Length: \(payload.count)\r\n" }
        head += "\r\n"
        try connection.write(Array(head.utf8) + payload)

        var reader = ByteReader(connection: connection)
        guard let statusLine = try reader.line(), statusLine.hasPrefix("HTTP/1."),
            let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "")
        else { throw Failure(description: "\(server) did not answer with HTTP") }
        var headers: [String: String] = [:]
        while let line = try reader.line(), !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            while let sizeLine = try reader.line() {
                let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) ?? 0
                if size == 0 { break }
                onBody(try reader.bytes(size))
                _ = try reader.line()
            }
        } else if let length = headers["content-length"].flatMap({ Int($0) }) {
            if length > 0 { onBody(try reader.bytes(length)) }
        } else {
            while let piece = try reader.some() { onBody(piece) }
        }
        return (status, headers)
    }

    private func connectSocket() throws(Failure) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var results: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &results)
        guard status == 0, let first = results else {
            throw Failure(description: "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(results) }
        var lastError: Int32 = 0
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd >= 0 {
                if connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
                lastError = errno
                close(fd)
            }
            cursor = info.pointee.ai_next
        }
        throw Failure(
            description:
                "cannot connect to \(server): \(String(cString: strerror(lastError))) (is `tock serve` running?)")
    }

    /// A connected socket, with TLS over it for `https://`.
    private func openConnection() throws(Failure) -> Connection {
        let fd = try connectSocket()
        guard usesTLS else { return Connection(fd: fd, tls: nil, server: server) }
        var error = [CChar](repeating: 0, count: 512)
        guard let tls = tock_tls_connect(fd, host, caFile, &error, error.count) else {
            close(fd)
            throw Failure(description: "cannot connect to \(server) over TLS: \(Connection.text(error))")
        }
        return Connection(fd: fd, tls: tls, server: server)
    }

    /// One request's connection: a socket, and the TLS session over it if any; both end with it.
    final class Connection {
        let fd: Int32
        let tls: OpaquePointer?
        let server: String

        init(fd: Int32, tls: OpaquePointer?, server: String) {
            self.fd = fd
            self.tls = tls
            self.server = server
        }

        deinit {
            tock_tls_free(tls)
            close(fd)
        }

        func write(_ bytes: [UInt8]) throws(Failure) {
            if let tls {
                var error = [CChar](repeating: 0, count: 512)
                let status = bytes.withUnsafeBytes {
                    tock_tls_write(tls, $0.baseAddress, $0.count, &error, error.count)
                }
                guard status == 0 else {
                    throw Failure(description: "the connection to \(server) broke while sending: \(Self.text(error))")
                }
                return
            }
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw Failure(description: "the connection to \(server) broke while sending") }
                offset += n
            }
        }

        /// Bytes read into `buffer`: 0 at the end of the reply.
        func read(_ buffer: UnsafeMutableRawBufferPointer) throws(Failure) -> Int {
            if let tls {
                var error = [CChar](repeating: 0, count: 512)
                let n = tock_tls_read(tls, buffer.baseAddress, buffer.count, &error, error.count)
                guard n >= 0 else { throw Failure(description: "reading the reply failed: \(Self.text(error))") }
                return n
            }
            while true {
                let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw Failure(description: "reading the reply failed: \(String(cString: strerror(errno)))") }
                return n
            }
        }

        static func text(_ error: [CChar]) -> String {
            String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// Buffered reads from the connection.
    struct ByteReader {
        let connection: Connection
        var buffer: [UInt8] = []
        var eof = false

        mutating func fill() throws(Failure) -> Bool {
            guard !eof else { return false }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n: Int
            do {
                n = try chunk.withUnsafeMutableBytes { raw in try connection.read(raw) }
            } catch let failure as Failure {
                throw failure
            } catch {
                throw Failure(description: "reading the reply failed: \(error)")
            }
            if n == 0 {
                eof = true
                return false
            }
            buffer += chunk[0..<n]
            return true
        }

        mutating func line() throws(Failure) -> String? {
            while true {
                if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    var line = Array(buffer[..<newline])
                    buffer.removeFirst(newline + 1)
                    if line.last == UInt8(ascii: "\r") { line.removeLast() }
                    return String(decoding: line, as: UTF8.self)
                }
                guard try fill() else { return nil }
            }
        }

        mutating func bytes(_ count: Int) throws(Failure) -> [UInt8] {
            while buffer.count < count {
                guard try fill() else { throw Failure(description: "the reply ended early") }
            }
            defer { buffer.removeFirst(count) }
            return Array(buffer[..<count])
        }

        mutating func some() throws(Failure) -> [UInt8]? {
            if buffer.isEmpty { guard try fill() else { return nil } }
            defer { buffer = [] }
            return buffer
        }
    }
}

import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// How `tock serve` runs its HTTP server: JSON for requests too malformed to reach a route, a cap on open
/// connections, and an idle timeout.
public enum HTTPServerSettings {
    /// Idle keep-alive connections are closed after this (a response in progress, such as a live tail, is not).
    public static let idleTimeout: TimeAmount = .seconds(75)

    /// The HTTP/1 server: malformed requests answered with a JSON 400, idle connections closed.
    public static func http1() -> HTTPServerBuilder {
        .http1(configuration: .init(additionalChannelHandlers: [JSONParseErrorResponder()], idleTimeout: idleTimeout))
    }

    /// At most this many connections are accepted at once (further ones wait in the listen backlog, costing no
    /// descriptor): half of the descriptors left after job pipes, pidfds and the store, between 64 and 4,096.
    public static func maximumConnections(descriptorLimit: Int) -> Int {
        max(64, min(4096, (descriptorLimit - 512) / 2))
    }

    public static func connectionLimit(descriptorLimit: Int, logger: Logger) -> MaximumAvailableConnections {
        MaximumAvailableConnections(maximumConnections(descriptorLimit: descriptorLimit), logger: logger)
    }
}

/// Hummingbird answers a request the HTTP parser refused (a request line or headers over 80 KiB, an unknown
/// method, a malformed header) with an empty `400` and closes the connection. This handler notes the parser's
/// error as it passes and gives that response a JSON body saying what was wrong, like every other error of the API.
final class JSONParseErrorResponder: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// The parser stops at its first error, so there is at most one per connection.
    private var parseError: HTTPParserError?

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if parseError == nil, let error = error as? HTTPParserError { parseError = error }
        // Passed on: it is what makes Hummingbird write its 400.
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard let error = parseError, case .head(var head) = unwrapOutboundIn(data), head.status == .badRequest,
            head.headerFields[.contentLength] == "0"
        else {
            context.write(data, promise: promise)
            return
        }
        parseError = nil
        let body = context.channel.allocator.buffer(string: #"{"error":"\#(Self.message(for: error))"}"#)
        head.headerFields[.contentType] = "application/json; charset=utf-8"
        head.headerFields[.contentLength] = String(body.readableBytes)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: promise)
    }

    static func message(for error: HTTPParserError) -> String {
        switch error {
        case .headerOverflow: "the request line or headers are too long (at most 80 KiB)"
        case .invalidMethod: "unknown HTTP method"
        case .invalidURL, .invalidPath, .invalidQueryString, .invalidHost, .invalidPort, .invalidFragment:
            "invalid request target"
        case .invalidVersion: "unsupported HTTP version"
        case .invalidHeaderToken, .invalidCharactersUsed, .lfExpected: "malformed header"
        case .invalidContentLength, .unexpectedContentLength: "invalid Content-Length"
        case .invalidChunkSize: "invalid chunked body"
        default: "malformed HTTP request"
        }
    }
}

import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Sends one HTTP POST and reports what came back. Expected failures (refused, timed out, a redirect) are values.
public protocol WebhookTransport: Sendable {
    func post(url: URL, body: [UInt8], headers: [(String, String)], timeout: Duration) async -> WebhookResponse
}

/// What a receiver answered, or why there was no answer.
public struct WebhookResponse: Sendable, Hashable {
    /// `nil` when no response came (refused, reset, timed out).
    public var status: Int?
    /// The first KiB of the body.
    public var excerpt: String
    /// `Retry-After` in seconds, when the receiver sent one.
    public var retryAfter: Int?
    public var error: String?

    public init(status: Int?, excerpt: String = "", retryAfter: Int? = nil, error: String? = nil) {
        self.status = status
        self.excerpt = excerpt
        self.retryAfter = retryAfter
        self.error = error
    }
}

/// ``WebhookTransport`` over Foundation's `URLSession` (libcurl on Linux): no extra package in the build.
/// Redirects are never followed (a 3xx is a failed attempt, as Standard Webhooks says); the timeout bounds the
/// whole request, not only the silences in it.
public final class URLSessionWebhookTransport: WebhookTransport {
    private let session: URLSession

    public init() {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieStorage = nil
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        session = URLSession(configuration: configuration, delegate: RefuseRedirects(), delegateQueue: nil)
    }

    deinit { session.invalidateAndCancel() }

    public func post(url: URL, body: [UInt8], headers: [(String, String)], timeout: Duration) async -> WebhookResponse {
        let session = self.session
        // The deadline of the whole exchange (URLRequest's timeout is reset by every byte that arrives).
        return await withTaskGroup(of: WebhookResponse?.self) { group in
            group.addTask {
                var request = URLRequest(url: url)
                request.httpMethod = "POST"
                request.timeoutInterval = timeout.timeInterval
                for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
                request.httpBody = Data(body)
                do {
                    let (data, response) = try await session.data(for: request)
                    guard let http = response as? HTTPURLResponse else {
                        return WebhookResponse(status: nil, error: "not an HTTP response")
                    }
                    let excerpt = String(decoding: data.prefix(1024), as: UTF8.self)
                    let retryAfter = (http.value(forHTTPHeaderField: "Retry-After")).flatMap { Int($0) }
                    return WebhookResponse(status: http.statusCode, excerpt: excerpt, retryAfter: retryAfter)
                } catch {
                    return WebhookResponse(status: nil, error: Self.describe(error))
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? WebhookResponse(status: nil, error: "no response within \(timeout.timeInterval) s")
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? URLError {
            switch error.code {
            case .timedOut: return "timed out"
            case .cannotConnectToHost: return "connection refused"
            case .cannotFindHost: return "unknown host"
            default: return "\(error.localizedDescription) (URLError \(error.code.rawValue))"
            }
        }
        return "\(error)"
    }
}

/// Answers every redirect with "do not follow": the 3xx itself becomes the response.
private final class RefuseRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}

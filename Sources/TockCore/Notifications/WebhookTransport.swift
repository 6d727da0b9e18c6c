import Foundation
import Synchronization

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

    /// Completion-handler `dataTask`, not the async `data(for:)`: on Linux, cancelling a task awaiting `data(for:)`
    /// (as a timeout racing it in a task group does) can deadlock with the request's own completion — the Swift
    /// task's status lock against the session's queue — and with two cooperative threads that stops the whole
    /// daemon (found by `scripts/bench-notify`, a gdb backtrace of both threads). Here nothing is cancelled from
    /// inside a Swift task: the deadline fires on a dispatch queue, and exactly one of it and the completion
    /// answers.
    public func post(url: URL, body: [UInt8], headers: [(String, String)], timeout: Duration) async -> WebhookResponse {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.timeoutInterval = timeout.timeInterval
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = Data(body)
        let session = self.session
        let request_ = request
        return await withCheckedContinuation { (continuation: CheckedContinuation<WebhookResponse, Never>) in
            let once = AnswerOnce(continuation)
            let task = session.dataTask(with: request_) { data, response, error in
                if let error {
                    once.answer(WebhookResponse(status: nil, error: Self.describe(error)))
                    return
                }
                guard let http = response as? HTTPURLResponse else {
                    once.answer(WebhookResponse(status: nil, error: "not an HTTP response"))
                    return
                }
                let excerpt = String(decoding: (data ?? Data()).prefix(1024), as: UTF8.self)
                let retryAfter = (http.value(forHTTPHeaderField: "Retry-After")).flatMap { Int($0) }
                once.answer(WebhookResponse(status: http.statusCode, excerpt: excerpt, retryAfter: retryAfter))
            }
            task.resume()
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout.timeInterval) {
                if once.answer(WebhookResponse(status: nil, error: "no response within \(timeout.timeInterval) s")) {
                    task.cancel()
                }
            }
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

/// Resumes a continuation once, whichever of the response and the deadline comes first.
private final class AnswerOnce: Sendable {
    private let continuation: Mutex<CheckedContinuation<WebhookResponse, Never>?>

    init(_ continuation: CheckedContinuation<WebhookResponse, Never>) { self.continuation = Mutex(continuation) }

    /// Whether this was the answer (the first).
    @discardableResult
    func answer(_ response: WebhookResponse) -> Bool {
        guard let continuation = continuation.withLock({ $0.take() }) else { return false }
        continuation.resume(returning: response)
        return true
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

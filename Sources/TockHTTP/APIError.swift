import Foundation
import HTTPTypes
import Hummingbird
import Logging
import TockCore
import TockJSON

/// An error answered as JSON: `{"error": "…"}` plus, where one key is at fault, `"field"`.
public struct APIError: Error, Sendable {
    public let status: HTTPResponse.Status
    public let message: String
    public let field: String?
    /// More keys for the body (e.g. the running execution of a conflict).
    public let extra: [(String, JSONValue)]
    /// Headers for the response (`WWW-Authenticate` on a 401, `Retry-After` on a 429).
    public let headers: HTTPFields

    public init(
        _ status: HTTPResponse.Status, _ message: String, field: String? = nil, extra: [(String, JSONValue)] = [],
        headers: HTTPFields = [:]
    ) {
        self.status = status
        self.message = message
        self.field = field
        self.extra = extra
        self.headers = headers
    }

    var body: JSONValue {
        var pairs: [(String, JSONValue)] = [("error", .string(message))]
        if let field { pairs.append(("field", .string(field))) }
        return .object(pairs + extra)
    }

    func response() -> Response {
        var response = JSONResponse.make(body, status: status)
        response.headers.append(contentsOf: headers)
        return response
    }
}

enum JSONResponse {
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        bytes(value.jsonBytes, status: status)
    }

    static func bytes(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// Turns every error into a JSON body with a fitting status — never an HTML page, never a 500 for bad input —
/// and answers ndscheduler's trailing-slash URLs as tornado's `removeslash` did (GET/HEAD: 301 to the URL without
/// the slash; other methods: 404).
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let path = request.uri.path
        if path.count > 1 && path.hasSuffix("/") {
            guard request.method == .get || request.method == .head else {
                return APIError(.notFound, "no such path: \(path)").response()
            }
            var location = String(path.dropLast())
            if let query = request.uri.query, !query.isEmpty { location += "?" + query }
            return Response(status: .movedPermanently, headers: [.location: location])
        }
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response()
        } catch let error as JobCatalog.Failure {
            return APIError(error).response()
        } catch let error as AccessProblem {
            return APIError(.badRequest, error.description).response()
        } catch let error as StoreError {
            // Not the request's fault and not for good: 503, so clients retry (nothing was half-written).
            return APIError(.serviceUnavailable, "\(error); try again later").response()
        } catch let error as any HTTPResponseError {
            let message: String
            switch error.status {
            case .notFound: message = "no such path: \(path)"
            case .methodNotAllowed: message = "\(request.method) is not allowed on \(path)"
            case .contentTooLarge: message = "the body is larger than the limit of \(RequestParsing.maxBodyBytes) bytes"
            default: message = error.status.reasonPhrase
            }
            return APIError(error.status, message).response()
        } catch {
            context.logger.error("request failed", metadata: ["path": "\(path)", "error": "\(error)"])
            return APIError(.internalServerError, "internal error: \(error)").response()
        }
    }
}

extension APIError {
    /// The one mapping of a refused action to HTTP.
    init(_ failure: JobCatalog.Failure) {
        switch failure {
        case .unknownJob, .unknownExecution:
            self.init(.notFound, failure.description)
        case .invalid(let problems):
            let first = problems.first ?? APIJobDefinition.Problem(field: nil, "invalid job")
            let all: JSONValue = .array(
                problems.map {
                    .object([("field", $0.field.map { .string($0) } ?? .null), ("message", .string($0.message))])
                })
            self.init(.badRequest, first.description, field: first.field, extra: [("errors", all)])
        case .idTaken:
            self.init(.conflict, failure.description, field: "job_id")
        case .fileManaged:
            self.init(.conflict, failure.description, extra: [("source", "file")])
        case .alreadyRunning(_, let running):
            self.init(
                .conflict, failure.description + "; add ?force=true to run it anyway",
                extra: [("execution_id", .string(running))])
        case .alreadyRunningElsewhere(_, let running, let node):
            self.init(
                .conflict, failure.description + "; add ?force=true to run it anyway",
                extra: [("execution_id", .string(running)), ("node", .string(node))])
        case .notRunning(_, let state):
            self.init(.conflict, failure.description, extra: [("state", .string(state.rawValue))])
        case .heldByUnreachableNode(_, let node, _):
            self.init(.conflict, failure.description, extra: [("node", .string(node))])
        case .shuttingDown:
            self.init(.serviceUnavailable, failure.description)
        case .apiJobsDisabled:
            self.init(.forbidden, failure.description)
        }
    }
}

import CronKit
import Foundation
import HTTPTypes
import Hummingbird
import TockCore
import TockJSON

/// Reading what requests send: JSON bodies, whole-number and time-range parameters.
enum RequestParsing {
    static let maxBodyBytes = 1 << 20
    /// ndscheduler's default window for executions and logs.
    static let defaultWindow: TimeInterval = 600

    static func jsonBody(_ request: Request) async throws -> JSONValue {
        let type = request.headers[.contentType]?.lowercased() ?? ""
        let mediaType = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard mediaType == "application/json" || mediaType.hasSuffix("+json") else {
            throw APIError(
                .unsupportedMediaType,
                "the body must be JSON with Content-Type: application/json (got \(type.isEmpty ? "none" : "'\(type)'"))"
            )
        }
        let buffer = try await request.body.collect(upTo: Self.maxBodyBytes)
        do {
            return try JSONValue.parse(buffer.readableBytesView)
        } catch {
            throw APIError(.badRequest, "the body is not valid JSON: \(error.description)", field: "body")
        }
    }

    static func int(_ text: String?, name: String, range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let text, !text.isEmpty else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw APIError(
                .badRequest,
                "'\(text)' is not a whole number in \(range.lowerBound)...\(range.upperBound == Int.max ? "" : String(range.upperBound))",
                field: name)
        }
        return value
    }

    /// `time_range_start` and `time_range_end` (ISO 8601; a missing offset means UTC). With neither given and
    /// `defaultWindow`, the last ten minutes (ndscheduler's default).
    static func timeRange(_ params: Parameters, now: Date, defaultWindow: Bool) throws(APIError) -> (Date?, Date?) {
        func read(_ name: String) throws(APIError) -> Date? {
            guard let text = params.get(name), !text.isEmpty else { return nil }
            guard let date = Date(parsing: text, defaultZone: .utc) else {
                throw APIError(
                    .badRequest, "'\(text)' is not an ISO 8601 time such as 2026-11-29T03:06:03+00:00", field: name)
            }
            return date
        }
        let start = try read("time_range_start")
        let end = try read("time_range_end")
        if let start, let end, start > end {
            throw APIError(.badRequest, "the range ends before it starts", field: "time_range_end")
        }
        if start == nil && end == nil && defaultWindow {
            return (now.addingTimeInterval(-Self.defaultWindow), nil)
        }
        return (start, end)
    }
}
typealias Parameters = Hummingbird.Parameters

import Foundation

/// What one dependency edge has consumed: the upstream success a dependent's run was last created from
/// (`job_id` runs `after` `upstream_id`). A success satisfies the edge only when it ended after this one.
public struct DependencyCursor: Sendable, Hashable, Codable {
    /// The dependent.
    public var jobID: String
    public var upstreamID: String
    /// When the consumed upstream execution ended.
    public var endedAt: Date
    public var executionID: String

    public init(jobID: String, upstreamID: String, endedAt: Date, executionID: String) {
        self.jobID = jobID
        self.upstreamID = upstreamID
        self.endedAt = endedAt
        self.executionID = executionID
    }

    /// Whether `self` comes after `other` (by end time, then execution id): a cursor only moves forwards.
    public func isAfter(_ other: DependencyCursor) -> Bool {
        (endedAt, executionID) > (other.endedAt, other.executionID)
    }
}

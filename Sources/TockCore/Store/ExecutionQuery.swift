import Foundation

/// A page of executions, newest first (by scheduled instant, then id): the API's `GET /api/v1/executions`.
public struct ExecutionQuery: Sendable, Hashable {
    public var jobID: String?
    /// Only executions of these jobs (a tag-scoped reader's); `nil`: any.
    public var jobIDs: Set<String>?
    public var state: ExecutionState?
    /// Scheduled at or after.
    public var from: Date?
    /// Scheduled at or before.
    public var to: Date?
    public var limit: Int
    /// Continue after this execution (the last of the previous page).
    public var after: ExecutionCursor?
    /// Whether to read the captured output too (a list usually does not need it).
    public var includeOutput: Bool

    public init(
        jobID: String? = nil, state: ExecutionState? = nil, from: Date? = nil, to: Date? = nil, limit: Int = 100,
        after: ExecutionCursor? = nil, includeOutput: Bool = false
    ) {
        self.jobID = jobID
        self.state = state
        self.from = from
        self.to = to
        self.limit = limit
        self.after = after
        self.includeOutput = includeOutput
    }

    /// Whether an execution belongs to the query (ignoring `limit`); what every store's SQL must agree with.
    public func matches(_ e: ExecutionRecord) -> Bool {
        if let jobID, e.jobID != jobID { return false }
        if let jobIDs, !jobIDs.contains(e.jobID) { return false }
        if let state, e.state != state { return false }
        if let from, e.scheduledAt < from { return false }
        if let to, e.scheduledAt > to { return false }
        if let after, !(e.scheduledAt < after.scheduledAt || (e.scheduledAt == after.scheduledAt && e.id < after.id)) {
            return false
        }
        return true
    }
}

/// Where a page of executions ended; opaque to API clients (`cursor=`).
public struct ExecutionCursor: Sendable, Hashable, CustomStringConvertible {
    public var scheduledAt: Date
    public var id: String

    public init(scheduledAt: Date, id: String) {
        self.scheduledAt = scheduledAt
        self.id = id
    }

    public init(after record: ExecutionRecord) {
        self.init(scheduledAt: record.scheduledAt, id: record.id)
    }

    /// `SECONDS_ID`, seconds since 1970 written so that they read back exactly.
    public var description: String { "\(scheduledAt.timeIntervalSince1970)_\(id)" }

    public init?(_ text: String) {
        guard let underscore = text.firstIndex(of: "_"),
            let seconds = Double(text[..<underscore]), seconds.isFinite
        else { return nil }
        let id = String(text[text.index(after: underscore)...])
        guard !id.isEmpty else { return nil }
        self.init(scheduledAt: Date(timeIntervalSince1970: seconds), id: id)
    }
}

/// A range of the audit log, newest first.
public struct AuditQuery: Sendable, Hashable {
    public var jobID: String?
    /// Only entries about these jobs (a tag-scoped reader's); `nil`: any.
    public var jobIDs: Set<String>?
    /// Whether logins, users and tokens events are included (admins only).
    public var includeSecurity: Bool
    public var from: Date?
    public var to: Date?
    public var limit: Int

    public init(
        jobID: String? = nil, jobIDs: Set<String>? = nil, includeSecurity: Bool = true, from: Date? = nil,
        to: Date? = nil, limit: Int = 1000
    ) {
        self.jobID = jobID
        self.jobIDs = jobIDs
        self.includeSecurity = includeSecurity
        self.from = from
        self.to = to
        self.limit = limit
    }

    public func matches(_ entry: AuditEntry) -> Bool {
        if let jobID, entry.jobID != jobID { return false }
        if let jobIDs, !jobIDs.contains(entry.jobID) { return false }
        if !includeSecurity, entry.event.isSecurity { return false }
        if let from, entry.createdAt < from { return false }
        if let to, entry.createdAt > to { return false }
        return true
    }
}

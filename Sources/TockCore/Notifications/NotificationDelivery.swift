import Foundation

/// One delivery of one notification event to one target: a row of the outbox.
///
/// Rows are written in the same transaction as the execution record that caused them (see
/// ``NotificationOutbox``), so a notification survives a `kill -9` exactly as the execution does. Delivery is
/// at least once: a receiver deduplicates on ``eventID`` (the `webhook-id` header, identical across retries).
///
/// No secret is ever stored here: a named notifier is stored by name and its URL and signing secret are read
/// from the server configuration when the delivery is attempted.
public struct NotificationDelivery: Sendable, Hashable {
    /// How the event leaves Tock.
    public enum Channel: String, Sendable, Hashable, CaseIterable, Codable {
        case webhook, command, mail
    }

    /// Where a delivery stands. `failed` means "an attempt failed; another is due at `nextAttemptAt`".
    public enum State: String, Sendable, Hashable, CaseIterable, Codable {
        case pending, delivering, delivered, failed, abandoned

        /// Whether nothing will be attempted any more (short of a retry asked for by a user).
        public var isFinal: Bool { self == .delivered || self == .abandoned }
    }

    /// A 32-hex-digit id.
    public var id: String
    /// The event's id (`evt_…`): the same for every target of one event and across retries.
    public var eventID: String
    /// `execution.failed`, `execution.succeeded`, `execution.recovered`, `execution.output` (cron mail), `test`.
    public var eventType: String
    public var jobID: String
    public var executionID: String?
    public var channel: Channel
    /// What the delivery goes to, as shown to users: `notifier:NAME`, a webhook URL, a command, addresses.
    public var target: String
    /// Channel details that are not secret: the user a command or the mailer runs as, the mail sender, a format.
    public var options: [String: String]
    public var state: State
    public var attempts: Int
    public var nextAttemptAt: Date
    public var lastAttemptAt: Date?
    /// HTTP status of the last attempt, or the exit status of a command or the mailer.
    public var lastStatus: Int?
    public var lastError: String?
    /// The first KiB of the last response (webhooks).
    public var responseExcerpt: String?
    /// The event as JSON (webhooks, commands) or the whole message (mail).
    public var payload: [UInt8]
    public var createdAt: Date
    public var deliveredAt: Date?

    public init(
        id: String = RandomID.make(), eventID: String, eventType: String, jobID: String, executionID: String?,
        channel: Channel, target: String, options: [String: String] = [:], payload: [UInt8], createdAt: Date
    ) {
        self.id = id
        self.eventID = eventID
        self.eventType = eventType
        self.jobID = jobID
        self.executionID = executionID
        self.channel = channel
        self.target = target
        self.options = options
        self.state = .pending
        self.attempts = 0
        self.nextAttemptAt = createdAt
        self.lastAttemptAt = nil
        self.lastStatus = nil
        self.lastError = nil
        self.responseExcerpt = nil
        self.payload = payload
        self.createdAt = createdAt
        self.deliveredAt = nil
    }
}

/// The result of one delivery attempt, as the worker records it.
public struct DeliveryAttempt: Sendable, Hashable {
    public enum Result: Sendable, Hashable {
        case delivered
        /// Try again (at the next step of the retry schedule, or at `retryAfter` if the receiver asked).
        case failed(retryAfter: Duration?)
        /// Never try again (HTTP 410, an unknown notifier, no mailer).
        case abandoned
    }

    public var result: Result
    public var status: Int?
    public var error: String?
    public var responseExcerpt: String?

    public init(_ result: Result, status: Int? = nil, error: String? = nil, responseExcerpt: String? = nil) {
        self.result = result
        self.status = status
        self.error = error
        self.responseExcerpt = responseExcerpt
    }
}

/// A page of deliveries: newest first (creation time, then id), optionally filtered.
public struct NotificationQuery: Sendable, Hashable {
    public var jobID: String?
    public var executionID: String?
    public var state: NotificationDelivery.State?
    public var channel: NotificationDelivery.Channel?
    public var limit: Int
    /// Only deliveries strictly older than this one (a keyset cursor).
    public var after: NotificationCursor?

    public init(
        jobID: String? = nil, executionID: String? = nil, state: NotificationDelivery.State? = nil,
        channel: NotificationDelivery.Channel? = nil, limit: Int = 100, after: NotificationCursor? = nil
    ) {
        self.jobID = jobID
        self.executionID = executionID
        self.state = state
        self.channel = channel
        self.limit = limit
        self.after = after
    }
}

/// Where a page of deliveries ends: `SECONDS_ID`, as the executions' cursor.
public struct NotificationCursor: Sendable, Hashable {
    public var createdAt: Date
    public var id: String

    public init(createdAt: Date, id: String) {
        self.createdAt = createdAt
        self.id = id
    }

    public init?(_ text: String) {
        guard let underscore = text.firstIndex(of: "_"), let seconds = Double(text[..<underscore]),
            seconds.isFinite
        else { return nil }
        let id = String(text[text.index(after: underscore)...])
        guard !id.isEmpty else { return nil }
        self.init(createdAt: Date(timeIntervalSince1970: seconds), id: id)
    }

    public var text: String { "\(createdAt.timeIntervalSince1970)_\(id)" }
}

import Foundation

/// The daemon's notification settings: the `[notifications]` and `[notifier.NAME]` sections of the server
/// configuration. Secrets (webhook URLs of named notifiers, signing secrets) live here only, never in the store.
public struct NotificationSettings: Sendable, Equatable {
    /// Named notifiers (`[notifier.NAME]`), by name.
    public var notifiers: [String: NotifierConfiguration] = [:]
    /// Notifiers used for `on_failure` when a job sets none.
    public var defaultOnFailure: [String] = []
    /// The mailer for `mail_to` and `mail` (cronie's `-m`); `nil` ("off"): nothing is mailed.
    public var mailer: String? = "/usr/sbin/sendmail"
    /// The sender when a job's env sets no `MAILFROM` (cronie: `root`).
    public var mailFrom = "root"
    /// Add cronie's `X-Cron-Env` headers (every variable of the job's env) to output mail. Off: they mail secrets.
    public var mailCronEnvironment = false
    /// Signing secret (`whsec_…`) for inline `webhook`s of job files.
    public var inlineWebhookSecret: String?
    /// Delay before each attempt: the first is 0 (at once); after the last, a delivery is abandoned.
    public var retryDelays: [Duration] = NotificationSettings.standardRetryDelays
    /// Each delay is spread by ± this fraction (so that a receiver that was down is not hit by every retry at once).
    public var retryJitter = 0.1
    public var webhookTimeout: Duration = .seconds(15)
    public var commandTimeout: Duration = .seconds(30)
    /// Deliveries attempted at once; a receiver that hangs holds one slot for at most its timeout.
    public var maxInFlight = 16
    /// Links in messages (`https://tock.example.com`).
    public var publicURL: String?
    /// This machine, as events and mail name it.
    public var host: String = ProcessInfo.processInfo.hostName
    /// The daemon's version, in events and the `User-Agent`.
    public var version = "0.x"
    /// The daemon's environment (for command hooks and the mailer).
    public var environment: [String: String] = ProcessInfo.processInfo.environment

    /// 0 s, 10 s, 1 min, 5 min, 15 min, 1 h, 3 h, 6 h, 12 h: nine attempts over about 22 hours.
    public static let standardRetryDelays: [Duration] = [
        .zero, .seconds(10), .seconds(60), .seconds(300), .seconds(900), .seconds(3600), .seconds(3 * 3600),
        .seconds(6 * 3600), .seconds(12 * 3600),
    ]

    public init() {}
}

/// A named notifier (`[notifier.NAME]` in the server configuration).
public struct NotifierConfiguration: Sendable, Hashable {
    /// The body a webhook receives.
    public enum Format: String, Sendable, Hashable, CaseIterable {
        /// Tock's event (with a `text` line that Slack and Mattermost show as is).
        case json
        /// `{"text": …}`.
        case slack
        /// A Microsoft Teams Workflows message with an Adaptive Card.
        case teams
    }

    public var name: String
    public var webhook: String?
    public var command: String?
    /// Addresses mailed a summary.
    public var mail: String?
    public var format: Format = .json
    /// `whsec_…`: webhooks are signed the Standard Webhooks way.
    public var secret: String?
    public var timeout: Duration?
    /// Whether the event carries the tail of the run's output.
    public var includeOutput = true

    public init(name: String, webhook: String? = nil, command: String? = nil, mail: String? = nil) {
        self.name = name
        self.webhook = webhook
        self.command = command
        self.mail = mail
    }
}

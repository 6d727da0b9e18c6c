import Foundation

extension TockConfiguration {
    /// An installed Tock's configuration (`scripts/install` writes it): read when neither `--config` nor
    /// `TOCK_CONFIG` names a file and it exists.
    public static let systemConfigurationFile = "/etc/tock/tock.toml"

    /// The configuration file to read, in this order: `explicit` (`--config`), `$TOCK_CONFIG`,
    /// ``systemConfigurationFile`` when it exists; `nil`: none (the built-in defaults, for a checkout).
    public static func configurationFile(
        explicit: String?, environment: [String: String], systemFile: String = systemConfigurationFile
    ) -> String? {
        if let explicit { return explicit }
        if let path = environment["TOCK_CONFIG"], !path.isEmpty { return path }
        return FileManager.default.fileExists(atPath: systemFile) ? systemFile : nil
    }

    /// The defaults, then `file` (when given), then the `TOCK_*` environment variables.
    public static func load(file: String?, environment: [String: String]) throws(Problem) -> TockConfiguration {
        var configuration = TockConfiguration()
        if let file { try configuration.apply(fileAt: file) }
        configuration.apply(environment: environment)
        return configuration
    }
}

import ArgumentParser
import CronKit
import Foundation
import TockApp
import TockCore

/// Where `tock users` and `tock tokens` find the store: the daemon's configuration, data directory or database.
/// They open it directly: whoever can read and write the data directory is already as powerful as an admin.
struct StoreOptions: ParsableArguments {
    @Option(
        help: "The daemon's TOML configuration file (default: $TOCK_CONFIG, else /etc/tock/tock.toml if it exists).")
    var config: String?

    @Option(help: "The daemon's data directory (default ./tock-data, or $TOCK_DATA_DIR).")
    var dataDir: String?

    @Option(help: "sqlite:PATH (default sqlite:<data-dir>/tock.sqlite).")
    var database: String?

    func open() throws -> any JobStore & AccessStore {
        let environment = ProcessInfo.processInfo.environment
        do {
            // The same search as `tock serve`: --config, $TOCK_CONFIG, then /etc/tock/tock.toml when it exists.
            var settings = try TockConfiguration.load(
                file: TockConfiguration.configurationFile(explicit: config, environment: environment),
                environment: environment)
            if let dataDir { settings.dataDirectory = dataDir }
            if let database { settings.database = database }
            return try TockApplication.openStoreForTools(settings)
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

/// The audit log's name for an account change made with the CLI: `cli:<login>`.
func cliActor() -> Actor {
    var login = ProcessInfo.processInfo.environment["SUDO_USER"] ?? ""
    if login.isEmpty, let record = getpwuid(getuid()) { login = String(cString: record.pointee.pw_name) }
    if login.isEmpty { login = "\(getuid())" }
    return Actor("cli:\(login)")
}

func auditAccountEvent(
    _ store: any JobStore, _ event: AuditEntry.Event, account: String, description: String
) async {
    try? await store.append(
        AuditEntry(
            jobID: "", jobName: account, event: event, user: cliActor().name, createdAt: Date(),
            description: description))
}

/// Reads a new password: one line of standard input with `--password-stdin`, else twice from the terminal.
func readNewPassword(fromStandardInput: Bool) throws -> String {
    if fromStandardInput {
        guard let line = readLine(strippingNewline: true) else {
            throw ValidationError("--password-stdin: standard input is empty")
        }
        return line
    }
    guard isatty(STDIN_FILENO) == 1 else {
        throw ValidationError("no terminal to ask for the password on: pass it on standard input with --password-stdin")
    }
    guard let first = getpass("Password: ").map({ String(cString: $0) }),
        let second = getpass("Password again: ").map({ String(cString: $0) })
    else { throw ValidationError("could not read the password") }
    guard first == second else { throw ValidationError("the two passwords differ") }
    return first
}

func parseTags(_ text: String?) -> Set<String>? {
    guard let text, !text.isEmpty else { return nil }
    return Set(text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
}

func accessFailure(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("tock: \(message)\n".utf8))
    return ExitCode(1)
}

/// `tock users add|list|passwd|disable|enable`: the web UI's users, on the store directly.
struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "Manage the web UI's users (on the server, with access to its data directory).",
        discussion: """
            Roles: viewer (read everything), operator (+ run now, stop, pause, resume), admin (+ create, edit and \
            delete API jobs, users, tokens). Passwords are stored as bcrypt hashes (cost 12): 8 characters to 72 \
            bytes. Disabling a user or changing a password ends their sessions at once.
            """,
        subcommands: [Add.self, List.self, Passwd.self, Disable.self, Enable.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The user name.") var name: String
        @Option(help: "viewer, operator or admin.") var role: String
        @Option(help: "Limit a viewer or operator to jobs with one of these tags (comma-separated).") var tags: String?
        @Flag(help: "Read the password from standard input (one line).") var passwordStdin = false

        func run() async throws {
            let role: Role
            do {
                try TockUser.validate(name: name)
                role = try Role(parsing: self.role)
            } catch { throw ValidationError(error.description) }
            let tags = parseTags(tags)
            if tags != nil && role == .admin { throw ValidationError("--tags: an admin cannot be limited to tags") }
            let password = try readNewPassword(fromStandardInput: passwordStdin)
            let hash: String
            do { hash = try Passwords.hash(password) } catch { throw ValidationError(error.description) }
            let store = try store.open()
            do {
                try await store.addUser(
                    TockUser(name: name, role: role, tags: tags, passwordHash: hash, createdAt: Date()))
            } catch let problem as AccessProblem {
                throw accessFailure(problem.description)
            }
            await auditAccountEvent(store, .userAdded, account: name, description: "role \(role.rawValue)")
            print(
                "added user \(name) (\(role.rawValue)\(tags.map { ", tags " + $0.sorted().joined(separator: ",") } ?? ""))"
            )
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let users = try await store.open().users()
            print("NAME\tROLE\tTAGS\tSTATE")
            for user in users {
                print(
                    [
                        user.name, user.role.rawValue, user.tags.map { $0.sorted().joined(separator: ",") } ?? "*",
                        user.disabled ? "disabled" : "active",
                    ].joined(separator: "\t"))
            }
        }
    }

    /// Changes one user; fails with exit 1 if there is none.
    static func change(
        _ options: StoreOptions, _ name: String, event description: String, _ edit: (inout TockUser) throws -> Void
    ) async throws {
        let store = try options.open()
        guard var user = try await store.user(named: name) else { throw accessFailure("no user named '\(name)'") }
        try edit(&user)
        user.updatedAt = Date()
        _ = try await store.updateUser(user)
        await auditAccountEvent(store, .userModified, account: name, description: description)
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a user's password (ends their sessions).")
        @OptionGroup var store: StoreOptions
        @Argument var name: String
        @Flag(help: "Read the password from standard input (one line).") var passwordStdin = false

        func run() async throws {
            let password = try readNewPassword(fromStandardInput: passwordStdin)
            let hash: String
            do { hash = try Passwords.hash(password) } catch { throw ValidationError(error.description) }
            try await UsersCommand.change(store, name, event: "password") { $0.passwordHash = hash }
            print("changed the password of \(name)")
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a user (ends their sessions at once).")
        @OptionGroup var store: StoreOptions
        @Argument var name: String

        func run() async throws {
            try await UsersCommand.change(store, name, event: "disabled") { $0.disabled = true }
            print("disabled \(name)")
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled user.")
        @OptionGroup var store: StoreOptions
        @Argument var name: String

        func run() async throws {
            try await UsersCommand.change(store, name, event: "enabled") { $0.disabled = false }
            print("enabled \(name)")
        }
    }
}

/// `tock tokens create|list|revoke`: API tokens, on the store directly.
struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Manage API tokens (on the server, with access to its data directory).",
        discussion: """
            A token is shown once, when created, and stored only as its SHA-256. Clients send it as \
            'Authorization: Bearer tock_…' (the CLI reads $TOCK_TOKEN).
            """,
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token and print it (once).")
        @OptionGroup var store: StoreOptions
        @Argument(help: "A name for the token (the audit log shows token:NAME).") var name: String
        @Option(help: "viewer, operator or admin.") var role: String
        @Option(help: "Limit a viewer or operator token to jobs with one of these tags (comma-separated).")
        var tags: String?
        @Option(help: "Expire after this long (e.g. 90d, 12h).") var expires: String?

        func run() async throws {
            let role: Role
            do {
                try APIToken.validate(name: name)
                role = try Role(parsing: self.role)
            } catch { throw ValidationError(error.description) }
            let tags = parseTags(tags)
            if tags != nil && role == .admin {
                throw ValidationError("--tags: an admin token cannot be limited to tags")
            }
            var expiry: Date?
            if let expires {
                guard let duration = try? Duration(parsing: expires), duration > .zero else {
                    throw ValidationError("--expires: '\(expires)' is not a duration such as 90d or 12h")
                }
                expiry = Date().addingTimeInterval(TimeInterval(duration.components.seconds))
            }
            let store = try store.open()
            let (token, secret) = TokenFactory.make(
                name: name, role: role, tags: tags, createdBy: cliActor().name, at: Date(), expiresAt: expiry)
            do { try await store.addToken(token) } catch let problem as AccessProblem {
                throw accessFailure(problem.description)
            }
            await auditAccountEvent(
                store, .tokenCreated, account: name, description: "role \(role.rawValue), id \(token.id)")
            print(secret)
            FileHandle.standardError.write(
                Data("token \(name) (\(role.rawValue), id \(token.id)): shown once; store it now\n".utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secrets).")
        @OptionGroup var store: StoreOptions
        @Flag(help: "Include revoked tokens.") var all = false

        func run() async throws {
            let tokens = try await store.open().tokens().filter { all || $0.revokedAt == nil }
            let format = ISO8601DateFormatter()
            print("ID\tNAME\tROLE\tTAGS\tEXPIRES\tLAST USED\tSTATE")
            for token in tokens {
                print(
                    [
                        token.id, token.name, token.role.rawValue,
                        token.tags.map { $0.sorted().joined(separator: ",") } ?? "*",
                        token.expiresAt.map(format.string(from:)) ?? "never",
                        token.lastUsedAt.map(format.string(from:)) ?? "never",
                        token.revokedAt != nil ? "revoked" : "active",
                    ].joined(separator: "\t"))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by name or id.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The token's name or id (tock_…, as listed).") var token: String

        func run() async throws {
            let store = try store.open()
            guard let revoked = try await store.revokeToken(token, at: Date()) else {
                throw accessFailure("no active token named or with id '\(token)'")
            }
            await auditAccountEvent(store, .tokenRevoked, account: revoked.name, description: "id \(revoked.id)")
            print("revoked \(revoked.name) (\(revoked.id))")
        }
    }
}

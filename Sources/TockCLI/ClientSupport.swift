import ArgumentParser
import Foundation
import TockClient
import TockJSON

/// Options every client subcommand takes.
struct ServerOptions: ParsableArguments {
    @Option(help: "The server's URL (default: $TOCK_SERVER or http://127.0.0.1:8888).")
    var server: String?

    @Option(
        help: ArgumentHelp(
            "For an https:// server: trust the CA certificates in this PEM file instead of the system's.",
            discussion: "Default: $TOCK_CACERT; without either, the system's CA certificates (or OpenSSL's "
                + "$SSL_CERT_FILE and $SSL_CERT_DIR).",
            valueName: "file"))
    var cacert: String?

    @Flag(help: "Print the server's JSON as it is.")
    var json = false

    func client() throws -> APIClient {
        let environment = ProcessInfo.processInfo.environment
        let url = server ?? environment["TOCK_SERVER"] ?? "http://127.0.0.1:8888"
        do {
            return try APIClient(
                server: url, token: environment["TOCK_TOKEN"], caFile: cacert ?? environment["TOCK_CACERT"])
        } catch {
            throw ValidationError(error.description)
        }
    }
}

/// Sends a request; on an error status prints the server's message and exits 1 (2 for a connection problem).
func call(
    _ client: APIClient, _ method: String, _ path: String, json: JSONValue? = nil, headers: [(String, String)] = []
) throws -> APIClient.Reply {
    let reply: APIClient.Reply
    do {
        reply = try client.send(method, path, json: json, headers: headers)
    } catch {
        FileHandle.standardError.write(Data("tock: \(error.description)\n".utf8))
        throw ExitCode(2)
    }
    guard (200..<300).contains(reply.status) else {
        let message = reply.json?["error"]?.stringValue ?? String(decoding: reply.body, as: UTF8.self)
        FileHandle.standardError.write(Data("tock: \(message) (HTTP \(reply.status))\n".utf8))
        throw ExitCode(1)
    }
    return reply
}

func percentEncoded(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
}

/// Prints rows as left-aligned columns.
func printTable(_ header: [String], _ rows: [[String]]) {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    for row in [header] + rows {
        let line = row.enumerated().map { i, cell in
            i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
        print(line)
    }
}

extension JSONValue {
    /// A short text for a table cell.
    var cell: String {
        switch self {
        case .null: "-"
        case .string(let text): text.isEmpty ? "-" : text
        case .int(let number): String(number)
        case .double(let number): String(number)
        case .bool(let flag): flag ? "yes" : "no"
        case .array(let items): items.map(\.cell).joined(separator: " ")
        case .object: jsonString
        }
    }
}

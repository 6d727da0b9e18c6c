import CronKit
import Foundation

/// Job ids for imported lines, and telling a system crontab from a user's.
extension CrontabImporter {
    // MARK: - Ids

    static func idFromCommand(_ command: String) -> String {
        let words = command.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        var parts: [String] = []
        for word in words {
            if word.contains("=") && parts.isEmpty { continue }  // VAR=value prefixes
            let name = (word as NSString).lastPathComponent
            if ["sudo", "nice", "ionice", "env", "cd", "&&", ";", "|", "-n", "timeout"].contains(name) { continue }
            if word.hasPrefix("-") || word.hasPrefix(">") || word.hasPrefix("2>") { continue }
            let base = (word as NSString).lastPathComponent
            let cleaned = slugText(base)
            if !cleaned.isEmpty { parts.append(cleaned) }
            if parts.count == 2 { break }
        }
        return parts.isEmpty ? "job" : parts.joined(separator: "-")
    }

    static func slug(_ text: String) -> String {
        let out = slugText(text)
        return out.isEmpty ? "job" : out
    }

    /// Lower-case letters and digits joined by single dashes, at most 40 characters; possibly empty.
    static func slugText(_ text: String) -> String {
        var out = ""
        var lastDash = false
        for c in text.lowercased() {
            if (c.isLetter || c.isNumber) && c.isASCII {
                out.append(c)
                lastDash = false
            } else if !lastDash && !out.isEmpty {
                out.append("-")
                lastDash = true
            }
            if out.count >= 40 { break }
        }
        while out.hasSuffix("-") { out.removeLast() }
        return out
    }

    static func uniqueID(base: String, used: inout Set<String>) -> String {
        var id = base
        var n = 2
        while used.contains(id) {
            id = "\(base)-\(n)"
            n += 1
        }
        used.insert(id)
        return id
    }

    static func detectSystemFormat(_ lines: [String], file: String, userExists: (String) -> Bool) -> Bool {
        if file == "/etc/crontab" || file.hasPrefix("/etc/cron.d/") { return true }
        var votes = 0
        var total = 0
        for raw in lines {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            if case .variable = variableLine(afterBlanks(raw)) { continue }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            let userIndex = line.hasPrefix("@") ? 1 : 5
            guard words.count > userIndex + 1 else { continue }
            total += 1
            if userExists(String(words[userIndex])) { votes += 1 }
        }
        // Most job lines have an existing user where a user crontab has the command's first word.
        return total > 0 && votes * 2 > total
    }
}

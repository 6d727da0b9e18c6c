import CronKit
import Foundation

/// Reading a crontab's lines and variable lines as cron does (cronie's user.c and env.c).
extension CrontabImporter {
    // MARK: - Lines

    /// One line of the file, without its line end.
    struct SourceLine: Equatable {
        var number: Int
        var text: String
        /// `false` for a last line without a final newline.
        var terminated: Bool
    }

    /// The file's lines, split at each `\n` scalar (a `Character` would hold `\r\n` as one, and never split a
    /// CRLF file); the `\r` of a `\r\n` is dropped, and the first line that had one is returned.
    static func sourceLines(_ text: String) -> (lines: [SourceLine], firstCRLF: Int?) {
        var lines: [SourceLine] = []
        var firstCRLF: Int?
        var current = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard scalar == "\n" else {
                current.append(scalar)
                continue
            }
            if current.last == "\r" {
                current.removeLast()
                firstCRLF = firstCRLF ?? lines.count + 1
            }
            lines.append(SourceLine(number: lines.count + 1, text: String(current), terminated: true))
            current = String.UnicodeScalarView()
        }
        if !current.isEmpty {
            lines.append(SourceLine(number: lines.count + 1, text: String(current), terminated: false))
        }
        return (lines, firstCRLF)
    }

    /// The line without its leading blanks (cron's `skip_comments`: spaces and tabs).
    static func afterBlanks(_ line: String) -> String {
        String(line.unicodeScalars.drop(while: { $0 == " " || $0 == "\t" }))
    }

    /// The 1-based column of the first NUL in a line, if any.
    static func nulColumn(_ line: String) -> Int? {
        let scalars = line.unicodeScalars
        return scalars.firstIndex(of: "\u{0}").map { scalars.distance(from: scalars.startIndex, to: $0) + 1 }
    }

    // MARK: - Variables

    /// What cron makes of a line as a variable.
    enum VariableLine: Equatable {
        /// `NAME=value`, quotes removed.
        case variable(name: String, value: String)
        /// Not a variable, nor meant as one (a job line, say).
        case notVariable
        /// Meant as a variable (it got as far as `=` or a quoted name), but not one to cron, for this reason.
        case malformed(String)
    }

    /// cronie's `load_env` (src/env.c), a state machine over the line after its leading blanks: a name, quoted
    /// (`'…'` or `"…"`, no `=` inside) or not (up to a blank or `=`); blanks; `=`; blanks; a value, quoted or not.
    /// After a closing quote only blanks may follow; an unquoted value runs to the end of the line (a `#` is part
    /// of it) less its trailing blanks; an empty value must be quoted. Blanks are C's `isspace`.
    static func variableLine(_ line: String) -> VariableLine {
        enum State { case nameStart, name, beforeEquals, afterEquals, valueStart, value, done }
        func isSpace(_ c: Unicode.Scalar) -> Bool { c == " " || (0x09...0x0D).contains(c.value) }
        let scalars = Array(line.unicodeScalars)
        var state = State.nameStart
        var quote: Unicode.Scalar?
        var name = String.UnicodeScalarView()
        var value = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            switch state {
            case .nameStart, .valueStart:
                if c == "'" || c == "\"" {
                    quote = c
                    i += 1
                }
                state = state == .nameStart ? .name : .value
            case .name, .value:
                if let quote {
                    if c == quote {
                        state = state == .name ? .beforeEquals : .done
                        i += 1
                        continue
                    }
                    if state == .name && c == "=" { return .malformed("'=' inside a quoted name") }
                } else if state == .name {
                    if isSpace(c) {
                        state = .beforeEquals
                        i += 1
                        continue
                    }
                    if c == "=" {
                        state = .beforeEquals
                        continue
                    }
                }
                if state == .name { name.append(c) } else { value.append(c) }
                i += 1
            case .beforeEquals:
                if c == "=" {
                    state = .afterEquals
                    quote = nil
                } else if !isSpace(c) {
                    return .notVariable
                }
                i += 1
            case .afterEquals, .done:
                if isSpace(c) {
                    i += 1
                } else if state == .afterEquals {
                    state = .valueStart
                } else {
                    return .malformed("text after the closing quote of the value (cron allows only blanks there)")
                }
            }
        }
        switch state {
        case .done:
            return .variable(name: String(name), value: String(value))
        case .value where quote == nil:
            while let last = value.last, isSpace(last) { value.removeLast() }
            return .variable(name: String(name), value: String(value))
        case .value:
            // Also a line ending right after the opening quote (cronie reads on past its buffer there).
            return .malformed("the closing quote of the value is missing")
        case .afterEquals:
            return .malformed("an empty value must be written in quotes (\(String(name))=\"\")")
        case .nameStart, .name, .beforeEquals, .valueStart:
            return .notVariable
        }
    }
}

import CronKit
import Foundation

/// Reading one key's value with its type and range, failing at its line with what was expected.
extension JobReader {
    mutating func string(_ table: DefinitionValue, _ jobKey: JobKey, required: Bool = false) -> String? {
        let key = jobKey.rawValue
        guard let value = table[key] else {
            if required {
                fail(nil, "needs '\(key)'")
                errors[errors.count - 1].missingKey = jobKey
            }
            return nil
        }
        guard let text = value.string else {
            fail(key, "must be a string, not \(value.type)")
            return nil
        }
        if let problem = Self.nulProblem(text) {
            fail(key, problem)
            return nil
        }
        return text
    }

    /// A NUL can reach no process: the kernel ends every argument and environment string at the first one, so
    /// `echo a\0; rm -rf x` would run as `echo a`. Refused wherever a string is read.
    static func nulProblem(_ text: String) -> String? {
        guard let offset = text.utf8.firstIndex(of: 0).map({ text.utf8.distance(from: text.utf8.startIndex, to: $0) })
        else { return nil }
        return "contains a NUL character (\\0) at byte \(offset); it cannot be passed to a process"
    }

    mutating func bool(_ table: DefinitionValue, _ jobKey: JobKey) -> Bool? {
        let key = jobKey.rawValue
        guard let value = table[key] else { return nil }
        guard let flag = value.bool else {
            fail(key, "must be true or false, not \(value.type)")
            return nil
        }
        return flag
    }

    mutating func int(_ table: DefinitionValue, _ jobKey: JobKey) -> Int? {
        let key = jobKey.rawValue
        guard let value = table[key] else { return nil }
        guard let number = value.int else {
            fail(key, "must be a whole number, not \(value.type)")
            return nil
        }
        return number
    }

    mutating func stringArray(_ table: DefinitionValue, _ jobKey: JobKey) -> [String]? {
        let key = jobKey.rawValue
        guard let value = table[key] else { return nil }
        guard let array = value.array else {
            fail(key, "must be an array of strings, not \(value.type)")
            return nil
        }
        var strings: [String] = []
        for element in array {
            guard let text = element.string else {
                fail(key, "must be an array of strings; found \(element.type)")
                return nil
            }
            if let problem = Self.nulProblem(text) {
                fail(key, problem)
                return nil
            }
            strings.append(text)
        }
        return strings
    }

    mutating func duration(_ table: DefinitionValue, _ jobKey: JobKey, allowZero: Bool) -> Duration? {
        let key = jobKey.rawValue
        guard let text = string(table, jobKey) else { return nil }
        do {
            let value = try Duration(parsing: text)
            if !allowZero && value <= .zero { fail(key, "must be longer than 0s") }
            return value
        } catch {
            fail(key, error.message)
            return nil
        }
    }
}

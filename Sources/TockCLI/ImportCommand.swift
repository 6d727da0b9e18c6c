import ArgumentParser
import Foundation
import TockCore

/// `tock import crontab [FILE|-] [--system] [--output FILE] [--force]`
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert other schedulers' jobs into jobs.d files.",
        subcommands: [ImportCrontabCommand.self, ImportNdschedulerCommand.self]
    )
}

struct ImportCrontabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crontab",
        abstract: "Convert a crontab into a jobs.d TOML file with the same meaning.",
        discussion: """
            Reads what `crontab -l` prints (or /etc/crontab and /etc/cron.d files with --system; the format is \
            detected when --system is not given). Writes TOML to --output or stdout; prints a summary and a \
            FILE:LINE warning for every line whose meaning could surprise on stderr. Lines cron would reject \
            (malformed schedules or variables, a command starting with '*', a NUL byte) are reported and skipped \
            (exit status 1 when there were any); a last line without a final newline, which cron never runs, is \
            imported with \(JobKey.enabled.rawValue) = false.
            """
    )

    @Argument(help: "The crontab file, or - for standard input.")
    var file: String = "-"

    @Flag(help: "System format: a user column after the schedule (/etc/crontab, /etc/cron.d/*).")
    var system = false

    @Option(help: "Write the jobs file here instead of to stdout.")
    var output: String?

    @Flag(help: "Overwrite --output if it exists.")
    var force = false

    func run() throws {
        let text: String
        let name: String
        if file == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            name = "<stdin>"
        } else {
            guard let data = FileHandle(forReadingAtPath: file)?.readDataToEndOfFile() else {
                note("cannot read \(file)")
                throw ExitCode(2)
            }
            text = String(decoding: data, as: UTF8.self)
            name = file
        }
        var result = CrontabImporter.parse(text, file: name, system: system ? true : nil)
        // A job Tock's reader would refuse is left out and reported: one odd line never costs the others.
        let toml = CrontabImporter.checkedTOML(&result, source: name)
        for diagnostic in (result.errors + result.warnings).sorted(by: { ($0.line, $0.message) < ($1.line, $1.message) }
        ) {
            let kind = result.errors.contains(diagnostic) ? "error" : "warning"
            note("\(diagnostic.file):\(diagnostic.line): \(kind): \(diagnostic.message)")
        }
        // Never write what Tock itself would reject.
        let check = JobDefinitionReader.parse(toml, file: output ?? "<output>")
        if !check.errors.isEmpty {
            for error in check.errors { note("internal: \(error)") }
            throw ExitCode(3)
        }
        if let output {
            if FileManager.default.fileExists(atPath: output) && !force {
                note("\(output) exists; nothing written (use --force to overwrite)")
                throw ExitCode(2)
            }
            do { try toml.write(toFile: output, atomically: true, encoding: .utf8) } catch {
                note("cannot write \(output): \(error.localizedDescription)")
                throw ExitCode(2)
            }
        } else {
            print(toml, terminator: "")
        }
        note(
            "\(result.jobs.count) jobs imported, \(result.errors.count) lines skipped, \(result.warnings.count) warnings"
                + (output.map { " → \($0)" } ?? ""))
        if !result.errors.isEmpty { throw ExitCode(1) }
    }

    private func note(_ message: String) {
        FileHandle.standardError.write(Data("tock import crontab: \(message)\n".utf8))
    }
}

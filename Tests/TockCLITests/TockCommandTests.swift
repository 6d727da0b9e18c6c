import Foundation
import Testing

/// The `tock` command itself, as a user runs it: the real binary.
struct TockCommandTests {
    @Test func version_printsTheVersionAndCommit_andSucceeds() throws {
        let result = try TockBinary.run(["--version"])
        #expect(result.status == 0)
        #expect(
            result.stdout.wholeMatch(of: /[0-9]+\.[0-9]+\.[0-9]+ \(commit ([0-9a-f]{12}(-dirty)?|unknown)\)\n/) != nil,
            "\(result.stdout)")
        #expect(result.stderr == "")
    }

    @Test func help_mentionsTheVersionFlag() throws {
        let result = try TockBinary.run(["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("--version"))
    }
}

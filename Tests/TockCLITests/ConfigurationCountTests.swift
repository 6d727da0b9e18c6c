import Foundation
import Testing
import TockApp
import TockCore

/// The notifications' count keys (`max_in_flight`, `max_in_flight_per_target`, `max_per_hour`): read from tock.toml,
/// and a bad value is refused naming the file, the section and the key.
struct ConfigurationCountTests {
    func load(_ text: String) throws -> TockConfiguration {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tock-\(UUID().uuidString).toml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        return try TockConfiguration.load(file: file.path, environment: [:])
    }

    func problem(_ text: String) -> String? {
        do {
            _ = try load(text)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func countsAreRead() throws {
        let configuration = try load(
            """
            [notifications]
            max_in_flight = 8
            max_in_flight_per_target = 2
            max_per_hour = 0

            [notifier.ops]
            webhook = "https://hooks.example.com/tock"
            max_per_hour = 5
            """)
        #expect(configuration.notifications.maxInFlight == 8)
        #expect(configuration.notifications.maxInFlightPerTarget == 2)
        #expect(configuration.notifications.maxPerHour == 0)
        #expect(configuration.notifications.notifiers["ops"]?.maxPerHour == 5)
    }

    @Test func badCountsNameTheKey() {
        let zero = problem("[notifications]\nmax_in_flight = 0\n")
        #expect(zero?.hasSuffix("notifications.max_in_flight must be a positive integer") == true, "\(zero ?? "")")
        let text = problem("[notifications]\nmax_in_flight_per_target = \"4\"\n")
        #expect(
            text?.hasSuffix("notifications.max_in_flight_per_target must be a positive integer") == true,
            "\(text ?? "")")
        let negative = problem("[notifier.ops]\nwebhook = \"https://hooks.example.com/t\"\nmax_per_hour = -1\n")
        #expect(
            negative?.hasSuffix("notifier.ops.max_per_hour must be 0 (no limit) or a positive integer") == true,
            "\(negative ?? "")")
    }
}

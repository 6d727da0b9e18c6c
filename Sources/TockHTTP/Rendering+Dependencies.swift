import Foundation
import TockCore
import TockJSON

extension Render {
    /// `downstream` (the jobs whose `after` names this one), `dependencies` (each upstream's state),
    /// `waiting_on` (the upstreams not satisfied now) and `blocked` (why it cannot run by dependency, or null).
    static func dependencyPairs(_ status: DependencyStatus) -> [(String, JSONValue)] {
        [
            ("downstream", strings(status.downstream)),
            (
                "dependencies",
                .array(
                    status.edges.map { edge in
                        .object([
                            ("job_id", .string(edge.jobID)),
                            ("known", .bool(edge.known)),
                            ("satisfied", .bool(edge.satisfied)),
                            ("last_success", time(edge.lastSuccess)),
                        ])
                    })
            ),
            ("waiting_on", strings(status.waitingOn)),
            ("blocked", status.blocked.map { .string($0) } ?? .null),
        ]
    }
}

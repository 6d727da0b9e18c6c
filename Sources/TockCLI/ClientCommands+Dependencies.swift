import TockJSON

/// `tock jobs show`: each job of `after` on a line of its own, with its state.
///
/// ```
/// dependencies:
///   extract: satisfied (last success 2026-11-30T02:41:00+00:00)
///   load: waiting (never succeeded)
/// ```
func printDependencies(_ job: JSONValue?) {
    guard case .array(let edges)? = job?["dependencies"], !edges.isEmpty else { return }
    print("dependencies:")
    for edge in edges {
        let id = edge["job_id"]?.cell ?? "-"
        let state =
            edge["known"] == .bool(false)
            ? "unknown job" : edge["satisfied"] == .bool(true) ? "satisfied" : "waiting"
        let last = edge["last_success"]?.stringValue.map { "last success \($0)" } ?? "never succeeded"
        print("  \(id): \(state) (\(last))")
    }
}

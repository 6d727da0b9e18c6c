extension JobCatalog {
    /// A job created or replaced through the API must not close a cycle of `after` with the jobs there are (files
    /// and API alike): `400 {"field": "after"}`, with the path.
    func refuseCycle(_ job: Job) async throws(Failure) {
        let graph = await scheduler.dependencyGraph().replacing(job.id, with: job.after)
        guard !job.after.isEmpty, let cycle = graph.cycles()[job.id] else { return }
        throw .invalid([.init(field: JobKey.after.rawValue, "cycle \(DependencyGraph.describe(cycle))")])
    }
}

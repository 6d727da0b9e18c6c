import Foundation

extension JobDirectory {
    /// The `after` checks across files: a cycle (self-edges are caught by the reader) is an error at each member's
    /// `after` line, and the files of its members yield no job (the rule of any error in a file); an upstream that
    /// is in no file is a warning (a job created through the API may provide it; the daemon shows the dependent
    /// `blocked` while it is missing).
    static func checkDependencies(_ jobs: [Job]) -> (jobs: [Job], errors: [JobFileError], warnings: [JobFileError]) {
        let graph = DependencyGraph(jobs: jobs)
        guard !graph.isEmpty else { return (jobs, [], []) }
        var indexes: [String: TOMLLineIndex] = [:]
        func afterLine(of job: Job) -> (file: String, line: Int) {
            guard case .file(let path, let line) = job.source else { return ("", 0) }
            if indexes[path] == nil {
                let text = FileManager.default.contents(atPath: path).flatMap { String(data: $0, encoding: .utf8) }
                indexes[path] = text.map(TOMLLineIndex.init)
            }
            return (path, indexes[path]?.line(table: "job.\(job.id)", key: JobKey.after.rawValue) ?? line)
        }
        let known = Set(jobs.map(\.id))
        let cycles = graph.cycles()
        var errors: [JobFileError] = []
        var warnings: [JobFileError] = []
        var brokenFiles: Set<String> = []
        for job in jobs where !job.after.isEmpty {
            let place = afterLine(of: job)
            if let cycle = cycles[job.id] {
                let reason = "cycle \(DependencyGraph.describe(cycle))"
                errors.append(
                    JobFileError(
                        file: place.file, line: place.line, message: "after: \(reason)", key: JobKey.after.rawValue,
                        reason: reason))
                brokenFiles.insert(place.file)
            }
            for upstream in job.after where !known.contains(upstream) {
                let reason = "'\(upstream)' is not in jobs.d (an API job?)"
                warnings.append(
                    JobFileError(
                        file: place.file, line: place.line, message: "job '\(job.id)': after: \(reason)",
                        key: JobKey.after.rawValue, reason: reason))
            }
        }
        let kept = jobs.filter { job in
            guard case .file(let path, _) = job.source else { return true }
            return !brokenFiles.contains(path)
        }
        return (kept, errors, warnings)
    }
}

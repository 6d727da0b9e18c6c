import Foundation
import Hummingbird
import TockCore

/// Tag scopes: a viewer or operator limited to tags sees only jobs with one of them, and their executions and
/// audit entries; any other id is answered 404, as if it did not exist.
extension TockAPI {
    /// The ids of the jobs the caller may see, or nil when it may see every job.
    func visibleJobIDs(_ context: some AccessRequestContext) async -> Set<String>? {
        guard let principal = context.access.principal, principal.tags != nil else { return nil }
        return Set(await scheduler.allStatuses().filter { principal.canSee(jobTags: $0.job.tags) }.map(\.job.id))
    }

    func isVisible(jobID: String, _ context: some AccessRequestContext) async -> Bool {
        guard let principal = context.access.principal else { return false }
        guard principal.tags != nil else { return true }
        guard let job = await scheduler.jobs(withIDs: [jobID])[jobID] else { return false }
        return principal.canSee(jobTags: job.tags)
    }

    func requireVisible(jobID: String, _ context: some AccessRequestContext) async throws {
        guard await isVisible(jobID: jobID, context) else { throw APIError(.notFound, "Job not found: \(jobID)") }
    }

    func requireVisible(executionID: String, _ context: some AccessRequestContext) async throws {
        guard context.access.principal?.tags != nil else { return }
        guard let record = try await store.execution(id: executionID, includeOutput: false),
            await isVisible(jobID: record.jobID, context)
        else { throw APIError(.notFound, "Execution not found: \(executionID)") }
    }
}

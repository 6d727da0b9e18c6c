import Foundation
import TockCore

/// Building the job lists' index, and keeping it in step: after a job is added, changed, removed, paused or
/// resumed, the index of the previous catalog version is patched with the statuses of the jobs that changed
/// (the scheduler keeps the log of them, ``Scheduler/catalogChanges(since:)``) instead of built again from every
/// job's status — the cost of a list request after a change is that of the change.
extension JobRenderCache.Index {
    /// Patching stops paying beyond this many jobs (a reload of a large jobs.d): the index is built again.
    static let patchLimit = 2_000

    init(version: Int, entries: [JobRenderCache.Entry], haystacks: [UInt8]) {
        var active = 0
        var paused = 0
        // Each tag's list made at its size (grown by appends, they held up to twice the memory).
        var sizes: [String: Int] = [:]
        for entry in entries {
            for tag in entry.tags { sizes[tag, default: 0] += 1 }
        }
        var tagged: [String: [String]] = [:]
        for (tag, size) in sizes { tagged[tag, default: []].reserveCapacity(size) }
        for entry in entries {
            if entry.enabled && !entry.paused { active += 1 }
            if entry.paused { paused += 1 }
            // Each tag once (no `Set` per job: 100,000 of them).
            for (n, tag) in entry.tags.enumerated() where !entry.tags[..<n].contains(tag) {
                tagged[tag, default: []].append(entry.id)
            }
        }
        self.init(
            version: version, entries: entries, active: active, paused: paused, tagged: tagged,
            dependents: entries.count { $0.dependent }, haystacks: haystacks)
    }

    /// The index of the jobs `ids` (sorted), their catalog entries read by `entriesOf` a slice at a time (the jobs
    /// are not all copied out of the scheduler at once); the entries of `previous` whose jobs did not change since
    /// are reused, search bytes included.
    static func built(
        version: Int, ids: [String], previous: Self?,
        entriesOf: (ArraySlice<String>) async -> [Scheduler.CatalogEntry]
    ) async -> Self {
        var kept: [String: JobRenderCache.Entry] = [:]
        if let previous {
            kept.reserveCapacity(previous.entries.count)
            for entry in previous.entries { kept[entry.id] = entry }
        }
        var entries: [JobRenderCache.Entry] = []
        entries.reserveCapacity(ids.count)
        var haystacks: [UInt8] = []
        let previousBytes = previous?.haystacks ?? []
        for start in stride(from: 0, to: ids.count, by: 2000) {
            for status in await entriesOf(ids[start..<min(start + 2000, ids.count)]) {
                entries.append(
                    JobRenderCache.Entry(status, reusing: kept[status.job.id], from: previousBytes, into: &haystacks))
            }
        }
        // Grown by appends, the buffer can be twice its size: kept at its size.
        (entries, haystacks) = compacted(entries, haystacks)
        return Self(version: version, entries: entries, haystacks: haystacks)
    }

    /// The index of every job of `snapshot`, made without the scheduler's actor (start-up holds it while it
    /// schedules every job) and without copying a job. Its entries are not reused by a later build (no revision).
    static func built(from snapshot: Scheduler.CatalogSnapshot) -> Self {
        var entries: [JobRenderCache.Entry] = []
        entries.reserveCapacity(snapshot.ids.count)
        // ~50 bytes a job in bench-scale's jobs: reserved, the buffer is not copied at each doubling.
        var haystacks: [UInt8] = []
        haystacks.reserveCapacity(snapshot.ids.count * 64)
        snapshot.forEachJob { job, paused, blocked in
            entries.append(
                JobRenderCache.Entry(job, paused: paused, blocked: blocked, revision: .min, into: &haystacks))
        }
        if haystacks.capacity > haystacks.count + haystacks.count / 2 {
            (entries, haystacks) = compacted(entries, haystacks)
        }
        return Self(version: snapshot.version, entries: entries, haystacks: haystacks)
    }

    /// Where `id` is in the entries, or would be.
    func slot(of id: String) -> (found: Bool, at: Int) {
        Self.slot(of: id, in: entries.lazy.map(\.id))
    }

    func contains(_ id: String) -> Bool { slot(of: id).found }

    static func slot<C: RandomAccessCollection<String>>(of id: String, in ids: C) -> (found: Bool, at: Int)
    where C.Index == Int {
        var low = ids.startIndex
        var high = ids.endIndex
        while low < high {
            let middle = (low + high) / 2
            if ids[middle] < id { low = middle + 1 } else { high = middle }
        }
        return (low < ids.endIndex && ids[low] == id, low)
    }

    /// The jobs whose entries a patch renews besides those that changed: the dependents (whether a job is
    /// blocked follows its upstreams).
    var dependentIDs: [String] { dependents == 0 ? [] : entries.filter(\.dependent).map(\.id) }

    /// This index with the entries of `changed` replaced by `statuses` (a job of `changed` with no entry is gone),
    /// as catalog version `version`.
    func patched(version: Int, changed: Set<String>, statuses: [Scheduler.CatalogEntry]) -> Self {
        var entries = entries
        var active = active
        var paused = paused
        var tagged = tagged
        var dependents = dependents
        // New search bytes go at the end; the replaced ones stay until they are half the buffer.
        var haystacks = haystacks
        var fresh: [String: Scheduler.CatalogEntry] = [:]
        for status in statuses { fresh[status.job.id] = status }
        for id in changed.union(fresh.keys).sorted() {
            let slot = Self.slot(of: id, in: entries.lazy.map(\.id))
            var previous: JobRenderCache.Entry?
            if slot.found {
                let old = entries[slot.at]
                previous = old
                if old.enabled && !old.paused { active -= 1 }
                if old.paused { paused -= 1 }
                if old.dependent { dependents -= 1 }
                for tag in Set(old.tags) {
                    if let at = tagged[tag].map({ Self.slot(of: id, in: $0) }), at.found {
                        tagged[tag]!.remove(at: at.at)
                        if tagged[tag]!.isEmpty { tagged[tag] = nil }
                    }
                }
            }
            guard let status = fresh[id] else {
                if slot.found { entries.remove(at: slot.at) }
                continue
            }
            let entry = JobRenderCache.Entry(status, reusing: previous, from: self.haystacks, into: &haystacks)
            if slot.found { entries[slot.at] = entry } else { entries.insert(entry, at: slot.at) }
            if entry.enabled && !entry.paused { active += 1 }
            if entry.paused { paused += 1 }
            if entry.dependent { dependents += 1 }
            for tag in Set(entry.tags) {
                let at = Self.slot(of: id, in: tagged[tag] ?? [])
                if !at.found { tagged[tag, default: []].insert(id, at: at.at) }
            }
        }
        if haystacks.count > 2 * entries.reduce(0, { $0 + $1.haystack.count }) + 65536 {
            (entries, haystacks) = Self.compacted(entries, haystacks)
        }
        return Self(
            version: version, entries: entries, active: active, paused: paused, tagged: tagged, dependents: dependents,
            haystacks: haystacks)
    }

    /// The entries with their search bytes copied into a buffer of their own, in order and of the exact size.
    static func compacted(_ entries: [JobRenderCache.Entry], _ bytes: [UInt8]) -> (
        [JobRenderCache.Entry], [UInt8]
    ) {
        var moved: [UInt8] = []
        moved.reserveCapacity(entries.reduce(0) { $0 + $1.haystack.count })
        let entries = entries.map { entry in
            let start = UInt32(moved.count)
            moved.append(contentsOf: bytes[Int(entry.haystack.lowerBound)..<Int(entry.haystack.upperBound)])
            return entry.moved(to: start)
        }
        return (entries, moved)
    }
}

import CTockSpawn

/// The process's memory, as the allocator holds it.
public enum SystemMemory {
    /// Returns memory freed by a large, short-lived load (parsing a big jobs.d) to the system. glibc keeps freed
    /// heap pages otherwise, and the resident size would stay at the load's peak for the life of the daemon.
    public static func releaseFreedMemory() {
        _ = tock_malloc_trim()
    }

    /// Makes buffers of 256 KiB and more (captured output, live tails, blobs) mappings of their own, handed back to
    /// the system when freed. By default glibc raises that threshold after each large free (up to 32 MiB), after
    /// which large output buffers come from the heap and their memory stays resident once freed.
    public static func returnLargeBuffersWhenFreed() {
        _ = tock_set_mmap_threshold(256 * 1024)
    }

    /// Keeps the allocator to a few arenas: with one per thread (NIO's loops, the dispatch and concurrency pools,
    /// each running job's reader), memory freed by one thread stays in its arena, and the resident size of a daemon
    /// serving every-second jobs and API requests crept up by ~1 MiB a minute.
    public static func limitArenas(_ arenas: Int = 2) {
        _ = tock_set_arena_max(Int32(arenas))
    }
}

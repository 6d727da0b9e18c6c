import CTockSpawn

/// The process's memory, as the allocator holds it.
public enum SystemMemory {
    /// Returns memory freed by a large, short-lived load (parsing a big jobs.d) to the system. glibc keeps freed
    /// heap pages otherwise, and the resident size would stay at the load's peak for the life of the daemon.
    public static func releaseFreedMemory() {
        _ = tock_malloc_trim()
    }
}

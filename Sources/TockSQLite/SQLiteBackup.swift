import Foundation
import GRDB

/// Copies of a Tock SQLite database through SQLite's online backup API (`tock backup`, `tock restore`).
///
/// A backup is a consistent snapshot even while a daemon writes: the copy is made in one step under one read
/// transaction, which in WAL mode blocks no writer. The result is a single file (journal mode `DELETE`, no `-wal`
/// beside it), created `0600` (it holds job output and environment values), checked with
/// `PRAGMA integrity_check` before it is given its name.
public enum SQLiteBackup {
    /// What a copy holds.
    public struct Summary: Sendable, CustomStringConvertible {
        public let bytes: Int
        public let executions: Int
        public let jobsFromAPI: Int
        public var description: String {
            "\(bytes) bytes, \(executions) executions, \(jobsFromAPI) jobs created through the API; integrity ok"
        }
    }

    /// Why a backup or restore did not happen.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Copies the database at `source` into the new file `destination`.
    /// - Throws: ``Failure`` when `source` does not exist, `destination` does, or the copy fails its check.
    @discardableResult
    public static func backup(from source: String, to destination: String) throws -> Summary {
        guard FileManager.default.fileExists(atPath: source) else { throw Failure("\(source): no such database") }
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw Failure("\(destination) exists; remove it or choose another name")
        }
        let reader = try openReadOnly(source)
        return try copy(from: reader, to: destination)
    }

    /// Replaces the database at `database` with the backup `backup`; the current file (and its `-wal` and `-shm`)
    /// is kept beside it as `DATABASE.before-restore-TIME`. The daemon must not be running.
    /// - Returns: what the restored database holds, and where the previous one was moved (`nil`: there was none).
    /// - Throws: ``Failure`` when the backup is missing, damaged or from a newer Tock.
    public static func restore(from backup: String, to database: String) throws -> (Summary, previous: String?) {
        guard FileManager.default.fileExists(atPath: backup) else { throw Failure("\(backup): no such file") }
        if let pid = processUsing(database) {
            throw Failure(
                "\(database) is open in process \(pid) (a running tock serve?); stop it first (systemctl stop tock)")
        }
        let reader = try openReadOnly(backup)
        try check(reader, path: backup)
        do { try SQLiteJobStore.refuseNewerDatabase(reader, path: backup) } catch {
            throw Failure("\(error)")
        }
        var previous: String?
        if FileManager.default.fileExists(atPath: database) {
            let stamp = Int(Date().timeIntervalSince1970)
            let aside = "\(database).before-restore-\(stamp)"
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: database + suffix) {
                try FileManager.default.moveItem(atPath: database + suffix, toPath: aside + suffix)
            }
            previous = aside
        }
        let summary = try copy(from: reader, to: database)
        return (summary, previous)
    }

    /// The process that has the database open, if any: every connection to a WAL database holds a shared lock
    /// on the dead-man-switch byte of its `-shm` file (byte 128: SQLite's `UNIX_SHM_DMS`), which `F_GETLK`
    /// reports with the holder's pid.
    public static func processUsing(_ database: String) -> pid_t? {
        let fd = open(database + "-shm", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = 128
        lock.l_len = 1
        guard fcntl(fd, F_GETLK, &lock) == 0, lock.l_type != Int16(F_UNLCK) else { return nil }
        return lock.l_pid
    }

    private static func openReadOnly(_ path: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        do { return try DatabaseQueue(path: path, configuration: configuration) } catch {
            throw Failure("\(path): cannot open: \(error)")
        }
    }

    /// Copies into a temporary file beside `destination`, checks it, then renames it.
    private static func copy(from reader: DatabaseQueue, to destination: String) throws -> Summary {
        let temporary = destination + ".partial-\(getpid())"
        let fd = open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw Failure("\(temporary): cannot create: \(String(cString: strerror(errno)))")
        }
        close(fd)
        do {
            let writer = try DatabaseQueue(path: temporary)
            try reader.backup(to: writer)
            try writer.writeWithoutTransaction { db in
                // The copy carries the source's WAL flag: a backup is one self-contained file.
                try db.execute(sql: "PRAGMA journal_mode = DELETE")
            }
            try check(writer, path: destination)
            let counts = try writer.read { db in
                (
                    try db.tableExists("execution") ? Int.fetchOne(db, sql: "SELECT count(*) FROM execution") ?? 0 : 0,
                    try db.tableExists("api_job") ? Int.fetchOne(db, sql: "SELECT count(*) FROM api_job") ?? 0 : 0
                )
            }
            try writer.close()
            guard rename(temporary, destination) == 0 else {
                throw Failure("\(destination): cannot write: \(String(cString: strerror(errno)))")
            }
            let size = (try? FileManager.default.attributesOfItem(atPath: destination)[.size] as? Int) ?? 0
            return Summary(bytes: size, executions: counts.0, jobsFromAPI: counts.1)
        } catch {
            for suffix in ["", "-journal", "-wal", "-shm"] { unlink(temporary + suffix) }
            if let failure = error as? Failure { throw failure }
            throw Failure("\(destination): \(error)")
        }
    }

    /// `PRAGMA integrity_check`, which answers `ok` or lists what is wrong.
    private static func check(_ reader: some DatabaseReader, path: String) throws {
        let result = try reader.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
        guard result == ["ok"] else {
            throw Failure("\(path) fails SQLite's integrity check: \(result.prefix(5).joined(separator: "; "))")
        }
    }
}

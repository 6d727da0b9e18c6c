import Foundation
import GRDB
import Logging
import TockCore
import TockJSON

/// Reading rows: explicit columns, by name; one policy for a row that cannot be read (``CorruptRow``).
extension SQLiteJobStore {
    // MARK: - Rows

    /// A row that cannot be read back as a value (see ``JobStore``): written by something else, or damaged.
    struct CorruptRow: Error, CustomStringConvertible {
        let table: String
        let row: String
        let reason: String

        var description: String { "\(table) row \(row): \(reason)" }
    }

    /// What `read` makes of each row; a row it cannot read is logged and left out (the policy of ``JobStore``).
    func readable<T>(_ rows: [Row], _ read: (Row) throws(CorruptRow) -> T) -> [T] {
        var values: [T] = []
        values.reserveCapacity(rows.count)
        for row in rows {
            do throws(CorruptRow) {
                values.append(try read(row))
            } catch {
                logger.error(
                    "a row of the store cannot be read; it is left out",
                    metadata: [
                        "store.table": "\(error.table)", "store.row": "\(error.row)", "error": "\(error.reason)",
                    ])
            }
        }
        return values
    }

    /// Where each column of an execution is in a result, found by name once per statement: reading every value by
    /// name costs a scan of the column names, which shows on a job list's thousands of rows.
    struct ExecutionColumns {
        let id, jobID, state, trigger, scheduledAt, startedAt, endedAt, host, pid, attempt, exitCode, signal: Int
        let message, stdout, stderr, stdoutBytes, stderrBytes: Int
        /// `nil` in a statement that does not select it.
        let definitionDigest: Int?

        init(_ names: [String]) throws {
            func column(_ name: String) throws -> Int {
                guard let position = names.firstIndex(of: name) else {
                    throw DatabaseError(message: "an execution query lacks the column \(name)")
                }
                return position
            }
            (id, jobID, state, trigger) = try (column("id"), column("job_id"), column("state"), column("trigger"))
            (scheduledAt, startedAt, endedAt) = try (column("scheduled_at"), column("started_at"), column("ended_at"))
            (host, pid, attempt) = try (column("host"), column("pid"), column("attempt"))
            (exitCode, signal, message) = try (column("exit_code"), column("signal"), column("message"))
            (stdout, stderr) = try (column("stdout"), column("stderr"))
            (stdoutBytes, stderrBytes) = try (column("stdout_bytes"), column("stderr_bytes"))
            definitionDigest = names.firstIndex(of: "definition_digest")
        }
    }

    /// The readable executions a statement selects (``executionColumns`` or ``columnsWithoutOutput``), in its order.
    func executions(_ statement: Statement, arguments: StatementArguments = []) throws -> [ExecutionRecord] {
        let rows = try Row.fetchAll(statement, arguments: arguments)
        guard !rows.isEmpty else { return [] }
        let columns = try ExecutionColumns(statement.columnNames)
        return readable(rows) { row throws(CorruptRow) in try Self.execution(from: row, columns) }
    }

    static func execution(from row: Row, _ c: ExecutionColumns) throws(CorruptRow) -> ExecutionRecord {
        do {
            return try decodeExecution(row, c)
        } catch let error as CorruptRow {
            throw error
        } catch {
            throw CorruptRow(table: "execution", row: rowName(row), reason: "\(error)")
        }
    }

    private static func decodeExecution(_ row: Row, _ c: ExecutionColumns) throws -> ExecutionRecord {
        let id: String = try row.decode(atIndex: c.id)
        let stateText: String = try row.decode(atIndex: c.state)
        let triggerText: String = try row.decode(atIndex: c.trigger)
        guard let state = ExecutionState(rawValue: stateText) else {
            throw CorruptRow(table: "execution", row: id, reason: "unknown state '\(stateText)'")
        }
        guard let trigger = ExecutionTrigger(rawValue: triggerText) else {
            throw CorruptRow(table: "execution", row: id, reason: "unknown trigger '\(triggerText)'")
        }
        var e = ExecutionRecord(
            id: id, jobID: try row.decode(atIndex: c.jobID), state: state, trigger: trigger,
            scheduledAt: Date(timeIntervalSince1970: try row.decode(atIndex: c.scheduledAt)),
            host: try row.decode(atIndex: c.host))
        e.startedAt = try row.decode(Double?.self, atIndex: c.startedAt).map { Date(timeIntervalSince1970: $0) }
        e.endedAt = try row.decode(Double?.self, atIndex: c.endedAt).map { Date(timeIntervalSince1970: $0) }
        e.pid = try row.decode(Int64?.self, atIndex: c.pid).map { Int32(truncatingIfNeeded: $0) }
        e.attempt = try row.decode(atIndex: c.attempt)
        e.exitCode = try row.decode(Int64?.self, atIndex: c.exitCode).map { Int32(truncatingIfNeeded: $0) }
        e.signal = try row.decode(Int64?.self, atIndex: c.signal).map { Int32(truncatingIfNeeded: $0) }
        e.message = try row.decode(atIndex: c.message)
        if let data = try row.decode(Data?.self, atIndex: c.stdout) { e.stdout = [UInt8](data) }
        if let data = try row.decode(Data?.self, atIndex: c.stderr) { e.stderr = [UInt8](data) }
        e.stdoutBytes = try row.decode(atIndex: c.stdoutBytes)
        e.stderrBytes = try row.decode(atIndex: c.stderrBytes)
        if let index = c.definitionDigest { e.definitionDigest = try row.decode(String?.self, atIndex: index) }
        return e
    }

    static func state(from row: Row) throws -> JobRuntimeState {
        JobRuntimeState(
            paused: try row.decode(forColumn: "paused"),
            lastScheduledAt: try row.decode(Double?.self, forColumn: "last_scheduled_at").map {
                Date(timeIntervalSince1970: $0)
            })
    }
    static func auditEntry(_ row: Row) throws(CorruptRow) -> AuditEntry {
        let corrupt = { (reason: String) in CorruptRow(table: "audit_log", row: Self.rowName(row), reason: reason) }
        do {
            let event: String = try row.decode(forColumn: "event")
            guard let known = AuditEntry.Event(rawValue: event) else { throw corrupt("unknown event '\(event)'") }
            return AuditEntry(
                id: try row.decode(forColumn: "id"), jobID: try row.decode(forColumn: "job_id"),
                jobName: try row.decode(forColumn: "job_name"), event: known, user: try row.decode(forColumn: "user"),
                createdAt: Date(timeIntervalSince1970: try row.decode(forColumn: "created_at")),
                description: try row.decode(forColumn: "description"),
                address: try row.decode(String?.self, forColumn: "address"))
        } catch let error as CorruptRow {
            throw error
        } catch {
            throw corrupt("\(error)")
        }
    }

    static func apiJob(_ row: Row) throws(CorruptRow) -> APIJobDefinition {
        let corrupt = { (reason: String) in CorruptRow(table: "api_job", row: Self.rowName(row), reason: reason) }
        do {
            let text: String = try row.decode(forColumn: "definition")
            let body: JSONValue
            do { body = try JSONValue.parse(Array(text.utf8)) } catch {
                throw corrupt("the definition is not JSON: \(error)")
            }
            guard case .object = body else { throw corrupt("the definition is not a JSON object") }
            return APIJobDefinition(id: try row.decode(forColumn: "id"), body: body)
        } catch let error as CorruptRow {
            throw error
        } catch {
            throw corrupt("\(error)")
        }
    }

    static func rowName(_ row: Row) -> String {
        let value: DatabaseValue = row["id"]
        return String.fromDatabaseValue(value) ?? value.description
    }
}

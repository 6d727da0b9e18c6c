#if Postgres
    import Foundation
    import Logging
    import PostgresNIO
    import TockCore
    import TockJSON

    /// Reading rows: explicit columns, by position; one policy for a row that cannot be read (``CorruptRow``).
    extension PostgresJobStore {
        /// A row that cannot be read back as a value (see ``JobStore``): written by something else, or damaged.
        struct CorruptRow: Error, CustomStringConvertible {
            let row: String
            let reason: String

            var description: String { "row \(row): \(reason)" }
        }

        /// What `read` makes of each row; a row it cannot read is logged and left out (the policy of ``JobStore``).
        func readable<T>(_ rows: [PostgresRow], table: String, _ read: (PostgresRow) throws -> T) -> [T] {
            var values: [T] = []
            values.reserveCapacity(rows.count)
            for row in rows {
                do {
                    values.append(try read(row))
                } catch {
                    let name =
                        (error as? CorruptRow)?.row ?? (try? row.makeRandomAccess()[0].decode(String.self)) ?? "?"
                    let reason = (error as? CorruptRow)?.reason ?? "\(error)"
                    logger.error(
                        "a row of the store cannot be read; it is left out",
                        metadata: ["store.table": "\(table)", "store.row": "\(name)", "error": "\(reason)"])
                }
            }
            return values
        }

        /// An execution from ``executionColumns`` (or ``columnsWithoutOutput``), in that order.
        static func execution(from row: PostgresRow) throws -> ExecutionRecord {
            let c = row.makeRandomAccess()
            let id = try c[0].decode(String.self)
            let stateText = try c[2].decode(String.self)
            let triggerText = try c[3].decode(String.self)
            guard let state = ExecutionState(rawValue: stateText) else {
                throw CorruptRow(row: id, reason: "unknown state '\(stateText)'")
            }
            guard let trigger = ExecutionTrigger(rawValue: triggerText) else {
                throw CorruptRow(row: id, reason: "unknown trigger '\(triggerText)'")
            }
            var e = ExecutionRecord(
                id: id, jobID: try c[1].decode(String.self), state: state, trigger: trigger,
                scheduledAt: try c[4].decode(Date.self), host: try c[7].decode(String.self))
            e.startedAt = try c[5].decode(Date?.self)
            e.endedAt = try c[6].decode(Date?.self)
            e.pid = try c[8].decode(Int32?.self)
            e.attempt = try c[9].decode(Int.self)
            e.exitCode = try c[10].decode(Int32?.self)
            e.signal = try c[11].decode(Int32?.self)
            e.message = try c[12].decode(String?.self)
            if let bytes = try c[13].decode(ByteBuffer?.self) { e.stdout = Array(bytes.readableBytesView) }
            if let bytes = try c[14].decode(ByteBuffer?.self) { e.stderr = Array(bytes.readableBytesView) }
            e.stdoutBytes = try c[15].decode(Int.self)
            e.stderrBytes = try c[16].decode(Int.self)
            e.definitionDigest = try c[17].decode(String?.self)
            return e
        }

        /// `id, job_id, job_name, event, user_name, created_at, description, address`.
        static func auditEntry(from row: PostgresRow) throws -> AuditEntry {
            let (id, jobID, jobName, event, user, createdAt, description, address) = try row.decode(
                (Int64, String, String, String, String, Date, String, String?).self)
            guard let known = AuditEntry.Event(rawValue: event) else {
                throw CorruptRow(row: "\(id)", reason: "unknown event '\(event)'")
            }
            return AuditEntry(
                id: id, jobID: jobID, jobName: jobName, event: known, user: user, createdAt: createdAt,
                description: description, address: address)
        }

        /// `id, definition`.
        static func apiJob(from row: PostgresRow) throws -> APIJobDefinition {
            let (id, text) = try row.decode((String, String).self)
            let body: JSONValue
            do { body = try JSONValue.parse(Array(text.utf8)) } catch {
                throw CorruptRow(row: id, reason: "the definition is not JSON: \(error)")
            }
            guard case .object = body else { throw CorruptRow(row: id, reason: "the definition is not a JSON object") }
            return APIJobDefinition(id: id, body: body)
        }
    }
#endif

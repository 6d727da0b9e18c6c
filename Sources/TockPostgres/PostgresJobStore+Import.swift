#if Postgres
    import Foundation
    import PostgresNIO
    import TockCore

    /// Rows written as they come, for `tock migrate-store`: a table, its columns and typed values, in batches; a row
    /// whose key is already there is left as it is (`ON CONFLICT DO NOTHING`), so a copy that failed half-way can be
    /// run again and completes what is missing.
    extension PostgresJobStore {
        /// A value to write, typed as the column it goes to.
        public enum ImportedValue: Sendable, Hashable {
            case null
            case integer(Int64)
            case int32(Int32)
            case double(Double)
            case text(String)
            case bytes([UInt8])
            case time(Date)
            case bool(Bool)
        }

        /// Inserts `rows` (each the values of `columns`, in order) into `table` in one transaction; returns how many
        /// were new. With `overridingIdentity`, the rows keep their own values of an identity column (the audit log's
        /// ids, which order it).
        @discardableResult
        public func importRows(
            into table: String, columns: [String], rows: [[ImportedValue]], overridingIdentity: Bool = false
        ) async throws -> Int {
            guard !rows.isEmpty else { return 0 }
            var binds = PostgresBindings(capacity: rows.count * columns.count)
            var tuples: [String] = []
            tuples.reserveCapacity(rows.count)
            for row in rows {
                precondition(row.count == columns.count, "a row of \(table) has \(row.count) values")
                var placeholders: [String] = []
                for value in row {
                    switch value {
                    case .null: binds.appendNull()
                    case .integer(let number): binds.append(number)
                    case .int32(let number): binds.append(number)
                    case .double(let number): binds.append(number)
                    case .text(let text): binds.append(text)
                    case .bytes(let bytes): binds.append(ByteBuffer(bytes: bytes))
                    case .time(let date): binds.append(date)
                    case .bool(let flag): binds.append(flag)
                    }
                    placeholders.append("$\(binds.count)")
                }
                tuples.append("(" + placeholders.joined(separator: ", ") + ")")
            }
            let sql = """
                INSERT INTO \(table) (\(columns.joined(separator: ", ")))\(overridingIdentity ? " OVERRIDING SYSTEM VALUE" : "")
                VALUES \(tuples.joined(separator: ", ")) ON CONFLICT DO NOTHING RETURNING 1
                """
            let query = PostgresQuery(unsafeSQL: sql, binds: binds)
            return try await transaction { connection in
                try await connection.query(query, logger: self.logger).collect().count
            }
        }

        /// How many rows `table` holds.
        public func count(of table: String) async throws -> Int {
            let rows = try await run(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)"))
            return try rows.first?.decode(Int.self) ?? 0
        }

        /// Moves an identity column's sequence past the largest value in it (after rows kept their own values).
        public func advanceIdentity(of table: String, column: String) async throws {
            try await run(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT setval(pg_get_serial_sequence('\(table)', '\(column)'),
                            GREATEST((SELECT max(\(column)) FROM \(table)), 1))
                        """))
        }
    }
#endif

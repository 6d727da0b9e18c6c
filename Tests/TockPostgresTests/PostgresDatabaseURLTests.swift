import Testing
import TockPostgres

/// Tock reads `postgres://` URLs itself (postgres-nio has none); with or without the `Postgres` trait.
struct PostgresDatabaseURLTests {
    @Test func readsEveryPart_andDecodesPercentEscapes() throws {
        let url = try PostgresDatabaseURL(
            parsing: "postgresql://tock%40ops:p%3Ass@db.example.com:6543/cron%20db?sslmode=require")
        #expect(url.user == "tock@ops" && url.password == "p:ss")
        #expect(url.host == "db.example.com" && url.port == 6543 && url.database == "cron db")
        #expect(url.tls == .require && url.unixSocketPath == nil)
        #expect(!url.description.contains("p:ss"), "the password never reaches a log")
    }

    @Test func defaults_portDatabaseAndTLS_asLibpq() throws {
        let url = try PostgresDatabaseURL(parsing: "postgres://tock@localhost")
        #expect(url.port == 5432 && url.database == "tock" && url.tls == .prefer && url.password == nil)
    }

    @Test func aSocketDirectory_meansAUnixSocket() throws {
        let url = try PostgresDatabaseURL(parsing: "postgres://tock@/tock?host=/run/postgresql&sslmode=disable")
        #expect(url.unixSocketPath == "/run/postgresql/.s.PGSQL.5432" && url.tls == .disable)
    }

    @Test(arguments: [
        "sqlite:/tmp/x", "postgres://localhost/tock", "postgres://tock@db:99999/x",
        "postgres://tock@db/x?sslmode=maybe",
        "postgres://tock@db/x?pool=3", "postgres://tock@db/a/b",
    ])
    func rejects_withAReason(_ text: String) {
        #expect(throws: PostgresDatabaseURL.Problem.self) { try PostgresDatabaseURL(parsing: text) }
    }

    @Test func aRejectedURL_hidesItsPassword() {
        let error = #expect(throws: PostgresDatabaseURL.Problem.self) {
            try PostgresDatabaseURL(parsing: "postgres://:secret@db/x")
        }
        #expect(error?.description.contains("secret") == false)
        #expect(error?.description.contains("***") == true)
    }
}

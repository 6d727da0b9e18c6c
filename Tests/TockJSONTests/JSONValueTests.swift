import Foundation
import Testing
import TockJSON

/// The API's JSON reader and writer.
struct JSONValueTests {
    @Test func readsAndWritesEveryKind() throws {
        let text = #"{"a":1,"b":-2.5,"c":"x\"y\n\u00e9\ud83d\ude00","d":[true,false,null],"e":{},"f":[]}"#
        let value = try JSONValue.parse(Array(text.utf8))
        #expect(value["a"] == 1 && value["b"] == .double(-2.5) && value["d"] == [true, false, nil])
        #expect(value["c"] == .string("x\"y\né😀"))
        #expect(value.objectPairs?.map(\.0) == ["a", "b", "c", "d", "e", "f"], "key order kept")
        // Written back, it reads the same.
        #expect(try JSONValue.parse(value.jsonBytes) == value)
        // Written text is inert in HTML.
        #expect(JSONValue.string("</script><b>&").jsonString == #""\u003c/script\u003e\u003cb\u003e\u0026""#)
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", #"{"a":1,}"#, #"{"a" 1}"#, "01", "1.", "-", "+1", "tru", "nul", #""\x""#,
        #""\ud800""#, #""\udc00x""#, "\"a\u{01}b\"", "1 2", "[1] x", "NaN", "1e999",
    ])
    func rejectsMalformedText(text: String) {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array(text.utf8)) }
    }

    @Test func rejectsBadUTF8AndDeepNesting() {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse([0x22, 0xC3, 0x28, 0x22]) }
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array(deep.utf8)) }
        let fine = String(repeating: "[", count: 60) + String(repeating: "]", count: 60)
        #expect(throws: Never.self) { try JSONValue.parse(Array(fine.utf8)) }
    }

    @Test func numbers() throws {
        #expect(try JSONValue.parse(Array("9223372036854775807".utf8)) == .int(Int.max))
        #expect(try JSONValue.parse(Array("9223372036854775808".utf8)) == .double(9.223372036854775808e18))
        #expect(try JSONValue.parse(Array("1e3".utf8)) == .double(1000))
        #expect(try JSONValue.parse(Array("-0".utf8)) == .int(0))
    }
}

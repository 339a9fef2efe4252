import StreamsJSON
import Testing

@Suite("JSONFieldExtractor")
struct JSONFieldExtractorTests {
    @Test("locates fields of every kind with their raw byte ranges")
    func locatesEveryKind() throws {
        let line = #" { "a" : "x\"y" , "b": [1, {"c": 2}], "c" :{"d":null, "e": -1.5e3}, "t":true,"f":false,"o":{} } "#
        let paths = ["a", "b", "c.d", "c.e", "c", "t", "f", "o", "z", "c.z", "a.x", "b.c"]
        let fields = try scan(line, paths: paths).get()
        let kinds = fields.map(\.kind)
        #expect(
            kinds == [
                .string, .array, .null, .number, .object, .true, .false, .object, .missing, .missing, .missing,
                .missing,
            ])
        #expect(text(of: fields[0], in: line) == #""x\"y""#)
        #expect(text(of: fields[1], in: line) == #"[1, {"c": 2}]"#)
        #expect(text(of: fields[2], in: line) == "null")
        #expect(text(of: fields[3], in: line) == "-1.5e3")
        #expect(text(of: fields[4], in: line) == #"{"d":null, "e": -1.5e3}"#)
        #expect(text(of: fields[7], in: line) == "{}")
        #expect(fields[8] == .missing)
    }

    @Test("matches keys after decoding their escapes")
    func matchesEscapedKeys() throws {
        let line = #"{"caf\u00e9":{"\u0069d":1},"\ud83d\ude00":"smile","a\"b":2,"a\\b":3}"#
        let fields = try scan(line, paths: ["café.id", "😀", "a\"b", "a\\b", "cafe"]).get()
        #expect(fields.map { text(of: $0, in: line) } == ["1", #""smile""#, "2", "3", ""])
    }

    @Test("an escaped key that only shares a prefix does not match")
    func escapedPrefixDoesNotMatch() throws {
        let line = #"{"i\u0064x":1,"\u0069":2}"#
        let fields = try scan(line, paths: ["id", "i"]).get()
        #expect(fields[0].kind == .missing)
        #expect(text(of: fields[1], in: line) == "2")
    }

    @Test(
        "duplicate keys: the last occurrence wins, replacing the whole earlier value",
        arguments: [
            (#"{"a":1,"a":2}"#, "a", "2"),
            (#"{"o":{"id":1},"o":{"x":2}}"#, "o.id", ""),
            (#"{"o":{"id":1},"o":5}"#, "o.id", ""),
            (#"{"o":5,"o":{"id":1}}"#, "o.id", "1"),
            (#"{"o":{"id":1,"id":"z"}}"#, "o.id", #""z""#),
            (#"{"a":"x","b":0,"a":null}"#, "a", "null"),
        ])
    func lastDuplicateWins(line: String, path: String, expected: String) throws {
        let fields = try scan(line, paths: [path]).get()
        #expect(text(of: fields[0], in: line) == expected)
    }

    @Test("does not look inside arrays or through scalars")
    func pathsDoNotCrossArraysOrScalars() throws {
        let line = #"{"a":[{"b":1}],"c":"d","e":{"f":[]}}"#
        let fields = try scan(line, paths: ["a.b", "c.d", "e.f", "e.f.g"]).get()
        #expect(fields.map(\.kind) == [.missing, .missing, .array, .missing])
    }

    @Test("the same path twice and a path that is a prefix of another are both reported")
    func overlappingPaths() throws {
        let line = #"{"order":{"id":7,"at":"x"}}"#
        let fields = try scan(line, paths: ["order.id", "order", "order.id"]).get()
        #expect(text(of: fields[0], in: line) == "7")
        #expect(text(of: fields[1], in: line) == #"{"id":7,"at":"x"}"#)
        #expect(text(of: fields[2], in: line) == "7")
    }

    @Test("whitespace is allowed wherever JSON allows it, including a trailing CR")
    func whitespaceEverywhere() throws {
        let line = " \t{\n\"a\"\r: [ 1 , { \"b\" : true } ] ,\"c\":{ \"d\" : \"e\" } }\r\n"
        let fields = try scan(line, paths: ["a", "c.d"]).get()
        #expect(text(of: fields[0], in: line) == "[ 1 , { \"b\" : true } ]")
        #expect(text(of: fields[1], in: line) == "\"e\"")
    }

    @Test("long strings with every special byte at every position of the 8-byte fast path")
    func stringFastPathBoundaries() throws {
        for special in [#"\""#, #"\\"#, "é", "😀", #"\n"#] {
            for padding in 0..<17 {
                let content = String(repeating: "x", count: padding) + special + String(repeating: "y", count: 9)
                let line = #"{"s":""# + content + #"","t":1}"#
                let fields = try scan(line, paths: ["s", "t"]).get()
                #expect(text(of: fields[0], in: line) == "\"" + content + "\"")
                #expect(text(of: fields[1], in: line) == "1")
            }
        }
        for padding in 0..<17 {
            var line = Array(#"{"s":""#.utf8) + Array(repeating: UInt8(ascii: "x"), count: padding)
            line += [0x01] + Array(repeating: UInt8(ascii: "y"), count: 9) + Array(#""}"#.utf8)
            let result = scan(line, paths: ["s"])
            #expect(throws: JSONFieldError.self) { try result.get() }
            if case .failure(let error) = result {
                #expect(error.code == .invalidString)
                #expect(error.offset == 6 + padding)
            }
        }
    }

    @Test("nesting up to the maximum depth is accepted, one more is rejected")
    func depthLimit() throws {
        let maximum = JSONFieldExtractor.maximumDepth
        func nested(_ depth: Int) -> String {
            // The record object is one level; the rest are arrays.
            #"{"a":"# + String(repeating: "[", count: depth - 1) + String(repeating: "]", count: depth - 1) + "}"
        }
        _ = try scan(nested(maximum), paths: []).get()
        _ = try scan(nested(maximum), paths: ["a"]).get()
        for paths in [[], ["a"]] {
            let result = scan(nested(maximum + 1), paths: paths)
            #expect(throws: JSONFieldError.self) { try result.get() }
            if case .failure(let error) = result {
                #expect(error.code == .tooDeep)
            }
        }
        let objects =
            String(repeating: #"{"a":"#, count: maximum + 1) + "1" + String(repeating: "}", count: maximum + 1)
        let deepPath = Array(repeating: "a", count: maximum + 1).joined(separator: ".")
        for paths in [[], [deepPath]] {
            if case .failure(let error) = scan(objects, paths: paths) {
                #expect(error.code == .tooDeep)
            } else {
                Issue.record("expected tooDeep for \(maximum + 1) nested objects")
            }
        }
    }

    @Test("a failed scan leaves every field missing")
    func failedScanClearsFields() throws {
        var extractor = JSONFieldExtractor(paths: [try JSONFieldPath("a")])
        try Array(#"{"a":1}"#.utf8).withUnsafeBytes { try extractor.extract(from: $0) }
        #expect(extractor[0].kind == .number)
        #expect(throws: JSONFieldError.self) {
            try Array(#"{"a":1,"#.utf8).withUnsafeBytes { try extractor.extract(from: $0) }
        }
        #expect(extractor[0] == .missing)
    }

    static let malformed: [(String, JSONFieldError.Code, Int)] = [
        ("", .emptyInput, 0),
        ("  \t", .emptyInput, 3),
        ("[1]", .notAnObject, 0),
        ("  5", .notAnObject, 2),
        (#""a""#, .notAnObject, 0),
        ("{", .unexpectedEnd, 1),
        (#"{"a":1"#, .unexpectedEnd, 6),
        (#"{"a":"xy"#, .unexpectedEnd, 8),
        (#"{"a":[1,2"#, .unexpectedEnd, 9),
        (#"{"a":"#, .unexpectedEnd, 5),
        (#"{"a":tr"#, .unexpectedEnd, 5),
        (#"{"a":-"#, .unexpectedEnd, 6),
        (#"{"a":"\u12"#, .unexpectedEnd, 6),
        (#"{"a":1,}"#, .unexpectedCharacter, 7),
        (#"{"a" 1}"#, .unexpectedCharacter, 5),
        ("{a:1}", .unexpectedCharacter, 1),
        (#"{"a":1 "b":2}"#, .unexpectedCharacter, 7),
        (#"{"a":[1,2}"#, .unexpectedCharacter, 9),
        (#"{"a":[1,]}"#, .unexpectedCharacter, 8),
        (#"{"a":{"b":1]}"#, .unexpectedCharacter, 11),
        (#"{"a":+1}"#, .unexpectedCharacter, 5),
        (#"{"a":'x'}"#, .unexpectedCharacter, 5),
        (#"{"a":1x}"#, .unexpectedCharacter, 6),
        (#"{"a":tru}"#, .invalidLiteral, 8),
        (#"{"a":nulL}"#, .invalidLiteral, 8),
        (#"{"a":folse}"#, .invalidLiteral, 6),
        (#"{"a":01}"#, .invalidNumber, 6),
        (#"{"a":-01}"#, .invalidNumber, 7),
        (#"{"a":1.}"#, .invalidNumber, 7),
        (#"{"a":.5}"#, .unexpectedCharacter, 5),
        (#"{"a":-x}"#, .invalidNumber, 6),
        (#"{"a":1e}"#, .invalidNumber, 7),
        (#"{"a":1e+}"#, .invalidNumber, 8),
        (#"{"a":"\x"}"#, .invalidEscape, 6),
        (#"{"a":"\u12G4"}"#, .invalidEscape, 6),
        (#"{"a":"\ud800"}"#, .invalidEscape, 6),
        (#"{"a":"\ud800\u0041"}"#, .invalidEscape, 12),
        (#"{"a":"x\udc00"}"#, .invalidEscape, 7),
        ("{\"a\":\"tab\there\"}", .invalidString, 9),
        ("{\"a\":\"\0\"}", .invalidString, 6),
        (#"{"a":1} x"#, .trailingCharacters, 8),
        (#"{"a":1}{}"#, .trailingCharacters, 7),
        (#"{"a":1},"#, .trailingCharacters, 7),
    ]

    @Test("malformed lines fail with the expected code and byte offset", arguments: malformed)
    func malformedLines(line: String, code: JSONFieldError.Code, offset: Int) {
        // Without paths the whole line is skipped; with paths the scanner descends into "a".
        for paths in [[], ["a", "a.b", "b"]] {
            switch scan(line, paths: paths) {
            case .success:
                Issue.record("expected \(code) for \(line) with paths \(paths)")
            case .failure(let error):
                #expect(error.code == code, "\(line) with paths \(paths): \(error)")
                #expect(error.offset == offset, "\(line) with paths \(paths): \(error)")
                #expect(error.description.contains("at byte \(offset)"))
            }
        }
    }

    static let badUTF8: [([UInt8], Int)] = [
        ([0xFF], 0),
        ([0xC0, 0x80], 0),  // overlong
        ([0xC3], 0),  // truncated
        ([0xE0, 0x80, 0x80], 0),  // overlong
        ([0xED, 0xA0, 0x80], 0),  // UTF-16 surrogate
        ([0xF4, 0x90, 0x80, 0x80], 0),  // above U+10FFFF
        ([0x61, 0xE2, 0x82], 1),  // truncated euro sign
        ([0x80], 0),  // lone continuation byte
    ]

    @Test("ill-formed UTF-8 inside strings is rejected", arguments: badUTF8)
    func invalidUTF8(bytes: [UInt8], position: Int) {
        let line = Array(#"{"a":""#.utf8) + bytes + Array(#""}"#.utf8)
        for paths in [[], ["a"]] {
            switch scan(line, paths: paths) {
            case .success:
                Issue.record("expected invalidUTF8 for \(bytes)")
            case .failure(let error):
                #expect(error.code == .invalidUTF8)
                #expect(error.offset == 6 + position)
            }
        }
    }

    @Test("well-formed multi-byte UTF-8 of every length is accepted")
    func validUTF8() throws {
        let line = #"{"a":"é€😀\#u{10FFFF}\#u{E000}\#u{D7FF}"}"#
        let fields = try scan(line, paths: ["a"]).get()
        #expect(fields[0].kind == .string)
    }
}

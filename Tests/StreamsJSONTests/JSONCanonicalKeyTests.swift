import StreamsJSON
import Testing
import StreamsTestSupport

@Suite("JSONCanonicalKey")
struct JSONCanonicalKeyTests {
    static let equalNumbers: [[String]] = [
        ["1", "1.0", "1e0", "10E-1", "0.1e1", "100e-2", "1.000", "0.00001e5", "1E+0", "1e-0", "10000000000e-10"],
        ["0", "-0", "0.0", "-0.0e10", "0e-5", "0.000", "0E+999999999999999999999"],
        ["-12.5", "-125e-1", "-1.25E1", "-0.125e+2", "-12.50000"],
        ["1500", "1.5e3", "15e2", "150000e-2", "0.0015e6"],
        ["12345678901234567890123", "1.2345678901234567890123e22", "123456789012345678901230e-1"],
        ["0.001", "1e-3", "10e-4", "0.0010"],
    ]

    @Test("equivalent spellings of a number give the same key", arguments: equalNumbers)
    func equivalentNumbers(spellings: [String]) throws {
        let first = try canonical(spellings[0])
        for spelling in spellings.dropFirst() {
            #expect(try canonical(spelling) == first, "\(spelling) vs \(spellings[0])")
        }
    }

    @Test(
        "canonical number forms",
        arguments: [
            ("1", "1"), ("1.0", "1"), ("1500", "15e2"), ("-0.25", "-25e-2"), ("-0", "0"), ("0.0e7", "0"),
            ("12345678901234567890123", "12345678901234567890123"), ("120.0340", "120034e-3"), ("5e-324", "5e-324"),
        ])
    func canonicalForm(number: String, form: String) throws {
        let key = try canonical(number)
        #expect(key.first == JSONCanonicalKey.numberTag)
        #expect(String(decoding: payload(of: key), as: UTF8.self) == form)
    }

    @Test("near-miss numbers give different keys")
    func distinctNumbers() throws {
        let numbers = [
            "12345678901234567890123", "12345678901234567890122", "12345678901234567890124",
            "1234567890123456789012", "123456789012345678901230", "1.2345678901234567890123e21",
            "9007199254740993", "9007199254740992", "1", "-1", "10", "0.1", "1e400", "1e401", "1e-400",
            "1.0000000000000000000001", "0",
        ]
        var keys: [[UInt8]: String] = [:]
        for number in numbers {
            let key = try canonical(number)
            #expect(keys[key] == nil, "\(number) collides with \(keys[key] ?? "")")
            keys[key] = number
        }
    }

    @Test("randomized: shifting the decimal point and padding zeros never changes the key")
    func randomEquivalentSpellings() throws {
        var random = SplitMix64(seed: 0x5EED_0001)
        for _ in 0..<500 {
            let digitCount = Int.random(in: 1...30, using: &random)
            var digits = (0..<digitCount).map { _ in Character(String(Int.random(in: 0...9, using: &random))) }
            digits[0] = Character(String(Int.random(in: 1...9, using: &random)))
            let exponent = Int.random(in: -40...40, using: &random)
            let sign = Bool.random(using: &random) ? "-" : ""
            let base = sign + String(digits) + "e\(exponent)"
            let expected = try canonical(base)
            for _ in 0..<4 {
                let shift = Int.random(in: 0...digitCount, using: &random)
                let integer = String(digits[..<(digitCount - shift)])
                let fraction = String(digits[(digitCount - shift)...])
                let leading = String(repeating: "0", count: Int.random(in: 0...2, using: &random))
                let trailing = String(repeating: "0", count: Int.random(in: 0...3, using: &random))
                var mantissa = integer.isEmpty ? "0" : integer
                if !fraction.isEmpty || !trailing.isEmpty {
                    mantissa += "." + fraction + trailing
                }
                if leading.count > 0 && integer.isEmpty {
                    mantissa = "0." + leading + fraction + trailing
                    let spelling = sign + mantissa + "E\(exponent + shift + leading.count)"
                    #expect(try canonical(spelling) == expected, "\(spelling) vs \(base)")
                    continue
                }
                let plus = exponent + shift >= 0 && Bool.random(using: &random) ? "+" : ""
                let spelling = sign + mantissa + "e" + plus + "\(exponent + shift)"
                #expect(try canonical(spelling) == expected, "\(spelling) vs \(base)")
            }
            // A change in any one digit is a different key.
            let position = Int.random(in: 0..<digitCount, using: &random)
            var changed = digits
            let old = Int(String(changed[position]))!
            changed[position] = Character(String((old + Int.random(in: 1...8, using: &random)) % 10))
            if changed[0] != "0" {
                let nearMiss = sign + String(changed) + "e\(exponent)"
                #expect(try canonical(nearMiss) != expected, "\(nearMiss) vs \(base)")
            }
        }
    }

    @Test("an exponent with more than 15 digits is not a key")
    func hugeExponent() {
        #expect {
            _ = try canonical("1e1234567890123456")
        } throws: { error in
            (error as? JSONFieldError)?.code == .numberOutOfRange
        }
    }

    @Test(
        "strings compare by their characters after decoding escapes",
        arguments: [
            (#""caf\u00e9""#, #""café""#),
            (#""caf\u00E9""#, #""café""#),
            (#""\ud83d\ude00""#, #""😀""#),
            (#""\/\\\"""#, #""/\\\"""#),
            (#""\b\f\n\r\t""#, #""\u0008\u000c\u000A\u000d\u0009""#),
            (#""\u0041\u0000z""#, #""A\u0000z""#),
        ])
    func equalStrings(lhs: String, rhs: String) throws {
        #expect(try canonical(lhs) == canonical(rhs))
    }

    @Test("decoded string payloads are the characters' UTF-8")
    func decodedPayload() throws {
        #expect(payload(of: try canonical(#""caf\u00e9 \ud83d\ude00\n""#)) == Array("café 😀\n".utf8))
        #expect(payload(of: try canonical(#""""#)) == [])
    }

    @Test("different strings, strings versus numbers and booleans give different keys")
    func distinctScalars() throws {
        let values = [#""1""#, "1", #""true""#, "true", "false", #""""#, #""a""#, #""A""#, #""e\u0301""#, #""é""#]
        var keys: [[UInt8]: String] = [:]
        for value in values {
            let key = try canonical(value)
            #expect(keys[key] == nil, "\(value) collides with \(keys[key] ?? "")")
            keys[key] = value
        }
    }

    @Test("composite keys are framed: moving bytes between components changes the key")
    func compositeFraming() throws {
        #expect(try compositeKey([#""ab""#, #""c""#]) != compositeKey([#""a""#, #""bc""#]))
        #expect(try compositeKey([#""a""#, "1"]) != compositeKey([#""a1""#]))
        #expect(try compositeKey(["12", "3"]) != compositeKey(["1", "23"]))
        #expect(try compositeKey([#""a""#, "true"]) != compositeKey([#""at""#]))
        #expect(try compositeKey([#""x""#, "1.0"]) == compositeKey([#""x""#, "1"]))
        // Lengths that need one, two and three LEB128 bytes.
        for length in [127, 128, 300, 16_383, 16_384, 20_000] {
            let long = String(repeating: "x", count: length)
            let key = try compositeKey(["\"" + long + "\"", #""y""#])
            let split = try compositeKey(["\"" + long + "y\""])
            #expect(key != split)
            let single = try canonical("\"" + long + "\"")
            #expect(payload(of: single) == Array(long.utf8))
            let y = try canonical(#""y""#)
            #expect(key == single + y)
        }
    }

    @Test("the key buffer is cleared and reused")
    func bufferIsReused() throws {
        var extractor = JSONFieldExtractor(paths: [try JSONFieldPath("a")])
        var key: [UInt8] = Array(repeating: 9, count: 100)
        try Array(#"{"a":"x"}"#.utf8).withUnsafeBytes { bytes in
            try extractor.extract(from: bytes)
            try extractor.encodeKey(fields: 0..<1, of: bytes, into: &key)
        }
        #expect(key == [JSONCanonicalKey.stringTag, 1, UInt8(ascii: "x")])
        #expect(key.capacity >= 100)
    }

    @Test(
        "null and missing fields are missing; objects and arrays are not scalar keys",
        arguments: [
            (#"{"a":null}"#, JSONFieldError.Code.missingField),
            (#"{"b":1}"#, .missingField),
            (#"{"a":{}}"#, .nonScalarKey),
            (#"{"a":[1]}"#, .nonScalarKey),
            (#"{"a":{"b":1}}"#, .nonScalarKey),
        ])
    func invalidKeyFields(line: String, code: JSONFieldError.Code) throws {
        var extractor = JSONFieldExtractor(paths: [try JSONFieldPath("a")])
        var key: [UInt8] = []
        do throws(JSONFieldError) {
            try withBytes(Array(line.utf8)) { bytes throws(JSONFieldError) in
                try extractor.extract(from: bytes)
                try extractor.encodeKey(fields: 0..<1, of: bytes, into: &key)
            }
            Issue.record("expected \(code) for \(line)")
        } catch {
            #expect(error.code == code)
            #expect(error.message.contains("'a'"), "the message names the path: \(error.message)")
        }
    }

    @Test("true and false are keys")
    func booleans() throws {
        #expect(try canonical("true") == [JSONCanonicalKey.trueTag])
        #expect(try canonical("false") == [JSONCanonicalKey.falseTag])
    }
}

import Foundation
import StreamsJSON
import Testing
import StreamsTestSupport

/// Randomized comparison of the extractor with Foundation's `JSONSerialization` (the oracle, tests only).
@Suite("JSONFieldExtractor agrees with JSONSerialization")
struct JSONFieldExtractorPropertyTests {
    /// A generated JSON value; numbers keep their text.
    indirect enum Model {
        case string(String)
        case number(String)
        case bool(Bool)
        case null
        case object([(String, Model)])
        case array([Model])
    }

    /// Builds random values and writes them with random whitespace and random escaping.
    struct Generator {
        var random: SplitMix64

        static let keyPool = ["a", "b", "id", "order", "café", "k\"q", "😀", "x y", "a\\b", "\u{7}", "中文", ""]
        static let characterPool: [Unicode.Scalar] = [
            "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\r", "\u{8}", "\u{C}", "\u{0}", "\u{1F}", "é",
            "€", "😀", "𝄞", "ß", "中", "\u{2028}", "\u{FFFF}", "\u{10FFFF}", "~", "\u{7F}",
        ]

        mutating func chance(_ percent: Int) -> Bool {
            Int.random(in: 0..<100, using: &random) < percent
        }

        mutating func string() -> String {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...12, using: &random) {
                scalars.append(Self.characterPool.randomElement(using: &random)!)
            }
            if chance(5) {
                scalars.append(contentsOf: String(repeating: "long", count: 20).unicodeScalars)
            }
            return String(scalars)
        }

        mutating func number() -> String {
            var text = chance(30) ? "-" : ""
            if chance(20) {
                text += "0"
            } else {
                text += String(Int.random(in: 1...999_999, using: &random))
            }
            if chance(40) {
                text += "." + String(Int.random(in: 0...99_999, using: &random))
            }
            if chance(30) {
                text += ["e", "E"].randomElement(using: &random)! + ["", "+", "-"].randomElement(using: &random)!
                text += String(Int.random(in: 0...20, using: &random))
            }
            return text
        }

        mutating func value(depth: Int) -> Model {
            let roll = Int.random(in: 0..<100, using: &random)
            switch roll {
            case 0..<25: return .string(string())
            case 25..<45: return .number(number())
            case 45..<50: return .bool(chance(50))
            case 50..<55: return .null
            case 55..<85 where depth < 5: return object(depth: depth + 1)
            case 85..<100 where depth < 5:
                return .array((0..<Int.random(in: 0...4, using: &random)).map { _ in value(depth: depth + 1) })
            default: return .number(number())
            }
        }

        mutating func object(depth: Int) -> Model {
            var members: [(String, Model)] = []
            var used = Set<[UInt8]>()
            for _ in 0..<Int.random(in: 0...6, using: &random) {
                let key = chance(80) ? Self.keyPool.randomElement(using: &random)! : string()
                guard used.insert(Array(key.utf8)).inserted else {
                    continue  // JSONSerialization's handling of duplicates is not the subject here.
                }
                members.append((key, value(depth: depth)))
            }
            return .object(members)
        }

        mutating func whitespace() -> String {
            guard chance(30) else {
                return ""
            }
            return String(
                (0..<Int.random(in: 1...3, using: &random)).map { _ in
                    [" ", "\t", "\n", "\r"].randomElement(using: &random)!
                })
        }

        mutating func hex(_ unit: UInt32) -> String {
            var digits = String(unit, radix: 16, uppercase: chance(50))
            while digits.count < 4 {
                digits = "0" + digits
            }
            return "\\u" + digits
        }

        mutating func write(string: String) -> String {
            var out = "\""
            for scalar in string.unicodeScalars {
                let short: String? =
                    switch scalar {
                    case "\"": "\\\""
                    case "\\": "\\\\"
                    case "/": chance(50) ? "\\/" : nil
                    case "\u{8}": "\\b"
                    case "\u{C}": "\\f"
                    case "\n": "\\n"
                    case "\r": "\\r"
                    case "\t": "\\t"
                    default: nil
                    }
                let mustEscape = scalar == "\"" || scalar == "\\" || scalar.value < 0x20
                if mustEscape || chance(25) {
                    if let short, chance(70) {
                        out += short
                    } else if scalar.value >= 0x10000 {
                        let value = scalar.value - 0x10000
                        out += hex(0xD800 + (value >> 10)) + hex(0xDC00 + (value & 0x3FF))
                    } else {
                        out += hex(scalar.value)
                    }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        }

        mutating func write(_ model: Model) -> String {
            switch model {
            case .string(let string): return write(string: string)
            case .number(let text): return text
            case .bool(let value): return value ? "true" : "false"
            case .null: return "null"
            case .array(let elements):
                return "[" + whitespace()
                    + elements.map { write($0) + whitespace() }.joined(separator: "," + whitespace()) + "]"
            case .object(let members):
                let written = members.map { key, value in
                    write(string: key) + whitespace() + ":" + whitespace() + write(value) + whitespace()
                }
                return "{" + whitespace() + written.joined(separator: "," + whitespace()) + "}"
            }
        }

        /// Every path that reaches a value through objects only, plus some that do not exist.
        mutating func paths(in model: Model) -> [[String]] {
            var paths: [[String]] = []
            func walk(_ model: Model, _ prefix: [String]) {
                guard case .object(let members) = model else {
                    return
                }
                for (key, value) in members where !key.isEmpty && !key.contains(".") {
                    paths.append(prefix + [key])
                    walk(value, prefix + [key])
                }
            }
            walk(model, [])
            for _ in 0..<3 {
                let depth = Int.random(in: 1...3, using: &random)
                paths.append((0..<depth).map { _ in Self.keyPool.dropLast().randomElement(using: &random)! })
            }
            return paths
        }
    }

    /// Deep equality of two JSONSerialization results; strings compare by UTF-8 bytes, not by Unicode equivalence.
    static func jsonEqual(_ lhs: Any, _ rhs: Any) -> Bool {
        switch (lhs, rhs) {
        case (let lhs as String, let rhs as String):
            return Array(lhs.utf8) == Array(rhs.utf8)
        case (let lhs as [String: Any], let rhs as [String: Any]):
            return lhs.count == rhs.count
                && lhs.allSatisfy { key, value in rhs[key].map { jsonEqual(value, $0) } ?? false }
        case (let lhs as [Any], let rhs as [Any]):
            return lhs.count == rhs.count && zip(lhs, rhs).allSatisfy { jsonEqual($0, $1) }
        case (is NSNull, is NSNull):
            return true
        case (let lhs as NSNumber, let rhs as NSNumber):
            return lhs.doubleValue == rhs.doubleValue
        default:
            return false
        }
    }

    static func foundationValue(_ bytes: [UInt8]) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
    }

    @Test("random nested records: same fields found, same kinds, same decoded values")
    func agreesOnRandomRecords() throws {
        var generator = Generator(random: SplitMix64(seed: 0xD3D0_0001))
        var checkedFields = 0
        for iteration in 0..<1_500 {
            let model = generator.object(depth: 0)
            let line = generator.whitespace() + generator.write(model) + generator.whitespace()
            let bytes = Array(line.utf8)
            let oracle = try #require(
                try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
                "Foundation rejects generated line \(iteration): \(line)"
            )
            let paths = generator.paths(in: model)
            var extractor = JSONFieldExtractor(paths: try paths.map { try JSONFieldPath($0.joined(separator: ".")) })
            try bytes.withUnsafeBytes { try extractor.extract(from: $0) }

            for (index, path) in paths.enumerated() {
                let field = extractor[index]
                var expected: Any? = oracle
                for component in path {
                    expected = (expected as? [String: Any])?[component]
                }
                let context = "line \(iteration) path \(path): \(line)"
                guard let expected else {
                    #expect(field.kind == .missing, "\(context)")
                    continue
                }
                checkedFields += 1
                // The raw range must hold exactly the value Foundation found at that path.
                let raw = Array(bytes[field.range])
                let reparsed = try #require(Self.foundationValue(raw), "range is not a JSON value: \(context)")
                #expect(Self.jsonEqual(reparsed, expected), "\(context)")

                switch field.kind {
                case .string:
                    let string = try #require(expected as? String, "\(context)")
                    let key = try bytes.withUnsafeBytes { bytes in
                        var key: [UInt8] = []
                        try JSONCanonicalKey.append(field, of: bytes, to: &key)
                        return key
                    }
                    #expect(payload(of: key) == Array(string.utf8), "\(context)")
                case .number:
                    let number = try #require(expected as? NSNumber, "\(context)")
                    #expect(Double(String(decoding: raw, as: UTF8.self)) == number.doubleValue, "\(context)")
                case .true, .false:
                    #expect(expected as? Bool == (field.kind == .true), "\(context)")
                case .null:
                    #expect(expected is NSNull, "\(context)")
                case .object:
                    #expect(expected is [String: Any], "\(context)")
                case .array:
                    #expect(expected is [Any], "\(context)")
                case .missing:
                    Issue.record("extractor missed a field Foundation found: \(context)")
                }
            }
        }
        #expect(checkedFields > 3_000, "the generator should produce many present fields")
    }

    /// Whether `,` is followed by optional whitespace and `}` or `]` (the generator never puts these in strings).
    static func hasTrailingComma(_ bytes: [UInt8]) -> Bool {
        for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: ",") {
            var next = index + 1
            while next < bytes.count && [0x20, 0x09, 0x0A, 0x0D].contains(bytes[next]) {
                next += 1
            }
            if next < bytes.count && (bytes[next] == UInt8(ascii: "}") || bytes[next] == UInt8(ascii: "]")) {
                return true
            }
        }
        return false
    }

    /// Whether a digit run of three or more follows `e`/`E` (a corruption can make a number exceed Double).
    static func hasLargeExponent(_ bytes: [UInt8]) -> Bool {
        for (index, byte) in bytes.enumerated() where byte | 0x20 == UInt8(ascii: "e") {
            var next = index + 1
            if next < bytes.count && (bytes[next] == UInt8(ascii: "+") || bytes[next] == UInt8(ascii: "-")) {
                next += 1
            }
            var digits = 0
            while next < bytes.count && bytes[next] >= 0x30 && bytes[next] <= 0x39 {
                digits += 1
                next += 1
            }
            if digits >= 3 {
                return true
            }
        }
        return false
    }

    @Test("random corruptions: the extractor accepts a line exactly when JSONSerialization does")
    func agreesOnValidity() throws {
        var generator = Generator(random: SplitMix64(seed: 0xBAD0_0002))
        let replacements = Array("{}[]:,\"\\ 0-.eE+tfnux1".utf8) + [0x00, 0x0A, 0xC3, 0xFF]
        var rejected = 0
        for iteration in 0..<3_000 {
            var bytes = Array(generator.write(generator.object(depth: 0)).utf8)
            switch Int.random(in: 0..<4, using: &generator.random) {
            case 0:  // Replace one byte.
                let index = Int.random(in: 0..<bytes.count, using: &generator.random)
                bytes[index] = replacements.randomElement(using: &generator.random)!
            case 1:  // Delete one byte.
                bytes.remove(at: Int.random(in: 0..<bytes.count, using: &generator.random))
            case 2:  // Insert one byte.
                let index = Int.random(in: 0...bytes.count, using: &generator.random)
                bytes.insert(replacements.randomElement(using: &generator.random)!, at: index)
            default:  // Truncate.
                bytes.removeLast(Int.random(in: 1...bytes.count, using: &generator.random))
            }
            // Two known deviations of Foundation from RFC 8259, where the extractor follows the RFC:
            // it accepts trailing commas, and rejects numbers beyond Double's range.
            if Self.hasTrailingComma(bytes) {
                #expect(throws: JSONFieldError.self) { try scan(bytes, paths: []).get() }
                continue
            }
            if Self.hasLargeExponent(bytes) {
                continue
            }
            let oracleAccepts = (try? JSONSerialization.jsonObject(with: Data(bytes))) is [String: Any]
            for paths in [[], ["a", "a.b", "order.id", "😀"]] {
                let result = scan(bytes, paths: paths)
                let accepts = (try? result.get()) != nil
                #expect(
                    accepts == oracleAccepts,
                    """
                    line \(iteration) paths \(paths): extractor \(result), Foundation accepts: \(oracleAccepts), \
                    bytes: \(String(decoding: bytes, as: UTF8.self))
                    """
                )
                if case .failure(let error) = result {
                    #expect(error.offset.map { $0 <= bytes.count } == true, "offset within the line: \(error)")
                }
            }
            rejected += oracleAccepts ? 0 : 1
        }
        #expect(rejected > 500, "most corruptions should make the line invalid")
    }
}

/// The word-at-a-time (SWAR) paths of the scanner, compared with Foundation: every special byte at
/// every offset of a string modulo 8, 16 and 32, at every distance from the end of the line (where
/// the scanner switches to loading the line's last word), and digit runs of every length.
@Suite("Eight bytes at a time: the scanner agrees with JSONSerialization at every offset")
struct JSONScannerWordTests {
    /// What is placed inside a string: the JSON text and whether it may appear in a valid string.
    static let specials: [(text: [UInt8], valid: Bool)] = [
        (Array(#"\""#.utf8), true), (Array(#"\\"#.utf8), true), (Array(#"\/"#.utf8), true),
        (Array(#"\n"#.utf8), true), (Array(#"\u00e9"#.utf8), true), (Array(#"\ud83d\ude00"#.utf8), true),
        (Array("é".utf8), true), (Array("€".utf8), true), (Array("😀".utf8), true), ([0x7F], true),
        ([0x01], false), ([0x1F], false), ([0x0A], false), ([0x09], false), ([0xFF], false), ([0xC3], false),
        ([0xE2, 0x82], false), ([0xED, 0xA0, 0x80], false), (Array(#"\x"#.utf8), false), (Array(#"\u12"#.utf8), false),
        ([0x22], false),  // an unescaped quote ends the string early; the rest is then not JSON
    ]

    /// Scans `line` for the path `k` and compares with Foundation: same validity and, for a
    /// string, the same decoded bytes.
    static func compare(_ line: [UInt8], number: String? = nil, _ context: @autoclosure () -> String) throws {
        let oracle = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any]
        let result = scan(line, paths: ["k"])
        let accepted = (try? result.get()) != nil
        #expect(accepted == (oracle != nil), "\(context()): extractor \(result)")
        guard let oracle, case .success(let fields) = result else {
            return
        }
        if let expected = oracle["k"] as? String {
            #expect(fields[0].kind == .string, "\(context())")
            let key = try withBytes(line) { bytes throws(JSONFieldError) in
                var key: [UInt8] = []
                try JSONCanonicalKey.append(fields[0], of: bytes, to: &key)
                return key
            }
            #expect(payload(of: key) == Array(expected.utf8), "\(context())")
        } else if oracle["k"] is NSNumber, let number {
            // Foundation's own digits are rounded differently; the range must hold the number as written.
            #expect(fields[0].kind == .number, "\(context())")
            #expect(String(decoding: line[fields[0].range], as: UTF8.self) == number, "\(context())")
        }
    }

    @Test("a special byte or escape at every offset of strings up to 40 bytes, at every distance from the line end")
    func specialAtEveryOffset() throws {
        let filler = Array("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH".utf8)
        for (special, _) in Self.specials {
            for length in 0...40 {
                for offset in 0...length {
                    let content = Array(filler[0..<offset]) + special + Array(filler[offset..<length])
                    // As the key's value at the end of the line (with 0–9 bytes after it: the tail
                    // path), and as a key and a value followed by more members (the full-word path).
                    for trailing in [0, 1, 7, 9] {
                        let line =
                            Array(#"{"k":""#.utf8) + content + Array("\"}".utf8)
                            + Array(repeating: UInt8(ascii: " "), count: trailing)
                        try Self.compare(line, "value, special \(special) at \(offset) of \(length), \(trailing) after")
                    }
                    let asKey =
                        Array(#"{""#.utf8) + content + Array(#"":1,"k":"x","#.utf8) + Array(#""z":"#.utf8)
                        + content
                        .map { _ in UInt8(ascii: "1") } + Array("}".utf8)
                    try Self.compare(asKey, "key, special \(special) at \(offset) of \(length)")
                }
            }
        }
    }

    @Test("a key that needs escapes decoded matches its path at every offset")
    func escapedKeyAtEveryOffset() throws {
        for length in 0...20 {
            for offset in 0...length {
                let name = String(repeating: "a", count: offset) + "é" + String(repeating: "b", count: length - offset)
                let escaped =
                    String(repeating: "a", count: offset) + #"\u00e9"# + String(repeating: "b", count: length - offset)
                for written in [name, escaped] {
                    let result = scan(#"{"x":0,"\#(written)":"v"}"#, paths: [name])
                    let fields = try result.get()
                    #expect(fields[0].kind == .string, "\(written)")
                    // A key one byte longer or shorter is another key.
                    let longer = scan(#"{"\#(written)b":"v"}"#, paths: [name])
                    #expect(try longer.get()[0].kind == .missing, "\(written)b")
                }
            }
        }
    }

    @Test("truncating a line at every byte: rejected exactly where Foundation rejects")
    func truncatedAtEveryByte() throws {
        let line = Array(
            #"{"order":{"id":"o-000000123\"é😀\u00e9","customer":"c-1"},"ts":1767225600001,"n":-12.5e+3}"#.utf8)
        for count in 1...line.count {
            let prefix = Array(line[0..<count])
            try Self.compare(prefix, "first \(count) bytes")
            // A cut line is reported as such (or as a cut UTF-8 sequence), never as a bad byte.
            if count < line.count, case .failure(let error) = scan(prefix, paths: ["k"]) {
                #expect([.unexpectedEnd, .invalidUTF8].contains(error.code), "first \(count) bytes: \(error)")
            }
        }
    }

    @Test("numbers with digit runs of every length, at every distance from the line end")
    func digitRuns() throws {
        for intDigits in 1...40 {
            let integer = String(
                "1234567890987654321098765432109876543210".utf8.prefix(intDigits).map { Character(Unicode.Scalar($0)) })
            for number in [
                integer, "-" + integer, integer + ".5", "0." + integer, integer + "e1" + integer.prefix(1),
                "-0" + integer, "1" + integer + "x", integer + ":", integer + "/", "-" + integer + ".",
            ] {
                for trailing in 0...9 {
                    let line = Array(#"{"k":\#(number)}"#.utf8) + Array(repeating: UInt8(ascii: " "), count: trailing)
                    try Self.compare(line, number: number, "number \(number), \(trailing) after")
                }
            }
        }
    }

    @Test("epoch milliseconds of every digit count agree with Int64's own parser, overflow included")
    func epochMillisecondsOfEveryLength() throws {
        var random = SplitMix64(seed: 0xE90C_0003)
        for digits in 1...21 {
            for _ in 0..<20 {
                var text = String(Int.random(in: 1...9, using: &random))
                for _ in 1..<digits {
                    text += String(Int.random(in: 0...9, using: &random))
                }
                for candidate in [text, "-" + text] {
                    let line = Array(#"{"ts":\#(candidate)}"#.utf8)
                    let result = Result { () throws(JSONFieldError) -> Int64 in
                        let fields = try scan(line, paths: ["ts"]).get()
                        return try withBytes(line) { bytes throws(JSONFieldError) in
                            try JSONTimestamp.epochMilliseconds(of: fields[0], in: bytes)
                        }
                    }
                    if let expected = Int64(candidate) {
                        #expect(try result.get() == expected, "\(candidate)")
                    } else {
                        #expect(throws: JSONFieldError.self, "\(candidate)") { try result.get() }
                    }
                }
            }
        }
        for boundary in [
            "9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809",
            "999999999999999999", "-999999999999999999", "1000000000000000000", "0", "-0",
        ] {
            let line = Array(#"{"ts":\#(boundary)}"#.utf8)
            let fields = try scan(line, paths: ["ts"]).get()
            let result = Result { () throws(JSONFieldError) -> Int64 in
                try withBytes(line) { bytes throws(JSONFieldError) in
                    try JSONTimestamp.epochMilliseconds(of: fields[0], in: bytes)
                }
            }
            if let expected = Int64(boundary) {
                #expect(try result.get() == expected, "\(boundary)")
            } else {
                #expect(throws: JSONFieldError.self, "\(boundary)") { try result.get() }
            }
        }
    }
}

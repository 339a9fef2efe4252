import Foundation
import StreamsJSON
import Testing
import StreamsTestSupport

@Suite("JSONTimestamp")
struct JSONTimestampTests {
    /// Reads field `t` of `line` as a time.
    func time(_ line: String) throws(JSONFieldError) -> Int64 {
        var extractor = JSONFieldExtractor(paths: [try JSONFieldPath("t")])
        return try withBytes(Array(line.utf8)) { bytes throws(JSONFieldError) in
            try extractor.extract(from: bytes)
            return try JSONTimestamp.epochMilliseconds(of: extractor[0], in: bytes)
        }
    }

    func expectError(
        _ code: JSONFieldError.Code,
        _ body: () throws(JSONFieldError) -> Int64,
        mentioning words: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            let value = try body()
            Issue.record("expected \(code), got \(value)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            if let words {
                #expect(error.message.contains(words), "\(error.message)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test(
        "RFC 3339 timestamps with known epoch milliseconds",
        arguments: [
            ("1970-01-01T00:00:00Z", Int64(0)),
            ("2024-05-01T12:00:00Z", 1_714_564_800_000),
            ("2024-05-01T12:00:00.123+02:00", 1_714_557_600_123),
            ("2024-05-01t12:00:00.123z", 1_714_564_800_123),
            ("2024-05-01T12:00:00-00:00", 1_714_564_800_000),
            ("2024-05-01T12:00:00.1239999Z", 1_714_564_800_123),
            ("2024-05-01T12:00:00.5Z", 1_714_564_800_500),
            ("2024-05-01T12:00:00.05Z", 1_714_564_800_050),
            ("1969-12-31T23:59:59.999Z", -1),
            ("2024-02-29T00:00:00Z", 1_709_164_800_000),
            ("2000-02-29T23:59:59+23:59", 951_782_459_000),
            ("2016-12-31T23:59:60Z", 1_483_228_800_000),
            ("0000-03-01T00:00:00Z", -62_162_035_200_000),
            ("9999-12-31T23:59:59.999Z", 253_402_300_799_999),
        ])
    func knownTimestamps(text: String, milliseconds: Int64) throws {
        #expect(try JSONTimestamp.parseRFC3339(text) == milliseconds)
        #expect(try time(#"{"t":""# + text + #""}"#) == milliseconds)
    }

    @Test("randomized: agrees with Foundation's ISO8601DateFormatter")
    func agreesWithFoundation() throws {
        var random = SplitMix64(seed: 0x7134_3339)
        let plain = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        for _ in 0..<2_000 {
            // Gregorian years only: Foundation switches to the Julian calendar before 1582.
            let year = Int.random(in: 1600...9999, using: &random)
            let month = Int.random(in: 1...12, using: &random)
            let dayLimit = [
                31, year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28, 31, 30, 31, 30,
                31, 31, 30, 31, 30, 31,
            ][month - 1]
            let day = Int.random(in: 1...dayLimit, using: &random)
            var text = "\(year)-\(two(month))-\(two(day))T\(two(Int.random(in: 0...23, using: &random))):"
            text += "\(two(Int.random(in: 0...59, using: &random))):\(two(Int.random(in: 0...59, using: &random)))"
            let withFraction = Bool.random(using: &random)
            if withFraction {
                text += "." + String(Int.random(in: 1000...1999, using: &random)).dropFirst()
            }
            if Bool.random(using: &random) {
                text += "Z"
            } else {
                let sign = Bool.random(using: &random) ? "+" : "-"
                let hours = two(Int.random(in: 0...14, using: &random))
                text += "\(sign)\(hours):\(two(Int.random(in: 0...59, using: &random)))"
            }
            let date = try #require((withFraction ? fractional : plain).date(from: text), "Foundation rejects \(text)")
            let expected = Int64((date.timeIntervalSince1970 * 1000).rounded())
            #expect(try JSONTimestamp.parseRFC3339(text) == expected, "\(text)")
        }
    }

    @Test(
        "invalid RFC 3339 timestamps name what is wrong",
        arguments: [
            ("2024-02-30T00:00:00Z", "day 30"),
            ("2023-02-29T00:00:00Z", "day 29"),
            ("2024-04-31T00:00:00Z", "day 31"),
            ("2024-13-01T00:00:00Z", "month 13"),
            ("2024-00-01T00:00:00Z", "month 0"),
            ("2024-05-00T00:00:00Z", "day 0"),
            ("2024-05-01T24:00:00Z", "hour 24"),
            ("2024-05-01T12:60:00Z", "minute 60"),
            ("2024-05-01T12:00:61Z", "second 61"),
            ("2024-05-01T12:00:00", "expected 'Z' or a UTC offset"),
            ("2024-05-01 12:00:00Z", "'T'"),
            ("2024-05-01T12:00:00+2:00", "offset hours"),
            ("2024-05-01T12:00:00+24:00", "offset hours 24"),
            ("2024-05-01T12:00:00+02:60", "offset minutes 60"),
            ("2024-05-01T12:00:00+0200", "':'"),
            ("2024-05-01T12:00:00.Z", "digit after '.'"),
            ("2024-05-01T12:00:00Zx", "after the timestamp"),
            ("24-05-01T12:00:00Z", "year"),
            ("2024/05/01T12:00:00Z", "after the year"),
            ("2024-05-01T12:00Z", "after the minute"),
            ("", "year"),
        ])
    func invalidTimestamps(text: String, words: String) {
        expectError(
            .invalidTimestamp, { () throws(JSONFieldError) in try JSONTimestamp.parseRFC3339(text) }, mentioning: words)
    }

    @Test("errors inside a record carry the byte offset in the line")
    func offsetsAreLineOffsets() {
        do {
            _ = try time(#"{"t":"2024-13-01T00:00:00Z"}"#)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidTimestamp)
            #expect(error.offset == 11)
        }
    }

    @Test(
        "integer epoch milliseconds",
        arguments: [
            ("1714564800000", Int64(1_714_564_800_000)),
            ("0", 0),
            ("-0", 0),
            ("-1", -1),
            ("9223372036854775807", Int64.max),
            ("-9223372036854775808", Int64.min),
        ])
    func epochMilliseconds(number: String, expected: Int64) throws {
        #expect(try time(#"{"t":"# + number + "}") == expected)
    }

    @Test(
        "time fields that are not usable",
        arguments: [
            (#"{"t":1.5}"#, JSONFieldError.Code.invalidTimestamp, "integer"),
            (#"{"t":1e3}"#, .invalidTimestamp, "integer"),
            (#"{"t":1.0}"#, .invalidTimestamp, "integer"),
            (#"{"t":9223372036854775808}"#, .timestampOutOfRange, "64-bit"),
            (#"{"t":-9223372036854775809}"#, .timestampOutOfRange, "64-bit"),
            (#"{"t":99999999999999999999999}"#, .timestampOutOfRange, "64-bit"),
            (#"{"t":true}"#, .invalidTimestamp, "RFC 3339"),
            (#"{"t":{}}"#, .invalidTimestamp, "RFC 3339"),
            (#"{"t":[]}"#, .invalidTimestamp, "RFC 3339"),
            (#"{"t":null}"#, .missingField, "null"),
            (#"{"u":1}"#, .missingField, "missing"),
            (#"{"t":"2024-05-01T12:00:00\u005a"}"#, .invalidTimestamp, "escape"),
            (#"{"t":"yesterday"}"#, .invalidTimestamp, "year"),
        ])
    func unusableTimeFields(line: String, code: JSONFieldError.Code, words: String) {
        expectError(code, { () throws(JSONFieldError) in try time(line) }, mentioning: words)
    }
}

/// Reads a record's time field as epoch milliseconds, without Foundation.
///
/// Two forms are accepted:
/// - a JSON integer: epoch milliseconds as an `Int64` (no fraction, no exponent);
/// - a JSON string in RFC 3339 form: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, with `T` and `Z`
///   in either case. Fractional seconds may have any number of digits and are truncated to
///   milliseconds. A leap second (`:60`) counts as the first second of the next minute. Years are
///   0000–9999. A space instead of `T`, a missing offset and escapes inside the string are rejected.
public enum JSONTimestamp {
    /// The time field's value in epoch milliseconds.
    ///
    /// - Parameters:
    ///   - field: The time field, as located in `line` by ``JSONFieldExtractor``.
    ///   - line: The line the field was located in.
    /// - Returns: Milliseconds since 1970-01-01T00:00:00Z.
    /// - Throws: ``JSONFieldError/Code/missingField`` if the field is missing or `null`,
    ///   ``JSONFieldError/Code/invalidTimestamp`` if it is another kind or malformed, and
    ///   ``JSONFieldError/Code/timestampOutOfRange`` if an integer does not fit in `Int64`.
    public static func epochMilliseconds(
        of field: JSONField,
        in line: UnsafeRawBufferPointer
    ) throws(JSONFieldError) -> Int64 {
        switch field.kind {
        case .missing:
            throw JSONFieldError(.missingField, "the time field is missing")
        case .null:
            throw JSONFieldError(.missingField, "the time field is null", offset: field.range.lowerBound)
        case .number, .string:
            precondition(field.range.upperBound <= line.count, "the field's range is outside the line")
            guard let raw = line.baseAddress, !field.range.isEmpty else {
                throw JSONFieldError(.missingField, "the time field's range is empty")
            }
            let base = raw.assumingMemoryBound(to: UInt8.self)
            if field.kind == .number {
                return try parseEpochMilliseconds(base, field.range)
            }
            return try parseRFC3339(base, (field.range.lowerBound + 1)..<(field.range.upperBound - 1))
        case .true, .false, .object, .array:
            throw JSONFieldError(
                .invalidTimestamp,
                "the time field must be integer epoch milliseconds or an RFC 3339 string, found \(field.kind)",
                offset: field.range.lowerBound
            )
        }
    }

    /// Parses an RFC 3339 timestamp such as `2024-05-01T12:00:00.123+02:00`.
    ///
    /// - Parameter text: The timestamp's characters (no quotes).
    /// - Returns: Milliseconds since 1970-01-01T00:00:00Z, fractional seconds truncated.
    /// - Throws: ``JSONFieldError/Code/invalidTimestamp`` naming the part that is wrong, with the
    ///   offset into `text`.
    public static func parseRFC3339(_ text: UnsafeRawBufferPointer) throws(JSONFieldError) -> Int64 {
        guard let raw = text.baseAddress else {
            throw JSONFieldError(.invalidTimestamp, "the timestamp is empty", offset: 0)
        }
        return try parseRFC3339(raw.assumingMemoryBound(to: UInt8.self), 0..<text.count)
    }

    /// Parses an RFC 3339 timestamp held in a `String`; see ``parseRFC3339(_:)-(UnsafeRawBufferPointer)``.
    ///
    /// - Parameter text: The timestamp.
    /// - Returns: Milliseconds since 1970-01-01T00:00:00Z.
    /// - Throws: ``JSONFieldError/Code/invalidTimestamp``.
    public static func parseRFC3339(_ text: String) throws(JSONFieldError) -> Int64 {
        var text = text
        let result = text.withUTF8 { bytes in
            Result { () throws(JSONFieldError) -> Int64 in try parseRFC3339(UnsafeRawBufferPointer(bytes)) }
        }
        return try result.get()
    }

    /// Parses integer epoch milliseconds from the JSON number in `range`.
    ///
    /// Up to 18 digits (which cannot overflow) are converted eight at a time; anything else, and
    /// every error, goes through the digit-by-digit ``parseEpochMillisecondsSlowly(_:_:)``.
    @inline(__always)
    static func parseEpochMilliseconds(
        _ base: UnsafePointer<UInt8>,
        _ range: Range<Int>
    ) throws(JSONFieldError) -> Int64 {
        var index = range.lowerBound
        let negative = base[index] == JSONScanner.minus
        if negative {
            index &+= 1
        }
        let end = range.upperBound
        guard end &- index <= 18 && index < end else {
            return try parseEpochMillisecondsSlowly(base, range)
        }
        var value: UInt64 = 0
        while end &- index >= 8 {
            let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
            guard JSONScanner.nonDigitMask(word) == 0 else {
                return try parseEpochMillisecondsSlowly(base, range)
            }
            value = value &* 100_000_000 &+ JSONScanner.eightDigitsValue(word)
            index &+= 8
        }
        while index < end {
            let digit = base[index] &- JSONScanner.zero
            guard digit < 10 else {
                return try parseEpochMillisecondsSlowly(base, range)
            }
            value = value &* 10 &+ UInt64(digit)
            index &+= 1
        }
        return negative ? -Int64(value) : Int64(value)
    }

    /// ``parseEpochMilliseconds(_:_:)`` one digit at a time, with overflow checks and errors.
    static func parseEpochMillisecondsSlowly(
        _ base: UnsafePointer<UInt8>,
        _ range: Range<Int>
    ) throws(JSONFieldError) -> Int64 {
        var index = range.lowerBound
        let negative = base[index] == JSONScanner.minus
        if negative {
            index += 1
        }
        // Accumulate negatively so that Int64.min fits.
        var value: Int64 = 0
        var overflow = false
        while index < range.upperBound {
            let byte = base[index]
            guard JSONScanner.isDigit(byte) else {
                throw JSONFieldError(
                    .invalidTimestamp,
                    "epoch milliseconds must be an integer, without a fraction or exponent",
                    offset: index
                )
            }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = times10.subtractingReportingOverflow(Int64(byte - JSONScanner.zero))
            overflow = overflow || overflow1 || overflow2
            value = next
            index += 1
        }
        if !negative {
            let (positive, overflow3) = Int64(0).subtractingReportingOverflow(value)
            overflow = overflow || overflow3
            value = positive
        }
        guard !overflow else {
            throw JSONFieldError(
                .timestampOutOfRange,
                "epoch milliseconds do not fit in a 64-bit integer",
                offset: range.lowerBound
            )
        }
        return value
    }

    /// Parses an RFC 3339 timestamp in `range`; error offsets are relative to `base`.
    static func parseRFC3339(_ base: UnsafePointer<UInt8>, _ range: Range<Int>) throws(JSONFieldError) -> Int64 {
        var index = range.lowerBound
        let end = range.upperBound

        func fail(_ message: String, at offset: Int? = nil) -> JSONFieldError {
            JSONFieldError(.invalidTimestamp, "RFC 3339 timestamp: \(message)", offset: offset ?? index)
        }
        func found() -> String {
            guard index < end else {
                return "the end"
            }
            if base[index] == JSONScanner.backslash {
                return "an escape (escapes are not supported in timestamps)"
            }
            return JSONScanner(base: base, count: end).describe(at: index)
        }
        func number(_ digits: Int, _ name: String) throws(JSONFieldError) -> Int {
            var value = 0
            for _ in 0..<digits {
                guard index < end && JSONScanner.isDigit(base[index]) else {
                    throw fail("expected \(digits) digits for the \(name), found \(found())")
                }
                value = value * 10 + Int(base[index] - JSONScanner.zero)
                index += 1
            }
            return value
        }
        func separator(_ byte: UInt8, _ context: String) throws(JSONFieldError) {
            guard index < end && base[index] == byte else {
                throw fail("expected '\(Character(Unicode.Scalar(byte)))' \(context), found \(found())")
            }
            index += 1
        }
        func check(_ value: Int, _ valid: ClosedRange<Int>, _ name: String, at offset: Int) throws(JSONFieldError) {
            guard valid.contains(value) else {
                throw fail("\(name) \(value) is out of range \(valid.lowerBound)–\(valid.upperBound)", at: offset)
            }
        }

        let year = try number(4, "year")
        try separator(UInt8(ascii: "-"), "after the year")
        let monthStart = index
        let month = try number(2, "month")
        try separator(UInt8(ascii: "-"), "after the month")
        let dayStart = index
        let day = try number(2, "day")
        guard index < end && base[index] | 0x20 == UInt8(ascii: "t") else {
            throw fail("expected 'T' between the date and the time, found \(found())")
        }
        index += 1
        let hourStart = index
        let hour = try number(2, "hour")
        try separator(JSONScanner.colon, "after the hour")
        let minuteStart = index
        let minute = try number(2, "minute")
        try separator(JSONScanner.colon, "after the minute")
        let secondStart = index
        let second = try number(2, "second")

        var milliseconds = 0
        if index < end && base[index] == JSONScanner.dot {
            index += 1
            guard index < end && JSONScanner.isDigit(base[index]) else {
                throw fail("expected a digit after '.' in the seconds, found \(found())")
            }
            var digits = 0
            while index < end && JSONScanner.isDigit(base[index]) {
                if digits < 3 {
                    milliseconds = milliseconds * 10 + Int(base[index] - JSONScanner.zero)
                }
                digits += 1
                index += 1
            }
            for _ in min(digits, 3)..<3 {
                milliseconds *= 10
            }
        }

        var offsetSeconds = 0
        guard index < end else {
            throw fail("expected 'Z' or a UTC offset like +02:00 after the time, found the end")
        }
        let offsetStart = index
        switch base[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            index += 1
        case JSONScanner.plus, JSONScanner.minus:
            let sign = base[index] == JSONScanner.minus ? -1 : 1
            index += 1
            let offsetHours = try number(2, "offset hours")
            try separator(JSONScanner.colon, "in the UTC offset")
            let offsetMinutes = try number(2, "offset minutes")
            try check(offsetHours, 0...23, "offset hours", at: offsetStart + 1)
            try check(offsetMinutes, 0...59, "offset minutes", at: offsetStart + 4)
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        default:
            throw fail("expected 'Z' or a UTC offset like +02:00 after the time, found \(found())")
        }
        guard index == end else {
            throw fail("unexpected \(found()) after the timestamp")
        }

        try check(month, 1...12, "month", at: monthStart)
        try check(day, 1...daysInMonth(year: year, month: month), "day", at: dayStart)
        try check(hour, 0...23, "hour", at: hourStart)
        try check(minute, 0...59, "minute", at: minuteStart)
        try check(second, 0...60, "second", at: secondStart)

        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offsetSeconds
        return Int64(seconds) * 1_000 + Int64(milliseconds)
    }

    /// The number of days in a month of the proleptic Gregorian calendar.
    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2:
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
            return leap ? 29 : 28
        case 4, 6, 9, 11:
            return 30
        default:
            return 31
        }
    }

    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
    /// `days_from_civil`).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

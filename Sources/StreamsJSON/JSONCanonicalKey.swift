/// Canonical byte encodings of scalar JSON values, so that equal values are equal bytewise.
///
/// Each field becomes one self-delimiting component, so composite keys are unambiguous
/// (`("ab","c")` and `("a","bc")` differ):
///
/// | value | encoding |
/// |---|---|
/// | string | `s`, LEB128 length, the characters as UTF-8 with every escape decoded |
/// | number | `n`, LEB128 length, the exact canonical decimal form (below) |
/// | `true` / `false` | `t` / `f` |
/// | `null`, missing | not a key: ``JSONFieldError/Code/missingField`` |
/// | object, array | not a key: ``JSONFieldError/Code/nonScalarKey`` |
///
/// Strings compare by their characters: `"caf\u00e9"` equals `"café"`, surrogate pairs are
/// combined. There is no Unicode normalization (precomposed `é` differs from `e` + U+0301), as in
/// JSON itself. The string `"1"` differs from the number `1`.
///
/// Numbers compare by exact decimal value, never through `Double`: the significant digits without
/// leading or trailing zeros, then `e` and the power of ten if it is not zero, with `-` in front of
/// negative values. So `1`, `1.0`, `1e0` and `10E-1` all encode as `1`; `1500` as `15e2`; `-0.25` as
/// `-25e-2`; `0` and `-0` as `0`; and `12345678901234567890123` keeps every digit.
public enum JSONCanonicalKey {
    /// The tag byte of a string component.
    public static let stringTag = UInt8(ascii: "s")
    /// The tag byte of a number component.
    public static let numberTag = UInt8(ascii: "n")
    /// The component for `true`.
    public static let trueTag = UInt8(ascii: "t")
    /// The component for `false`.
    public static let falseTag = UInt8(ascii: "f")

    /// Clears `key` and appends the canonical encoding of each field, as one composite key.
    ///
    /// - Parameters:
    ///   - fields: The key's fields, in order, as located in `line`.
    ///   - line: The line the fields were located in.
    ///   - key: A reusable buffer; it is cleared keeping its capacity.
    /// - Throws: The errors of ``append(_:of:to:)``.
    public static func encode(
        _ fields: some Sequence<JSONField>,
        of line: UnsafeRawBufferPointer,
        into key: inout [UInt8]
    ) throws(JSONFieldError) {
        key.removeAll(keepingCapacity: true)
        for field in fields {
            try append(field, of: line, to: &key)
        }
    }

    /// Appends the canonical encoding of one scalar field to `key`.
    ///
    /// - Parameters:
    ///   - field: A field located in `line` by ``JSONFieldExtractor``.
    ///   - line: The line the field was located in.
    ///   - key: The buffer to append to.
    /// - Throws: ``JSONFieldError/Code/missingField`` for a missing or `null` field,
    ///   ``JSONFieldError/Code/nonScalarKey`` for an object or array,
    ///   ``JSONFieldError/Code/numberOutOfRange`` for a number whose exponent has more than 15 digits,
    ///   and ``JSONFieldError/Code/invalidEscape`` for bad escapes if the range was not validated.
    public static func append(
        _ field: JSONField,
        of line: UnsafeRawBufferPointer,
        to key: inout [UInt8]
    ) throws(JSONFieldError) {
        switch field.kind {
        case .missing:
            throw JSONFieldError(.missingField, "the field is missing")
        case .null:
            throw JSONFieldError(.missingField, "the field is null", offset: field.range.lowerBound)
        case .object, .array:
            throw JSONFieldError(
                .nonScalarKey,
                "the field is an \(field.kind == .object ? "object" : "array"); key fields must be strings, "
                    + "numbers or booleans",
                offset: field.range.lowerBound
            )
        case .true:
            key.append(trueTag)
        case .false:
            key.append(falseTag)
        case .string, .number:
            precondition(field.range.upperBound <= line.count, "the field's range is outside the line")
            guard let raw = line.baseAddress, !field.range.isEmpty else {
                throw JSONFieldError(.missingField, "the field's range is empty")
            }
            let base = raw.assumingMemoryBound(to: UInt8.self)
            key.append(field.kind == .string ? stringTag : numberTag)
            let lengthIndex = key.count
            key.append(0)
            if field.kind == .string {
                try appendDecodedString(base, field.range, to: &key)
            } else {
                try appendCanonicalNumber(base, field.range, to: &key)
            }
            writeLength(at: lengthIndex, in: &key)
        }
    }

    /// Replaces the one-byte placeholder at `index` with the LEB128 length of the bytes after it.
    private static func writeLength(at index: Int, in key: inout [UInt8]) {
        var length = key.count - index - 1
        key[index] = UInt8(length & 0x7F) | (length >= 0x80 ? 0x80 : 0)
        length >>= 7
        var insertAt = index + 1
        while length > 0 {
            key.insert(UInt8(length & 0x7F) | (length >= 0x80 ? 0x80 : 0), at: insertAt)
            length >>= 7
            insertAt += 1
        }
    }

    /// Appends a string's characters (between the quotes of `range`) as UTF-8 with escapes decoded.
    private static func appendDecodedString(
        _ base: UnsafePointer<UInt8>,
        _ range: Range<Int>,
        to key: inout [UInt8]
    ) throws(JSONFieldError) {
        let end = range.upperBound - 1
        var index = range.lowerBound + 1
        var runStart = index
        while index < end {
            // Find the next backslash eight bytes at a time (bytes past `end` read as zero).
            let backslashes = JSONScanner.backslashMask(JSONScanner.word(base, at: index, end: end))
            guard backslashes != 0 else {
                index &+= 8
                continue
            }
            index &+= backslashes.trailingZeroBitCount &>> 3
            key.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: index - runStart))
            let scalar = try JSONScanner.decodeEscape(base, &index, end)
            var bytes: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
            let count = JSONScanner.encodeUTF8(scalar, into: &bytes)
            key.append(bytes.0)
            if count > 1 { key.append(bytes.1) }
            if count > 2 { key.append(bytes.2) }
            if count > 3 { key.append(bytes.3) }
            runStart = index
        }
        key.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: end - runStart))
    }

    /// Appends the exact canonical decimal form of the JSON number in `range`.
    private static func appendCanonicalNumber(
        _ base: UnsafePointer<UInt8>,
        _ range: Range<Int>,
        to key: inout [UInt8]
    ) throws(JSONFieldError) {
        var index = range.lowerBound
        let end = range.upperBound
        let negative = base[index] == JSONScanner.minus
        if negative {
            index += 1
        }
        let integerStart = index
        while index < end && JSONScanner.isDigit(base[index]) {
            index += 1
        }
        let integerCount = index - integerStart
        var fractionStart = index
        var fractionCount = 0
        if index < end && base[index] == JSONScanner.dot {
            index += 1
            fractionStart = index
            while index < end && JSONScanner.isDigit(base[index]) {
                index += 1
            }
            fractionCount = index - fractionStart
        }
        var exponent = 0
        var exponentTooLarge = false
        if index < end && base[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            var exponentNegative = false
            if index < end && (base[index] == JSONScanner.plus || base[index] == JSONScanner.minus) {
                exponentNegative = base[index] == JSONScanner.minus
                index += 1
            }
            while index < end && base[index] == JSONScanner.zero {
                index += 1
            }
            let digitsStart = index
            while index < end && JSONScanner.isDigit(base[index]) {
                if index - digitsStart < 15 {
                    exponent = exponent * 10 + Int(base[index] - JSONScanner.zero)
                } else {
                    exponentTooLarge = true
                }
                index += 1
            }
            if exponentNegative {
                exponent = -exponent
            }
        }

        // The significant digits are integer digits followed by fraction digits; `digit(k)` reads the k-th.
        let digitCount = integerCount + fractionCount
        func digit(_ k: Int) -> UInt8 {
            k < integerCount ? base[integerStart + k] : base[fractionStart + k - integerCount]
        }
        var first = 0
        while first < digitCount && digit(first) == JSONScanner.zero {
            first += 1
        }
        guard first < digitCount else {
            key.append(JSONScanner.zero)  // Zero, whatever its sign or exponent.
            return
        }
        guard !exponentTooLarge else {
            throw JSONFieldError(
                .numberOutOfRange,
                "the number's exponent has more than 15 digits; it cannot be used as a key",
                offset: range.lowerBound
            )
        }
        var last = digitCount
        while digit(last - 1) == JSONScanner.zero {
            last -= 1
        }
        let powerOfTen = exponent - fractionCount + (digitCount - last)

        if negative {
            key.append(JSONScanner.minus)
        }
        if first < integerCount {
            let integerEnd = min(last, integerCount)
            key.append(contentsOf: UnsafeBufferPointer(start: base + integerStart + first, count: integerEnd - first))
        }
        if last > integerCount {
            let fractionFirst = max(first, integerCount) - integerCount
            key.append(
                contentsOf: UnsafeBufferPointer(
                    start: base + fractionStart + fractionFirst, count: last - integerCount - fractionFirst)
            )
        }
        if powerOfTen != 0 {
            key.append(UInt8(ascii: "e"))
            appendDecimal(powerOfTen, to: &key)
        }
    }

    /// Appends `value` in decimal without allocating.
    private static func appendDecimal(_ value: Int, to key: inout [UInt8]) {
        if value < 0 {
            key.append(JSONScanner.minus)
        }
        var magnitude = value.magnitude
        let start = key.count
        repeat {
            key.append(JSONScanner.zero + UInt8(magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        key[start...].reverse()
    }
}

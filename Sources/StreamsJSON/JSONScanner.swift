/// A forward-only cursor over one line's UTF-8 bytes that validates every token it passes.
///
/// The extractor descends into the objects its paths need and uses ``skipValue()`` for everything
/// else. Skipping containers is iterative (a bit stack, no recursion and no allocation), so a
/// hostile `[[[[…` line cannot overflow the thread's stack.
///
/// - Important: The pointer is lent for one scan and must not escape it.
struct JSONScanner {
    /// The first byte of the line.
    let base: UnsafePointer<UInt8>
    /// One past the last byte.
    let end: Int
    /// The next byte to read.
    var pos: Int = 0
    /// How many objects the extractor has descended into (counts towards the depth limit).
    var depth: Int = 0

    init(base: UnsafePointer<UInt8>, count: Int) {
        self.base = base
        self.end = count
    }

    // MARK: - Bytes

    static let quote: UInt8 = 0x22  // "
    static let backslash: UInt8 = 0x5C  // \
    static let openBrace: UInt8 = 0x7B  // {
    static let closeBrace: UInt8 = 0x7D  // }
    static let openBracket: UInt8 = 0x5B  // [
    static let closeBracket: UInt8 = 0x5D  // ]
    static let comma: UInt8 = 0x2C  // ,
    static let colon: UInt8 = 0x3A  // :
    static let minus: UInt8 = 0x2D  // -
    static let plus: UInt8 = 0x2B  // +
    static let dot: UInt8 = 0x2E  // .
    static let zero: UInt8 = 0x30  // 0

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool {
        byte &- 0x30 < 10
    }

    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while pos < end && Self.isWhitespace(base[pos]) {
            pos += 1
        }
    }

    /// The byte at `index`, described for an error message.
    func describe(at index: Int) -> String {
        guard index < end else {
            return "end of line"
        }
        let byte = base[index]
        if byte >= 0x21 && byte < 0x7F {
            return "'\(Character(Unicode.Scalar(byte)))'"
        }
        return "byte 0x" + String(byte, radix: 16, uppercase: true)
    }

    func error(_ code: JSONFieldError.Code, _ message: String, at offset: Int? = nil) -> JSONFieldError {
        JSONFieldError(code, message, offset: offset ?? pos)
    }

    /// Throws ``JSONFieldError/Code/unexpectedEnd`` at the end of the line, else
    /// ``JSONFieldError/Code/unexpectedCharacter``, naming what was expected.
    func unexpected(_ expected: String) -> JSONFieldError {
        if pos >= end {
            return error(.unexpectedEnd, "line ends early: expected \(expected)")
        }
        return error(.unexpectedCharacter, "expected \(expected), found \(describe(at: pos))")
    }

    /// Consumes `byte` or throws, naming what was expected.
    @inline(__always)
    mutating func expect(_ byte: UInt8, _ expected: @autoclosure () -> String) throws(JSONFieldError) {
        guard pos < end && base[pos] == byte else {
            throw unexpected(expected())
        }
        pos += 1
    }

    // MARK: - Values

    /// Skips one value of any kind and reports its kind; `pos` is at its first byte.
    mutating func skipValue() throws(JSONFieldError) -> JSONField.Kind {
        guard pos < end else {
            throw unexpected("a value")
        }
        switch base[pos] {
        case Self.quote:
            _ = try scanString()
            return .string
        case Self.openBrace:
            try skipContainer()
            return .object
        case Self.openBracket:
            try skipContainer()
            return .array
        case Self.minus, 0x30...0x39:
            try scanNumber()
            return .number
        case 0x74:  // t
            try scanLiteral("true")
            return .true
        case 0x66:  // f
            try scanLiteral("false")
            return .false
        case 0x6E:  // n
            try scanLiteral("null")
            return .null
        default:
            throw unexpected("a value (string, number, object, array, true, false or null)")
        }
    }

    /// Skips an object or array without recursion; `pos` is at its `{` or `[`.
    mutating func skipContainer() throws(JSONFieldError) {
        var stack = ContainerStack()
        var expectingMember = try open(&stack)
        while true {
            if expectingMember {
                if stack.topIsObject {
                    guard pos < end && base[pos] == Self.quote else {
                        throw unexpected("a string key")
                    }
                    _ = try scanString()
                    skipWhitespace()
                    try expect(Self.colon, "':' after an object key")
                    skipWhitespace()
                }
                guard pos < end else {
                    throw unexpected("a value")
                }
                let byte = base[pos]
                if byte == Self.openBrace || byte == Self.openBracket {
                    expectingMember = try open(&stack)
                    if expectingMember {
                        continue
                    }
                } else {
                    _ = try skipValue()
                }
            }
            // After a value (or an empty container).
            if stack.isEmpty {
                return
            }
            skipWhitespace()
            guard pos < end else {
                throw unexpected(stack.topIsObject ? "',' or '}'" : "',' or ']'")
            }
            let byte = base[pos]
            if byte == Self.comma {
                pos += 1
                skipWhitespace()
                expectingMember = true
            } else if byte == (stack.topIsObject ? Self.closeBrace : Self.closeBracket) {
                pos += 1
                stack.pop()
                expectingMember = false
            } else {
                throw unexpected(stack.topIsObject ? "',' or '}' after an object member" : "',' or ']' in an array")
            }
        }
    }

    /// Enters a container at `pos`; returns `false` if it is empty (and already closed and popped).
    @inline(__always)
    private mutating func open(_ stack: inout ContainerStack) throws(JSONFieldError) -> Bool {
        let isObject = base[pos] == Self.openBrace
        guard depth + stack.count < JSONFieldExtractor.maximumDepth else {
            throw error(.tooDeep, "containers are nested more than \(JSONFieldExtractor.maximumDepth) deep")
        }
        stack.push(isObject: isObject)
        pos += 1
        skipWhitespace()
        if pos < end && base[pos] == (isObject ? Self.closeBrace : Self.closeBracket) {
            pos += 1
            stack.pop()
            return false
        }
        return true
    }

    /// Validates a literal such as `true`; `pos` is at its first byte.
    mutating func scanLiteral(_ literal: StaticString) throws(JSONFieldError) {
        let bytes = literal.utf8Start
        let count = literal.utf8CodeUnitCount
        for index in 0..<count {
            guard pos + index < end else {
                throw error(.unexpectedEnd, "line ends early inside '\(literal)'")
            }
            guard base[pos + index] == bytes[index] else {
                throw error(
                    .invalidLiteral, "expected '\(literal)', found \(describe(at: pos + index))", at: pos + index)
            }
        }
        pos += count
    }

    /// Validates a number against the JSON grammar; `pos` is at its `-` or first digit.
    mutating func scanNumber() throws(JSONFieldError) {
        if base[pos] == Self.minus {
            pos += 1
        }
        guard pos < end else {
            throw unexpected("a digit")
        }
        if base[pos] == Self.zero {
            pos += 1
            if pos < end && Self.isDigit(base[pos]) {
                throw error(.invalidNumber, "leading zeros are not allowed in a number")
            }
        } else if Self.isDigit(base[pos]) {
            pos += 1
            skipDigits()
        } else {
            throw error(.invalidNumber, "expected a digit after '-', found \(describe(at: pos))")
        }
        if pos < end && base[pos] == Self.dot {
            pos += 1
            try scanDigits(after: "'.'")
        }
        if pos < end && base[pos] | 0x20 == 0x65 {  // e or E
            pos += 1
            if pos < end && (base[pos] == Self.plus || base[pos] == Self.minus) {
                pos += 1
            }
            try scanDigits(after: "the exponent marker")
        }
    }

    @inline(__always)
    private mutating func scanDigits(after what: StaticString) throws(JSONFieldError) {
        guard pos < end else {
            throw unexpected("a digit")
        }
        guard Self.isDigit(base[pos]) else {
            throw error(.invalidNumber, "expected a digit after \(what) in a number, found \(describe(at: pos))")
        }
        pos += 1
        skipDigits()
    }

    /// Moves `pos` past a run of ASCII digits, eight bytes at a time.
    @inline(__always)
    mutating func skipDigits() {
        while pos < end {
            // Bytes past the end of the line read as zero, which is not a digit.
            let digits = Self.nonDigitMask(word(at: pos)).trailingZeroBitCount &>> 3
            pos &+= digits
            if digits < 8 {
                return
            }
        }
    }

    /// Validates a string (escapes, control characters, UTF-8); `pos` is at its opening quote.
    ///
    /// Plain bytes are passed eight at a time: the first quote, backslash, control character or
    /// non-ASCII byte of each word is found with one bit scan and handled on its own.
    ///
    /// - Returns: Whether the string contains any escape.
    @inline(__always)
    mutating func scanString() throws(JSONFieldError) -> Bool {
        // Inline fast path for plain strings: whole words, then the closing quote.
        let start = pos
        var index = pos &+ 1
        while end &- index >= 8 {
            let attention = Self.attentionMask(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
            if attention != 0 {
                index &+= attention.trailingZeroBitCount &>> 3
                if base[index] == Self.quote {
                    pos = index &+ 1
                    return false
                }
                break
            }
            index &+= 8
        }
        pos = index
        return try scanString(from: start)
    }

    /// The rest of ``scanString()`` from `pos`, for the string that starts at `start`.
    mutating func scanString(from start: Int) throws(JSONFieldError) -> Bool {
        var escaped = false
        while true {
            let available = end &- pos
            guard available > 0 else {
                throw error(.unexpectedEnd, "line ends inside the string that starts at byte \(start)")
            }
            // Bytes past the end of the line read as zero (a control character): mask them off.
            let attention = Self.attentionMask(word(at: pos)) & Self.validBytes(available)
            if attention == 0 {
                pos &+= min(available, 8)
                continue
            }
            pos &+= attention.trailingZeroBitCount &>> 3
            let byte = base[pos]
            if byte == Self.quote {
                pos &+= 1
                return escaped
            } else if byte == Self.backslash {
                escaped = true
                var index = pos
                _ = try Self.decodeEscape(base, &index, end)
                pos = index
            } else if byte < 0x20 {
                throw error(
                    .invalidString,
                    "control character 0x\(String(byte, radix: 16, uppercase: true)) must be escaped in a string"
                )
            } else {
                try scanUTF8Sequence()
            }
        }
    }

    // MARK: - Eight bytes at a time (SWAR)

    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080

    /// The eight bytes at `index` as a little-endian word (`base[index]` in the low byte); bytes at
    /// or past ``end`` read as zero. Never reads outside the line.
    @inline(__always)
    func word(at index: Int) -> UInt64 {
        Self.word(base, at: index, end: end)
    }

    /// The eight bytes at `index` of `base[0..<end]` as a little-endian word; bytes at or past `end`
    /// read as zero. Never reads outside `base[0..<end]`.
    @inline(__always)
    static func word(_ base: UnsafePointer<UInt8>, at index: Int, end: Int) -> UInt64 {
        let available = end &- index
        if available >= 8 {
            return UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
        }
        if end >= 8 {
            // The line's last eight bytes, shifted so that `base[index]` is the low byte.
            let last = UnsafeRawPointer(base + (end &- 8)).loadUnaligned(as: UInt64.self)
            return last &>> UInt64(8 &* (8 &- available))
        }
        var word: UInt64 = 0
        var offset = 0
        while offset < available {
            word |= UInt64(base[index &+ offset]) &<< UInt64(8 &* offset)
            offset &+= 1
        }
        return word
    }

    /// A mask of the high bits of the first `count` bytes of a word (all eight from 8 on).
    @inline(__always)
    static func validBytes(_ count: Int) -> UInt64 {
        count >= 8 ? highs : highs & ((1 &<< UInt64(8 &* count)) &- 1)
    }

    /// The high bit of each byte that is a quote, a backslash, a control character or non-ASCII.
    ///
    /// Only the lowest set bit is exact (a borrow can also mark bytes above a marked one), so
    /// callers take `trailingZeroBitCount` and look at that byte.
    @inline(__always)
    static func attentionMask(_ word: UInt64) -> UInt64 {
        let quotes = word ^ (ones &* 0x22)
        let backslashes = word ^ (ones &* 0x5C)
        let hasQuote = (quotes &- ones) & ~quotes
        let hasBackslash = (backslashes &- ones) & ~backslashes
        let hasControl = (word &- ones &* 0x20) & ~word
        return (hasQuote | hasBackslash | hasControl | word) & highs
    }

    /// The high bit of each byte that is not an ASCII digit; exact for every byte.
    @inline(__always)
    static func nonDigitMask(_ word: UInt64) -> UInt64 {
        let offsets = word ^ (ones &* 0x30)  // digits become 0...9
        // Adding 0x76 to the low seven bits carries into the high bit exactly for 10...0x7F, and
        // never into the next byte; bytes with the high bit set are not digits either.
        return (((offsets & ~highs) &+ ones &* 0x76) | offsets) & highs
    }

    /// The high bit of each byte that is a backslash; exact for every byte.
    @inline(__always)
    static func backslashMask(_ word: UInt64) -> UInt64 {
        let backslashes = word ^ (ones &* 0x5C)
        // A byte is zero exactly when adding 0x7F to its low seven bits does not reach the high
        // bit and its own high bit is clear.
        return ~(((backslashes & ~highs) &+ ~highs) | backslashes) & highs
    }

    /// The value of eight ASCII digits (`word`'s low byte is the most significant digit).
    @inline(__always)
    static func eightDigitsValue(_ word: UInt64) -> UInt64 {
        // parse_eight_digits_unrolled, as in simdjson and fast_float.
        let mask: UInt64 = 0x0000_00FF_0000_00FF
        let mul1: UInt64 = 0x000F_4240_0000_0064  // 100 + (1_000_000 << 32)
        let mul2: UInt64 = 0x0000_2710_0000_0001  // 1 + (10_000 << 32)
        var value = word &- ones &* 0x30
        value = (value &* 10) &+ (value &>> 8)
        return ((value & mask) &* mul1 &+ ((value &>> 16) & mask) &* mul2) &>> 32
    }

    /// Validates one multi-byte UTF-8 sequence (Unicode table 3-7); `pos` is at its lead byte.
    private mutating func scanUTF8Sequence() throws(JSONFieldError) {
        let lead = base[pos]
        var continuationCount = 2
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: continuationCount = 1
        case 0xE0: low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: break
        case 0xED: high = 0x9F
        case 0xF0: continuationCount = 3; low = 0x90
        case 0xF1...0xF3: continuationCount = 3
        case 0xF4: continuationCount = 3; high = 0x8F
        default:
            throw error(
                .invalidUTF8, "byte 0x\(String(lead, radix: 16, uppercase: true)) cannot start a UTF-8 sequence")
        }
        guard pos + continuationCount < end else {
            throw error(.invalidUTF8, "the line ends inside a UTF-8 sequence")
        }
        let second = base[pos + 1]
        var valid = second >= low && second <= high
        if continuationCount > 1 {
            for index in 2...continuationCount where base[pos + index] & 0xC0 != 0x80 {
                valid = false
            }
        }
        guard valid else {
            throw error(.invalidUTF8, "malformed UTF-8 sequence")
        }
        pos += continuationCount + 1
    }

    // MARK: - Escapes

    /// Decodes the escape at `index` (a backslash) to a Unicode scalar value and moves past it.
    ///
    /// A `\uD8xx` high surrogate must be followed by a `\uDCxx` low surrogate; the pair is combined.
    static func decodeEscape(
        _ base: UnsafePointer<UInt8>,
        _ index: inout Int,
        _ end: Int
    ) throws(JSONFieldError) -> UInt32 {
        let start = index
        guard index + 1 < end else {
            throw JSONFieldError(.unexpectedEnd, "line ends inside an escape sequence", offset: start)
        }
        let scalar: UInt32
        switch base[index + 1] {
        case 0x22: scalar = 0x22  // \"
        case 0x5C: scalar = 0x5C  // \\
        case 0x2F: scalar = 0x2F  // \/
        case 0x62: scalar = 0x08  // \b
        case 0x66: scalar = 0x0C  // \f
        case 0x6E: scalar = 0x0A  // \n
        case 0x72: scalar = 0x0D  // \r
        case 0x74: scalar = 0x09  // \t
        case 0x75:  // \u
            let unit = try hex4(base, index + 2, end, escapeStart: start)
            index += 6
            switch unit {
            case 0xD800...0xDBFF:
                guard index + 1 < end && base[index] == backslash && base[index + 1] == 0x75 else {
                    throw JSONFieldError(
                        .invalidEscape,
                        "high surrogate \\u\(String(unit, radix: 16, uppercase: true)) is not followed by a "
                            + "\\u low surrogate",
                        offset: start
                    )
                }
                let low = try hex4(base, index + 2, end, escapeStart: index)
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw JSONFieldError(
                        .invalidEscape,
                        "high surrogate is followed by \\u\(String(low, radix: 16, uppercase: true)), "
                            + "not by a low surrogate",
                        offset: index
                    )
                }
                index += 6
                return 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            case 0xDC00...0xDFFF:
                throw JSONFieldError(
                    .invalidEscape,
                    "low surrogate \\u\(String(unit, radix: 16, uppercase: true)) without a high surrogate before it",
                    offset: start
                )
            default:
                return unit
            }
        default:
            let found = JSONScanner(base: base, count: end).describe(at: index + 1)
            throw JSONFieldError(
                .invalidEscape,
                "unknown escape \\\(found.trimmingQuotes); valid escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX",
                offset: start
            )
        }
        index += 2
        return scalar
    }

    /// Reads four hex digits at `index`.
    private static func hex4(
        _ base: UnsafePointer<UInt8>,
        _ index: Int,
        _ end: Int,
        escapeStart: Int
    ) throws(JSONFieldError) -> UInt32 {
        guard index + 4 <= end else {
            throw JSONFieldError(.unexpectedEnd, "line ends inside a \\u escape", offset: escapeStart)
        }
        var value: UInt32 = 0
        for offset in index..<index + 4 {
            let byte = base[offset]
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x41...0x46: digit = byte - 0x41 + 10
            case 0x61...0x66: digit = byte - 0x61 + 10
            default:
                throw JSONFieldError(.invalidEscape, "\\u must be followed by four hex digits", offset: escapeStart)
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Writes a Unicode scalar value as UTF-8 into `bytes`; returns how many bytes it used.
    @inline(__always)
    static func encodeUTF8(_ scalar: UInt32, into bytes: inout (UInt8, UInt8, UInt8, UInt8)) -> Int {
        switch scalar {
        case 0..<0x80:
            bytes.0 = UInt8(scalar)
            return 1
        case 0x80..<0x800:
            bytes.0 = UInt8(0xC0 | scalar >> 6)
            bytes.1 = UInt8(0x80 | scalar & 0x3F)
            return 2
        case 0x800..<0x10000:
            bytes.0 = UInt8(0xE0 | scalar >> 12)
            bytes.1 = UInt8(0x80 | scalar >> 6 & 0x3F)
            bytes.2 = UInt8(0x80 | scalar & 0x3F)
            return 3
        default:
            bytes.0 = UInt8(0xF0 | scalar >> 18)
            bytes.1 = UInt8(0x80 | scalar >> 12 & 0x3F)
            bytes.2 = UInt8(0x80 | scalar >> 6 & 0x3F)
            bytes.3 = UInt8(0x80 | scalar & 0x3F)
            return 4
        }
    }

    /// Whether the string content in `range` (between the quotes), with escapes decoded, equals `target`.
    @inline(__always)
    func decodedEquals(_ range: Range<Int>, escaped: Bool, _ target: UnsafeBufferPointer<UInt8>) -> Bool {
        if !escaped {
            guard range.count == target.count else {
                return false
            }
            var offset = 0
            while offset < target.count {
                if base[range.lowerBound &+ offset] != target[offset] {
                    return false
                }
                offset &+= 1
            }
            return true
        }
        return escapedEquals(range, target)
    }

    /// ``decodedEquals(_:escaped:_:)`` for a key with escapes.
    private func escapedEquals(_ range: Range<Int>, _ target: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = range.lowerBound
        var matched = 0
        while index < range.upperBound {
            if base[index] != Self.backslash {
                guard matched < target.count && base[index] == target[matched] else {
                    return false
                }
                matched += 1
                index += 1
                continue
            }
            // The string was validated by scanString, so this cannot throw.
            guard let scalar = try? Self.decodeEscape(base, &index, range.upperBound) else {
                return false
            }
            var bytes: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
            let count = Self.encodeUTF8(scalar, into: &bytes)
            guard matched + count <= target.count else {
                return false
            }
            if target[matched] != bytes.0 || (count > 1 && target[matched + 1] != bytes.1)
                || (count > 2 && target[matched + 2] != bytes.2) || (count > 3 && target[matched + 3] != bytes.3)
            {
                return false
            }
            matched += count
        }
        return matched == target.count
    }
}

/// A stack of up to ``JSONFieldExtractor/maximumDepth`` open containers, one bit each (1 = object).
struct ContainerStack {
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    @inline(__always)
    mutating func push(isObject: Bool) {
        precondition(count < 256, "ContainerStack holds at most 256 levels")
        let bit: UInt64 = isObject ? 1 << UInt64(count & 63) : 0
        let mask: UInt64 = ~(1 << UInt64(count & 63))
        switch count >> 6 {
        case 0: words.0 = words.0 & mask | bit
        case 1: words.1 = words.1 & mask | bit
        case 2: words.2 = words.2 & mask | bit
        default: words.3 = words.3 & mask | bit
        }
        count += 1
    }

    @inline(__always)
    mutating func pop() {
        count -= 1
    }

    var topIsObject: Bool {
        let index = count - 1
        let word: UInt64
        switch index >> 6 {
        case 0: word = words.0
        case 1: word = words.1
        case 2: word = words.2
        default: word = words.3
        }
        return word >> UInt64(index & 63) & 1 == 1
    }
}

extension String {
    /// The string without one pair of surrounding single quotes, if it has them.
    fileprivate var trimmingQuotes: String {
        guard count >= 2, first == "'", last == "'" else {
            return self
        }
        return String(dropFirst().dropLast())
    }
}

import StreamsJSON


/// Runs `body` on the bytes of `bytes`, keeping the typed error (`withUnsafeBytes` only rethrows `any Error`).
func withBytes<R>(
    _ bytes: [UInt8],
    _ body: (UnsafeRawBufferPointer) throws(JSONFieldError) -> R
) throws(JSONFieldError) -> R {
    let result = bytes.withUnsafeBytes { raw in
        Result { () throws(JSONFieldError) -> R in try body(raw) }
    }
    return try result.get()
}

/// Scans `line` with an extractor for `paths`; returns the fields or the error.
func scan(_ line: [UInt8], paths: [String]) -> Result<[JSONField], JSONFieldError> {
    do throws(JSONFieldError) {
        var extractor = JSONFieldExtractor(
            paths: try paths.map { path throws(JSONFieldError) in
                try JSONFieldPath(path)
            })
        try withBytes(line) { bytes throws(JSONFieldError) in try extractor.extract(from: bytes) }
        return .success(extractor.fields)
    } catch {
        return .failure(error)
    }
}

/// Scans `line` with an extractor for `paths`; returns the fields or the error.
func scan(_ line: String, paths: [String]) -> Result<[JSONField], JSONFieldError> {
    scan(Array(line.utf8), paths: paths)
}

/// The raw text of a field in `line`.
func text(of field: JSONField, in line: String) -> String {
    String(decoding: Array(line.utf8)[field.range], as: UTF8.self)
}

/// The canonical key component of a single JSON value written as `json`, e.g. `"1.0"` or `"\"a\""`.
func canonical(_ json: String) throws(JSONFieldError) -> [UInt8] {
    try compositeKey([json])
}

/// The composite key of several JSON values, each placed in its own field of one object.
func compositeKey(_ values: [String]) throws(JSONFieldError) -> [UInt8] {
    let names = values.indices.map { "k\($0)" }
    let line = "{" + zip(names, values).map { "\"\($0)\":\($1)" }.joined(separator: ",") + "}"
    var extractor = JSONFieldExtractor(paths: try names.map { name throws(JSONFieldError) in try JSONFieldPath(name) })
    var key: [UInt8] = []
    try withBytes(Array(line.utf8)) { bytes throws(JSONFieldError) in
        try extractor.extract(from: bytes)
        try extractor.encodeKey(fields: 0..<names.count, of: bytes, into: &key)
    }
    return key
}

/// The payload of a single string or number key component (tag and LEB128 length removed).
func payload(of component: [UInt8]) -> [UInt8] {
    var index = 1
    var length = 0
    var shift = 0
    while true {
        let byte = component[index]
        length |= Int(byte & 0x7F) << shift
        shift += 7
        index += 1
        if byte & 0x80 == 0 {
            break
        }
    }
    precondition(index + length == component.count, "component length does not match its prefix")
    return Array(component[index...])
}

import Foundation
import Testing
import StreamsTestSupport

/// The Deduplicator contract of issue 4, written as plainly as possible, to compare `dedup run`
/// with: a global merge of the inputs (smallest event time first, ties to the input given first),
/// stream time `S` from −∞ to the largest time seen, and a record `(k, t)` is a duplicate iff an
/// earlier *emitted* record `(k, t0)` has `|t − t0| < W` and `t0 + W > S − G` (S before the record).
/// Fields are read with Foundation's `JSONSerialization`, independently of StreamsJSON.
enum DedupModel {
    struct Result {
        var kept: [String] = []
        var dropped: [String] = []
    }

    static func run(
        inputs: [[String]],
        keyFields: [String],
        timeField: String,
        windowMs: Int64,
        graceMs: Int64
    ) -> Result {
        let parsed = inputs.map { $0.map { ($0, key(of: $0, fields: keyFields), time(of: $0, field: timeField)) } }
        var heads = Array(repeating: 0, count: inputs.count)
        var streamTime: Int64? = nil
        var emitted: [String: [Int64]] = [:]
        var result = Result()
        while true {
            // The input whose next record has the smallest time; ties to the first input.
            var chosen: Int? = nil
            for i in parsed.indices where heads[i] < parsed[i].count {
                if chosen == nil || parsed[i][heads[i]].2 < parsed[chosen!][heads[chosen!]].2 { chosen = i }
            }
            guard let i = chosen else { break }
            let (line, k, t) = parsed[i][heads[i]]
            heads[i] += 1
            let duplicate = (emitted[k] ?? []).contains { t0 in
                abs(t - t0) < windowMs && (streamTime == nil || t0 + windowMs > streamTime! - graceMs)
            }
            if duplicate {
                result.dropped.append(line)
            } else {
                result.kept.append(line)
                emitted[k, default: []].append(t)
            }
            streamTime = max(streamTime ?? t, t)
        }
        return result
    }

    static func field(_ path: String, in line: String) -> Any? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) else {
            Issue.record("the model cannot parse \(line)")
            return nil
        }
        var value: Any? = object
        for component in path.split(separator: ".") {
            value = (value as? [String: Any])?[String(component)]
        }
        return value
    }

    /// The key by value: strings by their characters, numbers by numeric value.
    static func key(of line: String, fields: [String]) -> String {
        fields.map { path -> String in
            let value = field(path, in: line)
            // By scalars: Swift's String == would equate "é" with "e\u{301}"; JSON does not.
            if let string = value as? String {
                return "s" + string.unicodeScalars.map { String($0.value, radix: 16) }.joined(separator: ",")
            }
            if let double = value as? Double {
                return double == double.rounded() && abs(double) < 1e15 ? "n\(Int64(double))" : "n\(double)"
            }
            if let int = value as? Int { return "n\(int)" }
            Issue.record("the model found no scalar key \(path) in \(line)")
            return "?"
        }.joined(separator: "\u{0}")
    }

    /// Epoch milliseconds, or an RFC 3339 string with fractional seconds.
    static func time(of line: String, field path: String) -> Int64 {
        let value = field(path, in: line)
        if let string = value as? String {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            guard let date = formatter.date(from: string) else {
                Issue.record("the model cannot parse the time \(string)")
                return 0
            }
            return Int64((date.timeIntervalSince1970 * 1000).rounded())
        }
        if let int = value as? Int { return Int64(int) }
        if let double = value as? Double { return Int64(double) }
        Issue.record("the model found no time in \(line)")
        return 0
    }
}

/// Random producer files for the contract: out-of-order times, repeats within and across files,
/// keys that come back after the window, numbers spelled differently (`7`, `7.0`, `7e0`, `70e-1`),
/// strings with escapes (`"caf\u00e9"` is `"café"`), and times as epoch ms or RFC 3339.
struct Workload {
    var inputs: [[String]]
    var windowMs: Int64
    var graceMs: Int64
    var keyFields = ["k.id"]
    var timeField = "ts"

    enum Key: Hashable {
        case number(Int)
        case string(String)
    }

    static let strings = ["o-1", "café", "a\"b", "tab\tx", "π/2", "😀x", "back\\slash", "o-2", "Ünï"]

    struct Generator {
        var rng: SplitMix64
        var windowMs: Int64
        var serial = 0
        var recent: [(key: Key, t: Int64)] = []

        init(seed: UInt64, windowMs: Int64) {
            rng = SplitMix64(seed: seed)
            self.windowMs = windowMs
        }

        mutating func int(_ range: ClosedRange<Int64>) -> Int64 { Int64.random(in: range, using: &rng) }

        /// `count` lines spread over `producers` files, times from `start` on.
        mutating func lines(count: Int, producers: Int, start: Int64, uniqueRate: Int = 30) -> [[String]] {
            var files = Array(repeating: [String](), count: producers)
            var now = start
            let w = windowMs
            for _ in 0..<count {
                now += int(0...max(1, w / 6))
                let producer = Int(int(0...Int64(producers - 1)))
                let key: Key
                var t: Int64
                if !recent.isEmpty && int(0...99) < 35 {
                    let earlier = recent[Int(int(0...Int64(recent.count - 1)))]
                    key = earlier.key
                    t = max(start, earlier.t + int(-2 * w...2 * w))
                } else {
                    if int(0...99) < uniqueRate {
                        key = .string("u-\(serial)")
                    } else if int(0...1) == 0 {
                        key = .number(Int(int(-3...12)))
                    } else {
                        key = .string(Workload.strings[Int(int(0...Int64(Workload.strings.count - 1)))])
                    }
                    t = max(start, now + int(-w...w))
                }
                recent.append((key, t))
                if recent.count > 40 { recent.removeFirst() }
                files[producer].append(render(key: key, t: t, producer: producer))
                serial += 1
            }
            return files
        }

        /// `count` more lines, all newer than `end` (the newest time so far), that start with
        /// repeats of the newest keys so far at `end + 1`: the state before decides them.
        mutating func continuation(count: Int, producers: Int, after end: Int64, uniqueRate: Int = 30) -> [[String]] {
            let newest = recent.sorted { $0.t > $1.t }.prefix(8)
            recent = recent.map { ($0.key, end + 1) }
            var files = lines(count: count, producers: producers, start: end + 1, uniqueRate: uniqueRate)
            for (i, earlier) in newest.enumerated() {
                files[i % producers].insert(render(key: earlier.key, t: end + 1, producer: i % producers), at: 0)
                serial += 1
            }
            return files
        }

        mutating func render(key: Key, t: Int64, producer: Int) -> String {
            let k = spell(key)
            let ts = spellTime(t)
            switch int(0...2) {
            case 0: return #"{"k":{"id":\#(k)},"ts":\#(ts),"n":\#(serial),"p":\#(producer)}"#
            case 1: return #"{"n": \#(serial), "ts" : \#(ts), "k": { "id" : \#(k) }, "p": "p\#(producer)"}"#
            default: return #"{"p":\#(producer),"k":{"x":[1,{"id":0}],"id":\#(k)},"n":\#(serial),"ts":\#(ts)}"#
            }
        }

        mutating func spell(_ key: Key) -> String {
            switch key {
            case .number(let n):
                switch int(0...4) {
                case 0: return "\(n)"
                case 1: return "\(n).0"
                case 2: return "\(n)e0"
                case 3: return "\(n * 10)e-1"
                default: return "\(n).000E+0"
                }
            case .string(let s):
                switch int(0...2) {
                case 0:  // only the escapes JSON requires
                    var out = "\""
                    for c in s.unicodeScalars {
                        switch c {
                        case "\"": out += "\\\""
                        case "\\": out += "\\\\"
                        case "\t": out += "\\t"
                        default: out.unicodeScalars.append(c)
                        }
                    }
                    return out + "\""
                case 1:  // every UTF-16 unit as \uXXXX (surrogate pairs for 😀)
                    return "\"" + s.utf16.map { String(format: "\\u%04X", $0) }.joined() + "\""
                default:  // non-ASCII as \u, slash as \/
                    var out = "\""
                    for c in s.unicodeScalars {
                        if c == "/" {
                            out += "\\/"
                        } else if c == "\"" || c == "\\" || c.value < 0x20 || c.value > 0x7E {
                            out += String(c).utf16.map { String(format: "\\u%04x", $0) }.joined()
                        } else {
                            out.unicodeScalars.append(c)
                        }
                    }
                    return out + "\""
                }
            }
        }

        mutating func spellTime(_ t: Int64) -> String {
            switch int(0...3) {
            case 0: return "\"\(rfc3339(t, offsetMinutes: 0))\""
            case 1: return "\"\(rfc3339(t, offsetMinutes: 120))\""
            case 2: return "\"\(rfc3339(t, offsetMinutes: -330))\""
            default: return "\(t)"
            }
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmm(Z|±HH:MM)`, computed by hand (days to civil date, H. Hinnant).
    static func rfc3339(_ ms: Int64, offsetMinutes: Int64) -> String {
        let local = ms + offsetMinutes * 60_000
        let millis = ((local % 1000) + 1000) % 1000
        let seconds = (local - millis) / 1000
        let secondOfDay = ((seconds % 86_400) + 86_400) % 86_400
        let days = (seconds - secondOfDay) / 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ v: Int64, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        let zone: String
        if offsetMinutes == 0 {
            zone = "Z"
        } else {
            let a = abs(offsetMinutes)
            zone = (offsetMinutes > 0 ? "+" : "-") + pad(a / 60, 2) + ":" + pad(a % 60, 2)
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):"
            + "\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(millis, 3))\(zone)"
    }

    /// The model's answer for these inputs.
    func expected() -> DedupModel.Result {
        DedupModel.run(inputs: inputs, keyFields: keyFields, timeField: timeField, windowMs: windowMs, graceMs: graceMs)
    }

    /// Writes the inputs as `in-<i>.jsonl` files in `directory`; returns their paths.
    func write(to directory: String) -> [String] {
        inputs.enumerated().map { i, lines in
            let path = directory + "/in-\(i).jsonl"
            Files.write(lines, to: path)
            return path
        }
    }

    /// `dedup run` arguments for these settings.
    func arguments(inputs paths: [String], output: String, duplicates: String?, state: String) -> [String] {
        var arguments = ["run"]
        for path in paths { arguments += ["--input", path] }
        arguments += ["--output", output]
        if let duplicates { arguments += ["--duplicates", duplicates] }
        for key in keyFields { arguments += ["--key", key] }
        arguments += ["--time-field", timeField, "--window", "\(windowMs)ms", "--state", state, "--quiet"]
        if graceMs > 0 { arguments += ["--grace", "\(graceMs)ms"] }
        return arguments
    }
}

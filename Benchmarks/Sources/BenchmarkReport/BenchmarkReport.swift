// Prints a Markdown report of a saved package-benchmark baseline: the median of every benchmark, then
// the ratios the store's targets are stated in (store vs C LMDB, restore vs put-if-absent, segment
// drop vs one-by-one deletes, 1M vs 10M) and bytes on disk per live key.
//
// Usage: swift run -c release BenchmarkReport [baseline-name] [package-directory]
// (defaults: "current", "."), after `swift package benchmark baseline update <baseline-name>`.
import Benchmark
import Foundation

/// The key of package-benchmark's saved results (its own type is internal to the tool).
struct Identifier: Codable, Hashable {
    var target: String
    var name: String
}

/// The part of `.benchmarkBaselines/<target>/<baseline>/results.json` the report reads.
struct SavedBaseline: Decodable {
    var results: [Identifier: [BenchmarkResult]]
}

struct Medians {
    var opsPerSecond: Double?
    var wallClockMs: Double?
    var bytesPerLiveKey: Int?
}

@main
struct BenchmarkReport {
    static func main() throws {
        let arguments = CommandLine.arguments.dropFirst()
        let baselineName = arguments.first ?? "current"
        let packageDirectory = arguments.dropFirst().first ?? "."
        let root = URL(fileURLWithPath: packageDirectory).appendingPathComponent(".benchmarkBaselines")
        var medians: [String: Medians] = [:]
        var order: [String] = []
        let targets = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        for target in targets.sorted() {
            let file = root.appendingPathComponent(target).appendingPathComponent(baselineName)
                .appendingPathComponent("results.json")
            guard let data = try? Data(contentsOf: file) else { continue }
            let saved = try JSONDecoder().decode(SavedBaseline.self, from: data)
            for (id, results) in saved.results.sorted(by: { $0.key.name < $1.key.name }) {
                var m = Medians()
                for result in results {
                    guard let p50 = result.statistics.percentiles(for: [50]).first else { continue }
                    switch result.metric {
                    case .wallClock: m.wallClockMs = Double(p50) / 1e6
                    case .custom("ops/s", _, _): m.opsPerSecond = Double(p50)
                    case .custom("bytes/live key", _, _): m.bytesPerLiveKey = p50
                    default: break
                    }
                }
                medians[id.name] = m
                order.append(id.name)
            }
        }
        guard !medians.isEmpty else {
            print("No results for baseline '\(baselineName)' under \(root.path).")
            print("Run `swift package --allow-writing-to-package-directory benchmark baseline update \(baselineName)` first.")
            exit(1)
        }

        print("### Medians (baseline `\(baselineName)`)\n")
        print("| Benchmark | ops/s (median) | wall clock per iteration (median) | bytes/live key |")
        print("|---|---:|---:|---:|")
        for name in order {
            let m = medians[name]!
            print(
                "| \(name) | \(m.opsPerSecond.map(rate) ?? "–") | \(m.wallClockMs.map { String(format: "%.1f ms", $0) } ?? "–") | \(m.bytesPerLiveKey.map(String.init) ?? "–") |"
            )
        }

        func ops(_ name: String) -> Double? { medians[name]?.opsPerSecond }
        var rows: [(String, String, Double?, Double?)] = []  // what, formula, value, target
        func ratio(_ what: String, _ numerator: String, _ denominator: String, target: Double? = nil) {
            let value = ops(numerator).flatMap { n in ops(denominator).map { n / $0 } }
            rows.append((what, "`\(numerator)` / `\(denominator)`", value, target))
        }
        for scale in ["1M", "10M"] {
            for txn in ["1k", "50k"] {
                ratio(
                    "put-if-absent \(scale), txn=\(txn): store vs C", "put-if-absent \(scale) txn=\(txn): store",
                    "put-if-absent \(scale) txn=\(txn): C LMDB", target: 0.90)
            }
        }
        ratio("lookup hit 1M: store vs C", "lookup hit 1M: store", "lookup hit 1M: C LMDB", target: 0.90)
        ratio("lookup miss 1M: store vs C", "lookup miss 1M: store", "lookup miss 1M: C LMDB", target: 0.90)
        ratio("lookup hit 1M in 10M: store vs C", "lookup hit 1M in 10M: store", "lookup hit 1M in 10M: C LMDB", target: 0.90)
        ratio("lookup miss 1M in 10M: store vs C", "lookup miss 1M in 10M: store", "lookup miss 1M in 10M: C LMDB", target: 0.90)
        ratio("range fetch 1M: store vs C", "range fetch 1M: store", "range fetch 1M: C LMDB")
        ratio(
            "restore vs put-if-absent (store, 1M, txn=50k)", "restore 1M-op changelog, txn=50k: store",
            "put-if-absent 1M txn=50k: store", target: 0.80)
        ratio(
            "restore vs put-if-absent (store, 10M, txn=50k)", "restore 10M-op changelog, txn=50k: store",
            "put-if-absent 10M txn=50k: store", target: 0.80)
        ratio(
            "segment drop (store) vs deletes (C)", "expire 1M-entry segment by drop: store",
            "expire 1M-entry segment by deletes, txn=50k: C LMDB", target: 20)
        ratio(
            "segment drop vs deletes (store)", "expire 1M-entry segment by drop: store",
            "expire 1M-entry segment by deletes, txn=50k: store", target: 20)
        ratio(
            "segment drop vs deletes (C)", "expire 1M-entry segment by drop: C LMDB",
            "expire 1M-entry segment by deletes, txn=50k: C LMDB")
        ratio("store defaults vs baseline flags (1M, txn=50k)", "put-if-absent 1M txn=50k: store, default options", "put-if-absent 1M txn=50k: store")
        ratio("InMemoryWindowStore vs LMDB store (1M, txn=50k)", "put-if-absent 1M txn=50k: InMemoryWindowStore", "put-if-absent 1M txn=50k: store")
        ratio("Swift Dictionary vs LMDB store (1M, txn=50k)", "put-if-absent 1M: Swift Dictionary", "put-if-absent 1M txn=50k: store")
        for who in ["store", "C LMDB"] {
            for txn in ["1k", "50k"] {
                ratio("put-if-absent 10M vs 1M, txn=\(txn): \(who)", "put-if-absent 10M txn=\(txn): \(who)", "put-if-absent 1M txn=\(txn): \(who)")
            }
            ratio("lookup hit 10M vs 1M: \(who)", "lookup hit 1M in 10M: \(who)", "lookup hit 1M: \(who)")
            ratio("lookup miss 10M vs 1M: \(who)", "lookup miss 1M in 10M: \(who)", "lookup miss 1M: \(who)")
        }
        ratio("restore 10M vs 1M: store", "restore 10M-op changelog, txn=50k: store", "restore 1M-op changelog, txn=50k: store")

        print("\n### Ratios of medians (ops/s)\n")
        print("| Comparison | Ratio | Target | Met | Computed as |")
        print("|---|---:|---:|:---:|---|")
        for (what, formula, value, target) in rows {
            let shown = value.map { String(format: $0 >= 10 ? "%.0f×" : "%.2f", $0) } ?? "not run"
            let targetText = target.map { $0 >= 10 ? String(format: "≥ %.0f×", $0) : String(format: "≥ %.2f", $0) } ?? ""
            let met = value.flatMap { v in target.map { v >= $0 ? "yes" : "**no**" } } ?? ""
            print("| \(what) | \(shown) | \(targetText) | \(met) | \(formula) |")
        }

        print("\n### Bytes on disk per live key (LMDB pages in use / live entries)\n")
        print("| Benchmark | bytes/live key |")
        print("|---|---:|")
        for name in order {
            if let bytes = medians[name]?.bytesPerLiveKey { print("| \(name) | \(bytes) |") }
        }
    }

    static func rate(_ value: Double) -> String {
        if value >= 1e9 { return String(format: "%.2f G", value / 1e9) }
        if value >= 1e6 { return String(format: "%.2f M", value / 1e6) }
        if value >= 1e3 { return String(format: "%.0f k", value / 1e3) }
        return String(format: "%.0f", value)
    }
}

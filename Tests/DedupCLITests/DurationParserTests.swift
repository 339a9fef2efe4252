import Testing

@testable import DedupCLI

@Suite("DurationParser")
struct DurationParserTests {
    @Test(
        "accepted forms",
        arguments: [
            ("250ms", 250), ("30s", 30_000), ("15m", 900_000), ("24h", 86_400_000), ("7d", 604_800_000),
            ("1h30m", 5_400_000), ("1d12h", 129_600_000), ("1m1ms", 60_001), ("0h5s", 5_000),
        ] as [(String, Int64)])
    func accepted(text: String, ms: Int64) {
        #expect(DurationParser.parse(text) == .milliseconds(ms))
    }

    @Test(
        "rejected forms",
        arguments: [
            "", "0s", "0ms", "10", "ms", "s5", "1.5s", "1h-5m", "-5s", "5 s", "5S", "5sec", "99999999999999999999d",
            "106751991168d",
        ])
    func rejected(text: String) {
        #expect(DurationParser.parse(text) == nil)
    }
}

import StreamsTestKit
import Testing

/// The engine-contract suite of StreamsTestKit against the in-memory engine, the reference the
/// other engines are held to.
@Suite("Engine contract: in-memory engine")
struct EngineContractTests {
    @Test("scenario", arguments: EngineContract.Scenario.allCases)
    func scenario(_ scenario: EngineContract.Scenario) throws {
        try scenario.run(InMemoryContractHarness())
    }
}

import Foundation
import Testing
import StreamsState
import StreamsStateLMDB
import StreamsTestSupport

// Item 7: a retention under 1 ms is a StateStoreError from the stores' throwing entry points, not
// a trap; public API only.
@Suite("Window store retention validation")
struct RetentionValidationTests {
    @Test(arguments: [Duration.zero, .milliseconds(-1), .seconds(-10), .microseconds(999)])
    func retentionUnderOneMillisecondIsAnError(retention: Duration) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let configuration = WindowStoreConfiguration(name: "orders", retention: retention)
        let storeDirectory = dir.file("orders")

        let lmdb = try #require(throws: StateStoreError.self) {
            _ = try LMDBWindowStore(directory: storeDirectory, configuration: configuration)
        }
        #expect(lmdb.code == .invalidConfiguration)
        #expect(
            lmdb.message.contains(
                "store 'orders': the retention must be at least 1 ms, got \(retention.milliseconds) ms"))
        #expect(!FileManager.default.fileExists(atPath: storeDirectory), "nothing may be created")

        for factory in [WindowStoreFactory.inMemory, .lmdb()] {
            let error = try #require(throws: StateStoreError.self) {
                _ = try factory.open(configuration, storeDirectory)
            }
            #expect(error.code == .invalidConfiguration)
        }
        #expect(throws: StateStoreError.self) { try configuration.validate() }
    }
}

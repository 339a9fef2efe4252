import Foundation
import Logging
import ServiceLifecycle
import StreamsEmbedded
import DedupApp
import Synchronization

/// Runs a ``DedupJob`` on a thread of its own (its loop is synchronous: no `await` per record)
/// as a ServiceLifecycle service: SIGINT/SIGTERM set the job's stop flag, the job commits what it
/// processed and returns, and the service ends.
final class DedupService: Service, Sendable {
    private let configuration: DedupJobConfiguration
    private let progress: ProgressPrinter
    private let logger: Logger
    private let stop = StopFlag()
    private let result = Mutex<Result<DedupJobSummary, DedupJobError>?>(nil)

    init(configuration: DedupJobConfiguration, progress: ProgressPrinter, logger: Logger) {
        self.configuration = configuration
        self.progress = progress
        self.logger = logger
    }

    /// What the job returned, once ``run()`` has finished.
    var outcome: Result<DedupJobSummary, DedupJobError>? { result.withLock { $0 } }

    func run() async throws {
        let configuration = self.configuration
        let progress = self.progress
        let stop = self.stop
        let logger = self.logger
        let outcome: Result<DedupJobSummary, DedupJobError> = await withGracefulShutdownHandler {
            await withCheckedContinuation { continuation in
                let thread = Thread {
                    do throws(DedupJobError) {
                        let job = try DedupJob(configuration: configuration, logger: logger)
                        let summary = try job.run(progress: { progress.show($0) }, shouldStop: { stop.isSet })
                        continuation.resume(returning: .success(summary))
                    } catch {
                        continuation.resume(returning: .failure(error))
                    }
                }
                thread.name = "dedup-stream-thread"
                thread.start()
            }
        } onGracefulShutdown: {
            stop.set()
        }
        result.withLock { $0 = outcome }
    }
}

/// A flag set from the shutdown handler and polled by the job's loop (between batches).
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}

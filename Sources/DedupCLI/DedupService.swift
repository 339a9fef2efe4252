import Foundation
import Logging
import ServiceLifecycle
import StreamsEmbedded
import DedupApp
import Synchronization

/// Runs a job (``DedupJob`` or ``KafkaDedupJob``) on a thread of its own (its loop is
/// synchronous: no `await` per record) as a ServiceLifecycle service: SIGINT/SIGTERM set the job's
/// stop flag, the job commits what it processed and returns, and the service ends.
final class DedupService: Service, Sendable {
    /// Runs the job: reports progress, polls the stop flag, returns its summary.
    typealias Job =
        @Sendable (_ progress: ProgressPrinter, _ shouldStop: () -> Bool) throws(DedupJobError) ->
        DedupJobSummary

    private let job: Job
    private let progress: ProgressPrinter
    private let stop = StopFlag()
    private let result = Mutex<Result<DedupJobSummary, DedupJobError>?>(nil)

    init(progress: ProgressPrinter, job: @escaping Job) {
        self.progress = progress
        self.job = job
    }

    /// `dedup run`'s job.
    convenience init(configuration: DedupJobConfiguration, progress: ProgressPrinter, logger: Logger) {
        self.init(progress: progress) { (progress, shouldStop) throws(DedupJobError) in
            let job = try DedupJob(configuration: configuration, logger: logger)
            return try job.run(progress: { progress.show($0) }, shouldStop: shouldStop)
        }
    }

    /// What the job returned, once ``run()`` has finished.
    var outcome: Result<DedupJobSummary, DedupJobError>? { result.withLock { $0 } }

    func run() async throws {
        let job = self.job
        let progress = self.progress
        let stop = self.stop
        let outcome: Result<DedupJobSummary, DedupJobError> = await withGracefulShutdownHandler {
            await withCheckedContinuation { continuation in
                let thread = Thread {
                    do throws(DedupJobError) {
                        let summary = try job(progress, { stop.isSet })
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

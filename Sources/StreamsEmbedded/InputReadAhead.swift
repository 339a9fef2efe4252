internal import CStreamsSystem
internal import StreamsCore

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// Reads the embedded engine's inputs ahead, on a thread of its own: while the stream thread
/// processes batch N, this thread reads batch N+1 of each input, splits it into lines and
/// extracts keys and event times (each input's ``RecordExtraction``), so that a run uses two
/// cores (issue 12's pipeline).
///
/// The engine takes one item per input per poll (``take(_:)``), in the order they were read, so
/// the batches, and so the records the task sees, are the same as when reading on the stream
/// thread. At most ``depth`` items wait per input; reading an input stops there until the engine
/// takes one. A followed input with no new data is retried every ``idleRetryNanoseconds``.
///
/// Ownership: after ``start()`` the line readers and extractions belong to the reading thread;
/// the queues, idle flags and the stop flag are shared under one mutex. The engine only keeps
/// using the readers' immutable parts (path, descriptor for `pread` fingerprints).
///
/// - Important: Call ``stop()`` before the line readers are closed or released; it joins the
///   thread.
final class InputReadAhead: @unchecked Sendable {
    /// What one read of an input gave.
    enum Item {
        /// Lines, as a batch of records (extracted when the input has an extraction), with each
        /// line's end offset and number, for the engine's commit and ``EmbeddedEngine/describe(_:)``.
        case batch(InputBatch, lines: [(endOffset: Int64, line: Int64)])
        /// The input ended (no following): nothing more comes.
        case endOfInput
        /// Reading failed; nothing more comes.
        case failure(EmbeddedError)
    }

    /// One input, as the reading thread sees it.
    struct Source {
        let reader: LineReader
        let partition: TopicPartition
        var extraction: RecordExtraction?
        /// When a followed input with no new data may be read again (monotonic nanoseconds).
        var retryAtNs: UInt64 = 0
        /// The end or a failure was queued: nothing more to read.
        var finished = false
    }

    /// The most items waiting per input: enough for the next poll while one is read.
    let depth = 2
    /// How long a followed input with no new data waits before the next read.
    static let idleRetryNanoseconds: UInt64 = 10_000_000

    private var sources: [Source]
    private let clock: SystemWallClock
    // Shared state, under `mutex`.
    private var queues: [[Item]]
    private var idle: [Bool]
    private var stopping = false
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var thread: pthread_t?

    /// Prepares reading `sources` ahead; nothing is read before ``start()``.
    init(sources: [Source], clock: SystemWallClock) {
        self.sources = sources
        self.clock = clock
        queues = Array(repeating: [], count: sources.count)
        idle = Array(repeating: false, count: sources.count)
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        precondition(thread == nil, "InputReadAhead released while its thread runs; call stop()")
        pthread_cond_destroy(condition)
        condition.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Starts the reading thread.
    ///
    /// - Throws: ``EmbeddedError`` when the thread cannot be created.
    func start() throws(EmbeddedError) {
        precondition(thread == nil, "InputReadAhead started twice")
        let box = Unmanaged.passRetained(self)
        var created = pthread_t()
        let result = pthread_create(
            &created, nil,
            { context in
                let readAhead = Unmanaged<InputReadAhead>.fromOpaque(context!).takeRetainedValue()
                readAhead.run()
                return nil
            }, box.toOpaque())
        guard result == 0 else {
            box.release()
            throw EmbeddedError(
                .io, "cannot start the input reading thread: \(String(cString: strerror(result)))", path: "")
        }
        thread = created
    }

    /// Stops the reading thread and waits for it (it finishes the read under way, at most one
    /// chunk of one input). Harmless when not started or already stopped.
    func stop() {
        guard let thread else { return }
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
        pthread_join(thread, nil)
        self.thread = nil
    }

    /// The next item of input `i`, waiting until the reading thread has one; `nil` when the
    /// input (followed) has no new data now.
    func take(_ i: Int) -> Item? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while queues[i].isEmpty {
            if idle[i] { return nil }
            pthread_cond_wait(condition, mutex)
        }
        let item = queues[i].removeFirst()
        pthread_cond_broadcast(condition)
        return item
    }

    // MARK: The reading thread

    private func run() {
        pthread_mutex_lock(mutex)
        var next = 0
        while !stopping {
            let nowNs = Self.monotonicNanoseconds()
            var picked: Int?
            var earliestRetryNs = UInt64.max
            for k in sources.indices {
                let i = (next + k) % sources.count
                guard !sources[i].finished && queues[i].count < depth else { continue }
                if sources[i].retryAtNs > nowNs {
                    earliestRetryNs = min(earliestRetryNs, sources[i].retryAtNs)
                    continue
                }
                picked = i
                break
            }
            guard let i = picked else {
                if earliestRetryNs == .max {
                    pthread_cond_wait(condition, mutex)
                } else {
                    var deadline = timespec(
                        tv_sec: Int(earliestRetryNs / 1_000_000_000), tv_nsec: Int(earliestRetryNs % 1_000_000_000))
                    pthread_cond_timedwait(condition, mutex, &deadline)
                }
                continue
            }
            next = i + 1
            pthread_mutex_unlock(mutex)
            let item = read(i)
            pthread_mutex_lock(mutex)
            guard let item else {
                idle[i] = true
                sources[i].retryAtNs = Self.monotonicNanoseconds() + Self.idleRetryNanoseconds
                pthread_cond_broadcast(condition)
                continue
            }
            idle[i] = false
            switch item {
            case .batch: break
            case .endOfInput, .failure: sources[i].finished = true
            }
            queues[i].append(item)
            pthread_cond_broadcast(condition)
        }
        pthread_mutex_unlock(mutex)
    }

    /// One read of input `i`; `nil` when a followed input has no new data.
    private func read(_ i: Int) -> Item? {
        let status: LineReadStatus
        do { status = try sources[i].reader.nextBatch() } catch { return .failure(error) }
        switch status {
        case .endOfInput: return .endOfInput
        case .noDataYet: return nil
        case .lines: break
        }
        let nowMs = clock.nowMs
        // Destructured, so that `batch` holds the only reference to its records: extracting in
        // place then writes them without copying the array.
        var (batch, lines) = EmbeddedEngine.records(
            of: sources[i].reader, partition: sources[i].partition, nowMs: nowMs)
        sources[i].extraction?.extract(&batch, nowMs: nowMs)
        return .batch(batch, lines: lines)
    }

    private static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}

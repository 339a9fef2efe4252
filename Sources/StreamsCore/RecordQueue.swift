/// The records of one input partition waiting to be processed, in offset order.
///
/// A queue of the batches themselves: appending a batch keeps its array (no record is copied,
/// which would retain every reference a record holds), and popping moves the record out of its
/// slot, leaving an empty record there for the array to destroy. A record the source's
/// extractors found invalid keeps its place, with its error beside it (``append(_:failure:)``),
/// so that the error policy applies when it comes up: a dead-lettered record is then committed
/// together with its position.
struct RecordQueue {
    /// The buffered batches, oldest first, from `first`; `chunks[first]` is read from `head`.
    private var chunks: [[Record]] = []
    private var first = 0
    private var head = 0
    /// The number of records buffered.
    private(set) var count = 0
    /// Records removed so far: the sequence number of the head.
    private var removed = 0
    /// Errors of invalid records, by sequence number, in order.
    private var failures: [(sequence: Int, error: StreamsError)] = []
    private var failureHead = 0
    /// The timestamp of the first record; only valid when not empty.
    private(set) var headTimestampMs: Int64 = .min

    var isEmpty: Bool { count == 0 }

    /// What a popped record's slot holds until its batch is freed: its references are the empty
    /// array's, which is immortal, so that storing and destroying it costs no atomic operation.
    private static let vacated = Record(key: nil, value: ArraySlice(), timestampMs: 0)

    /// Appends the records of a slice of a batch (copied, with their references retained).
    mutating func append(contentsOf batch: some Collection<Record>) {
        guard !batch.isEmpty else { return }
        append(contentsOf: Array(batch))
    }

    /// Appends a whole batch: the queue keeps the array itself (no record is copied).
    mutating func append(contentsOf batch: consuming [Record]) {
        let batch = batch
        guard !batch.isEmpty else { return }
        if count == 0 { headTimestampMs = batch[0].timestampMs }
        count += batch.count
        chunks.append(batch)
    }

    /// Appends an invalid record with the error its extraction found.
    mutating func append(_ record: Record, failure: StreamsError) {
        failures.append((removed + count, failure))
        append(contentsOf: [record])
    }

    /// Removes the first record (moved out of its batch, not copied) and returns it with its
    /// error if it is an invalid one; the queue must not be empty.
    @inline(__always)
    mutating func removeFirst() -> (record: Record, failure: StreamsError?) {
        let head = head
        let (record, chunkCount, next): (Record, Int, Int64?) = chunks[first].withUnsafeMutableBufferPointer {
            buffer in
            let slot = buffer.baseAddress.unsafelyUnwrapped + head
            let record = slot.move()
            slot.initialize(to: Self.vacated)
            return (record, buffer.count, head + 1 < buffer.count ? slot[1].timestampMs : nil)
        }
        var failure: StreamsError?
        if failureHead < failures.count && failures[failureHead].sequence == removed {
            failure = failures[failureHead].error
            failureHead += 1
            if failureHead == failures.count {
                failures.removeAll(keepingCapacity: true)
                failureHead = 0
            }
        }
        removed += 1
        count -= 1
        if let next {
            self.head = head + 1
            headTimestampMs = next
        } else {
            precondition(head + 1 == chunkCount)
            chunks[first] = []
            first += 1
            self.head = 0
            if first == chunks.count {
                chunks.removeAll(keepingCapacity: true)
                first = 0
            } else {
                headTimestampMs = chunks[first][0].timestampMs
                if first >= 64 && first * 2 >= chunks.count {
                    chunks.removeFirst(first)
                    first = 0
                }
            }
        }
        return (record, failure)
    }

    /// Drops every record.
    mutating func removeAll() {
        removed += count
        count = 0
        chunks.removeAll()
        first = 0
        head = 0
        failures.removeAll()
        failureHead = 0
    }
}

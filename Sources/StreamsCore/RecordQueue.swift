/// The records of one input partition waiting to be processed, in offset order.
///
/// An array with a moving head: appending and popping allocate nothing once the array has grown
/// to the usual batch size. A record the source's extractors found invalid keeps its place, with
/// its error beside it (``append(_:failure:)``), so that the error policy applies when it comes
/// up: a dead-lettered record is then committed together with its position.
struct RecordQueue {
    private var records: [Record] = []
    private var head = 0
    /// Records removed so far: the sequence number of the head.
    private var removed = 0
    /// Errors of invalid records, by sequence number, in order.
    private var failures: [(sequence: Int, error: StreamsError)] = []
    private var failureHead = 0

    var isEmpty: Bool { head == records.count }
    var count: Int { records.count - head }

    /// The timestamp of the first record; only valid when not empty.
    var headTimestampMs: Int64 { records[head].timestampMs }

    mutating func append(contentsOf batch: some Collection<Record>) {
        if head > 0 && head == records.count {
            records.removeAll(keepingCapacity: true)
            head = 0
        }
        records.append(contentsOf: batch)
    }

    /// Appends a whole batch; an empty queue takes the array itself (no record is copied).
    mutating func append(contentsOf batch: consuming [Record]) {
        if head == records.count {
            records = batch
            head = 0
        } else {
            records.append(contentsOf: batch)
        }
    }

    /// Appends one invalid record with the error its extraction gave.
    mutating func append(_ record: Record, failure: StreamsError) {
        failures.append((removed + count, failure))
        records.append(record)
    }

    /// Removes the first record; `failure` is its extraction error, if it is invalid.
    @inline(__always)
    mutating func removeFirst() -> (record: Record, failure: StreamsError?) {
        let record = records[head]
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
        head += 1
        if head == records.count {
            records.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 4_096 && head * 2 >= records.count {
            records.removeFirst(head)
            head = 0
        }
        return (record, failure)
    }

    mutating func removeAll() {
        removed += count
        records.removeAll()
        head = 0
        failures.removeAll()
        failureHead = 0
    }
}

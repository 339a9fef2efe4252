/// The records of one input partition waiting to be processed, in offset order.
///
/// An array with a moving head: appending and popping allocate nothing once the array has grown
/// to the usual batch size.
struct RecordQueue {
    private var records: [Record] = []
    private var head = 0

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

    mutating func removeFirst() -> Record {
        let record = records[head]
        head += 1
        if head == records.count {
            records.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 4_096 && head * 2 >= records.count {
            records.removeFirst(head)
            head = 0
        }
        return record
    }

    mutating func removeAll() {
        records.removeAll()
        head = 0
    }
}

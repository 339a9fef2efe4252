internal import StreamsLMDB

/// The open segments of an ``LMDBWindowStore``, ascending by id, in memory the store allocates once.
///
/// Every insert and lookup searches this table; as a plain buffer of trivial values it costs no
/// reference counting (an `Array` property of a class is retained on each access). Segments are
/// few (live ones plus one per interval of out-of-order data), so the search is linear.
///
/// - Important: A value type over an unowned buffer: the owner calls ``deallocate()`` exactly once
///   and never copies the table.
struct SegmentTable {
    /// One segment: its id (`floor(timestamp / interval)`) and its LMDB database.
    struct Slot {
        var id: Int64
        var database: LMDBDatabase
    }

    private let slots: UnsafeMutablePointer<Slot>
    /// The most segments the table holds.
    let capacity: Int
    /// The segments held.
    private(set) var count = 0

    /// Allocates room for `capacity` segments.
    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        slots = .allocate(capacity: capacity)
    }

    /// Frees the buffer; the table must not be used afterwards.
    func deallocate() { slots.deallocate() }

    /// The `i`-th segment in id order.
    @inline(__always)
    subscript(i: Int) -> Slot { slots[i] }

    /// The oldest segment, if any.
    var first: Slot? { count > 0 ? slots[0] : nil }

    /// The ids, ascending.
    var ids: [Int64] { (0..<count).map { slots[$0].id } }

    /// The database of segment `id`, if it is open.
    @inline(__always)
    func database(for id: Int64) -> LMDBDatabase? {
        var i = 0
        while i < count {
            if slots[i].id == id { return slots[i].database }
            i += 1
        }
        return nil
    }

    /// Adds segment `id` in order; returns `false` when the table is full.
    mutating func insert(id: Int64, database: LMDBDatabase) -> Bool {
        guard count < capacity else { return false }
        var index = count
        while index > 0 && slots[index - 1].id > id { index -= 1 }
        if index < count { (slots + index + 1).update(from: slots + index, count: count - index) }
        (slots + index).initialize(to: Slot(id: id, database: database))
        count += 1
        return true
    }

    /// Removes the oldest segment.
    mutating func removeFirst() {
        precondition(count > 0)
        slots.update(from: slots + 1, count: count - 1)
        count -= 1
    }

    /// Replaces the contents with `segments`, which must be sorted by id and fit.
    mutating func replace(with segments: [Slot]) {
        precondition(segments.count <= capacity)
        for (i, slot) in segments.enumerated() { (slots + i).initialize(to: slot) }
        count = segments.count
    }
}

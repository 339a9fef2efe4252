internal import StreamsState
internal import StreamsLMDB

/// The open segments of an ``LMDBWindowStore``, ascending by id, in memory the store allocates once.
///
/// Every insert and lookup searches this table; as a plain buffer of trivial values it costs no
/// reference counting (an `Array` property of a class is retained on each access). Segments are
/// few (live ones plus one per interval of out-of-order data), so the search is linear.
///
/// Each slot may carry the segment's ``SegmentFilter``, which the slot owns: a filter is freed
/// when it is replaced, with its segment, in ``replace(with:)`` and with the table.
///
/// Not copyable: the table owns its buffer and frees it, and the slots, in `deinit`.
struct SegmentTable: ~Copyable {
    /// One segment: its id (`floor(timestamp / interval)`), its LMDB database and the filter of
    /// its keys, once there is one.
    struct Slot: ~Copyable {
        var id: Int64
        var database: LMDBDatabase
        var filter: SegmentFilter? = nil
        /// A filter could not be built (an entry's key is unreadable): always search the segment.
        var filterUnavailable = false

        /// Whether the segment has a filter.
        var hasFilter: Bool {
            switch filter {
            case .some: true
            case .none: false
            }
        }

        /// Whether a lookup that wants the filter must build it first: none yet, and one can be.
        var needsFilter: Bool { !hasFilter && !filterUnavailable }
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

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    /// The `i`-th segment in id order, borrowed.
    @inline(__always)
    subscript(i: Int) -> Slot {
        unsafeAddress { UnsafePointer(slots + i) }
    }

    /// The oldest segment's id and database, if any.
    var first: (id: Int64, database: LMDBDatabase)? { count > 0 ? (slots[0].id, slots[0].database) : nil }

    /// The ids, ascending.
    var ids: [Int64] { (0..<count).map { slots[$0].id } }

    /// The index of segment `id`, if it is open.
    @inline(__always)
    func index(of id: Int64) -> Int? {
        var i = 0
        while i < count {
            if slots[i].id == id { return i }
            i += 1
        }
        return nil
    }

    /// The database of segment `id`, if it is open.
    @inline(__always)
    func database(for id: Int64) -> LMDBDatabase? {
        index(of: id).map { slots[$0].database }
    }

    /// Whether the segment at `index` may hold a key with `hash`: `false` only when its filter
    /// rules the key out (a segment without a filter may hold anything).
    @inline(__always)
    func mayContain(at index: Int, _ hash: UInt64) -> Bool {
        switch slots[index].filter {
        case .some(let filter): filter.mayContain(hash)
        case .none: true
        }
    }

    /// Whether the segment at `index` has a filter that has taken as many keys as it was sized for.
    @inline(__always)
    func filterIsFull(at index: Int) -> Bool {
        switch slots[index].filter {
        case .some(let filter): filter.isFull
        case .none: false
        }
    }

    /// Records `key` in the filter of the segment at `index`, if it has one (a segment without one
    /// costs no hashing); returns whether that filter is now full.
    @inline(__always)
    func addToFilter(at index: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        guard slots[index].hasFilter else { return false }
        slots[index].filter!.add(SegmentFilter.hash(key))
        return filterIsFull(at: index)
    }

    /// Gives the segment at `index` a new filter (`nil`: none, and none is to be built); the old
    /// one is freed.
    func setFilter(at index: Int, _ filter: consuming SegmentFilter?) {
        let unavailable: Bool
        switch filter {
        case .some: unavailable = false
        case .none: unavailable = true
        }
        slots[index].filter = filter
        slots[index].filterUnavailable = unavailable
    }

    /// Adds segment `id` in order and returns its index; `nil` when the table is full.
    mutating func insert(id: Int64, database: LMDBDatabase) -> Int? {
        guard count < capacity else { return nil }
        var index = count
        while index > 0 && slots[index - 1].id > id { index -= 1 }
        if index < count { (slots + index + 1).moveInitialize(from: slots + index, count: count - index) }
        (slots + index).initialize(to: Slot(id: id, database: database))
        count += 1
        return index
    }

    /// Removes the oldest segment and frees its filter.
    mutating func removeFirst() {
        precondition(count > 0)
        slots.deinitialize(count: 1)
        slots.moveInitialize(from: slots + 1, count: count - 1)
        count -= 1
    }

    /// Replaces the contents with `segments` (sorted by id, fitting) and frees every filter.
    ///
    /// The store reloads its segments after a rollback, when the data goes back to the last
    /// commit. A filter built during the rolled-back transaction may lack keys it had deleted and
    /// that are back now, so no filter survives a reload; they are rebuilt on demand.
    mutating func replace(with segments: [(id: Int64, database: LMDBDatabase)]) {
        precondition(segments.count <= capacity)
        slots.deinitialize(count: count)
        count = 0
        for (i, segment) in segments.enumerated() {
            (slots + i).initialize(to: Slot(id: segment.id, database: segment.database))
        }
        count = segments.count
    }
}

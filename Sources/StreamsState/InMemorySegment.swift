/// One time segment of an ``InMemoryWindowStore``: every entry with
/// `floor(timestamp / segmentInterval) == id`, in memory the segment owns.
///
/// Layout, chosen so that a lookup or an insert allocates nothing and touches few cache lines:
/// - `arena`, an append-only run of key and value bytes;
/// - `entries`, a contiguous array of ``Entry`` (offsets into the arena, timestamp, links), in
///   insertion order;
/// - `slots`, an open-addressing index (linear probing, at most half full) from a key to its newest
///   entry. A slot packs the key's 32-bit hash tag and `entry index + 1` (`0` is free), so a probe
///   compares tags without reading entries. The entries of one key form a chain through
///   ``Entry/next``, newest first, and share the key bytes of the first one.
///
/// Entries are never removed while the segment lives: a delete sets ``Value/isDeleted``, a later
/// put of the same `(key, timestamp)` revives the entry, and the whole segment is dropped at once.
///
/// Transactions: ``commit()`` records the entry and byte counts as the committed marks. Entries
/// and bytes appended since then are rolled back by truncation; the only explicit undo records are
/// for committed entries that were overwritten or deleted (``Overwritten``). Segments created or
/// dropped in a transaction are handled by the store, which keeps the committed list of segments.
///
/// - Important: Single-threaded, like its store. The hot properties are
///   `@exclusivity(unchecked)`: they are never accessed re-entrantly.
package final class InMemorySegment {
    /// One `(key, timestamp) -> value` entry.
    package struct Entry {
        /// Where the key bytes start in the arena.
        var keyOffset: Int
        /// The entry's timestamp in milliseconds.
        var timestampMs: Int64
        /// The key's length in bytes.
        var keyLength: UInt32
        /// The next older entry of the same key, or `-1`.
        var next: Int32
        /// The key's hash tag (see ``InMemorySegment/tag(of:seeds:)``).
        var tag: UInt32
        /// The entry's value, the part that overwrites and deletes change.
        var value: Value
    }

    /// Where an entry's value is, and whether the entry was deleted.
    package struct Value {
        /// Where the value bytes start in the arena.
        var offset: Int
        /// The value's length in bytes.
        var length: UInt32
        /// Whether the entry was deleted (it is then invisible).
        var isDeleted: Bool
    }

    /// A committed entry's value before the open transaction overwrote or deleted it.
    private struct Overwritten {
        var index: Int
        var previous: Value
    }

    /// Where a key is in the index: the slot holding its newest entry (`head >= 0`), or the free
    /// slot where it would go (`head == -1`).
    package struct Probe {
        /// The slot position.
        var slot: Int
        /// The newest entry of the key, or `-1` when the key has no entry in this segment.
        package var head: Int32
    }

    /// The segment id, `floor(timestamp / interval)`.
    package let id: Int64
    /// The smallest timestamp the segment holds.
    package let firstTimestampMs: Int64
    /// The largest timestamp the segment holds.
    package let lastTimestampMs: Int64

    @exclusivity(unchecked) private var arena = RawByteBuffer(capacity: 256)
    @exclusivity(unchecked) private var entries: UnsafeMutablePointer<Entry>
    @exclusivity(unchecked) private var entryCount = 0
    @exclusivity(unchecked) private var entryCapacity: Int
    @exclusivity(unchecked) private var slots: UnsafeMutablePointer<UInt64>
    @exclusivity(unchecked) private var slotMask: Int
    /// Occupied slots: the distinct keys.
    @exclusivity(unchecked) private var keyCount = 0
    /// Entries not deleted, expired ones included.
    @exclusivity(unchecked) package private(set) var count = 0

    private var committedEntryCount = 0
    private var committedByteCount = 0
    private var committedCount = 0
    private var overwritten: [Overwritten] = []

    /// Creates an empty segment for timestamps `firstTimestampMs...lastTimestampMs`.
    package init(id: Int64, firstTimestampMs: Int64, lastTimestampMs: Int64) {
        self.id = id
        self.firstTimestampMs = firstTimestampMs
        self.lastTimestampMs = lastTimestampMs
        entryCapacity = 8
        entries = .allocate(capacity: entryCapacity)
        slotMask = 15
        slots = .allocate(capacity: slotMask + 1)
        slots.initialize(repeating: 0, count: slotMask + 1)
    }

    deinit {
        entries.deinitialize(count: entryCount)
        entries.deallocate()
        slots.deallocate()
    }

    // MARK: Hashing

    /// The 32-bit hash tag of `key`, from a wyhash-style 64-bit hash with per-store random
    /// `seeds` (so that crafted keys cannot force collisions). The tag picks the home slot and
    /// filters probes.
    @inline(__always)
    package static func tag(of key: UnsafeRawBufferPointer, seeds: (UInt64, UInt64)) -> UInt32 {
        @inline(__always)
        func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
            let (high, low) = a.multipliedFullWidth(by: b)
            return high ^ low
        }
        let length = UInt64(truncatingIfNeeded: key.count)
        var h = seeds.0 ^ (length &* 0xa076_1d64_78bd_642f)
        var a: UInt64 = 0
        var b: UInt64 = 0
        if let base = key.baseAddress {
            var p = base
            var n = key.count
            while n > 16 {
                h = mix(
                    p.loadUnaligned(as: UInt64.self) ^ seeds.1, p.loadUnaligned(fromByteOffset: 8, as: UInt64.self) ^ h)
                p += 16
                n -= 16
            }
            // 1...16 bytes left, read as two possibly overlapping words.
            if n >= 8 {
                a = p.loadUnaligned(as: UInt64.self)
                b = p.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
            } else if n >= 4 {
                a = UInt64(p.loadUnaligned(as: UInt32.self))
                b = UInt64(p.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self))
            } else if n > 0 {
                a =
                    UInt64(p.load(as: UInt8.self)) << 16 | UInt64(p.load(fromByteOffset: n >> 1, as: UInt8.self)) << 8
                    | UInt64(p.load(fromByteOffset: n - 1, as: UInt8.self))
            }
        }
        let hash = mix(mix(a ^ seeds.1, b ^ h) ^ 0xe703_7ed1_a0b4_28db, length ^ seeds.0)
        return UInt32(truncatingIfNeeded: hash >> 32)
    }

    // MARK: Reading

    @inline(__always)
    private func keyEquals(_ entry: UnsafeMutablePointer<Entry>, _ key: UnsafeRawBufferPointer) -> Bool {
        let length = Int(entry.pointee.keyLength)
        guard length == key.count else { return false }
        return length == 0 || memcmpEqual(arena.base + entry.pointee.keyOffset, key.baseAddress!, length)
    }

    /// Finds `key`, whose tag is `tag`, in the index.
    @inline(__always)
    package func probe(_ key: UnsafeRawBufferPointer, tag: UInt32) -> Probe {
        var i = Int(tag) & slotMask
        while true {
            let slot = slots[i]
            if slot == 0 { return Probe(slot: i, head: -1) }
            if UInt32(truncatingIfNeeded: slot >> 32) == tag {
                let index = Int32(truncatingIfNeeded: slot) - 1
                if keyEquals(entries + Int(index), key) { return Probe(slot: i, head: index) }
            }
            i = (i + 1) & slotMask
        }
    }

    /// The smallest timestamp in `[from, to]` among the live (not deleted) entries of the chain
    /// starting at `head`.
    @inline(__always)
    package func earliestTimestamp(chain head: Int32, from: Int64, to: Int64) -> Int64? {
        var best: Int64?
        var index = head
        while index >= 0 {
            let entry = entries[Int(index)]
            let ts = entry.timestampMs
            if ts >= from && ts <= to && !entry.value.isDeleted && ts < (best ?? .max) { best = ts }
            index = entry.next
        }
        return best
    }

    /// Appends the live entries of the chain starting at `head` with `from <= timestamp <= to` to
    /// `result`, in timestamp order.
    package func collect(chain head: Int32, from: Int64, to: Int64, key: [UInt8], into result: inout [WindowEntry]) {
        var found: [WindowEntry] = []
        var index = head
        while index >= 0 {
            let entry = entries[Int(index)]
            if entry.timestampMs >= from && entry.timestampMs <= to && !entry.value.isDeleted {
                found.append(WindowEntry(key: key, timestampMs: entry.timestampMs, value: bytes(entry.value)))
            }
            index = entry.next
        }
        result.append(contentsOf: found.sorted { $0.timestampMs < $1.timestampMs })
    }

    /// The number of entries not deleted in the chain starting at `head`, expired ones included.
    package func count(chain head: Int32) -> Int {
        var total = 0
        var index = head
        while index >= 0 {
            if !entries[Int(index)].value.isDeleted { total += 1 }
            index = entries[Int(index)].next
        }
        return total
    }

    private func find(chain head: Int32, timestampMs: Int64) -> Int32? {
        var index = head
        while index >= 0 {
            if entries[Int(index)].timestampMs == timestampMs { return index }
            index = entries[Int(index)].next
        }
        return nil
    }

    private func bytes(_ value: Value) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: arena.base + value.offset, count: Int(value.length)))
    }

    /// Calls `body` with every entry that is not deleted and has `timestamp >= floor`, in insertion
    /// order. `body` may modify the store: each entry is copied out before the call.
    package func forEachEntry(atLeast floor: Int64, _ body: (WindowEntry) throws -> Void) rethrows {
        var i = 0
        while i < entryCount {
            let entry = entries[i]
            i += 1
            guard !entry.value.isDeleted && entry.timestampMs >= floor else { continue }
            let key = Array(UnsafeRawBufferPointer(start: arena.base + entry.keyOffset, count: Int(entry.keyLength)))
            try body(WindowEntry(key: key, timestampMs: entry.timestampMs, value: bytes(entry.value)))
        }
    }

    /// Calls `body` with the key, timestamp and value of every entry that is not deleted, in
    /// insertion order, without copying: the pointers are valid during the call only, and `body`
    /// must not modify the segment.
    package func forEachRawEntry<E: Error>(
        _ body: (UnsafeRawBufferPointer, Int64, UnsafeRawBufferPointer) throws(E) -> Void
    ) throws(E) {
        for i in 0..<entryCount {
            let entry = entries[i]
            guard !entry.value.isDeleted else { continue }
            try body(
                UnsafeRawBufferPointer(start: arena.base + entry.keyOffset, count: Int(entry.keyLength)),
                entry.timestampMs,
                UnsafeRawBufferPointer(start: arena.base + entry.value.offset, count: Int(entry.value.length))
            )
        }
    }

    // MARK: Writing

    /// Writes `(key, timestampMs) -> value`, replacing the value of an existing entry.
    ///
    /// - Parameter probe: ``probe(_:tag:)`` for `key`, with no write in between.
    @inline(__always)
    package func put(
        _ key: UnsafeRawBufferPointer, tag: UInt32, _ timestampMs: Int64, _ value: UnsafeRawBufferPointer, probe: Probe
    ) {
        if probe.head >= 0, let index = find(chain: probe.head, timestampMs: timestampMs) {
            overwrite(Int(index), with: value)
        } else {
            append(key, tag: tag, timestampMs, value, probe: probe)
        }
    }

    /// Marks the entry `(key, timestampMs)` deleted; returns whether a live one existed.
    package func delete(_ key: UnsafeRawBufferPointer, tag: UInt32, _ timestampMs: Int64) -> Bool {
        let head = probe(key, tag: tag).head
        guard head >= 0, let index = find(chain: head, timestampMs: timestampMs), !entries[Int(index)].value.isDeleted
        else { return false }
        remember(Int(index))
        entries[Int(index)].value.isDeleted = true
        count -= 1
        return true
    }

    /// Records the state of a committed entry before it changes, for ``rollBack()``.
    private func remember(_ index: Int) {
        guard index < committedEntryCount else { return }
        overwritten.append(Overwritten(index: index, previous: entries[index].value))
    }

    private func overwrite(_ index: Int, with value: UnsafeRawBufferPointer) {
        remember(index)
        var stored = entries[index].value
        // Bytes written by this transaction are needed by no rollback, so they can be reused.
        if stored.offset < committedByteCount || value.count > Int(stored.length) {
            stored.offset = arena.count
            _ = arena.append(uninitializedCount: value.count)
        }
        copy(value, to: stored.offset)
        stored.length = UInt32(value.count)
        if stored.isDeleted {
            stored.isDeleted = false
            count += 1
        }
        entries[index].value = stored
    }

    @inline(__always)
    private func append(
        _ key: UnsafeRawBufferPointer, tag: UInt32, _ timestampMs: Int64, _ value: UnsafeRawBufferPointer, probe: Probe
    ) {
        precondition(
            key.count <= Int(UInt32.max) && value.count <= Int(UInt32.max), "keys and values are limited to 4 GiB")
        if entryCount == entryCapacity { growEntries() }
        let index = entryCount
        let keyOffset: Int
        var slot = probe.slot
        if probe.head >= 0 {
            // Another timestamp of a key already here: share its key bytes.
            keyOffset = entries[Int(probe.head)].keyOffset
            _ = arena.append(uninitializedCount: value.count)
        } else {
            if (keyCount + 1) * 2 > slotMask + 1 {
                growSlots()
                slot = freeSlot(tag: tag)
            }
            keyCount += 1
            keyOffset = arena.count
            _ = arena.append(uninitializedCount: key.count + value.count)
            copy(key, to: keyOffset)
        }
        let valueOffset = arena.count - value.count
        copy(value, to: valueOffset)
        (entries + index).initialize(
            to: Entry(
                keyOffset: keyOffset,
                timestampMs: timestampMs,
                keyLength: UInt32(key.count),
                next: probe.head,
                tag: tag,
                value: Value(offset: valueOffset, length: UInt32(value.count), isDeleted: false)
            )
        )
        slots[slot] = UInt64(tag) << 32 | UInt64(index + 1)
        entryCount += 1
        count += 1
    }

    /// The first free slot from `tag`'s home slot, for a key known to be absent.
    @inline(__always)
    private func freeSlot(tag: UInt32) -> Int {
        var i = Int(tag) & slotMask
        while slots[i] != 0 { i = (i + 1) & slotMask }
        return i
    }

    /// Copies `source` into the arena at `offset`, where there is room.
    @inline(__always)
    private func copy(_ source: UnsafeRawBufferPointer, to offset: Int) {
        if source.count > 0 { (arena.base + offset).copyMemory(from: source.baseAddress!, byteCount: source.count) }
    }

    private func growEntries() {
        precondition(entryCapacity < Int(Int32.max) / 2, "a segment holds at most 2^30 entries")
        let grown = entryCapacity * 2
        let bigger = UnsafeMutablePointer<Entry>.allocate(capacity: grown)
        bigger.moveInitialize(from: entries, count: entryCount)
        entries.deallocate()
        entries = bigger
        entryCapacity = grown
    }

    private func growSlots() {
        let oldSlots = slots
        let oldCount = slotMask + 1
        slotMask = oldCount * 2 - 1
        slots = .allocate(capacity: oldCount * 2)
        slots.initialize(repeating: 0, count: oldCount * 2)
        for i in 0..<oldCount where oldSlots[i] != 0 {
            slots[freeSlot(tag: UInt32(truncatingIfNeeded: oldSlots[i] >> 32))] = oldSlots[i]
        }
        oldSlots.deallocate()
    }

    // MARK: Transactions

    /// Makes the current contents the ones ``rollBack()`` returns to.
    package func commit() {
        committedEntryCount = entryCount
        committedByteCount = arena.count
        committedCount = count
        overwritten.removeAll(keepingCapacity: true)
    }

    /// Returns to the contents of the last ``commit()`` (or the empty segment).
    package func rollBack() {
        while let old = overwritten.popLast() { entries[old.index].value = old.previous }
        // Newest first, each appended entry is the head of its key's chain.
        while entryCount > committedEntryCount {
            let index = entryCount - 1
            unlink(index)
            (entries + index).deinitialize(count: 1)
            entryCount = index
        }
        arena.truncate(to: committedByteCount)
        count = committedCount
    }

    /// Removes entry `index`, the head of its chain, from the index.
    private func unlink(_ index: Int) {
        let entry = entries[index]
        let pointer = UInt64(index + 1)
        var i = Int(entry.tag) & slotMask
        while slots[i] & 0xffff_ffff != pointer { i = (i + 1) & slotMask }
        if entry.next >= 0 {
            slots[i] = UInt64(entry.tag) << 32 | UInt64(entry.next + 1)
            return
        }
        // The key's only entry: free its slot, moving later slots of the probe run back into the
        // hole when their home slot allows it (backward-shift deletion, so probes need no tombstones).
        keyCount -= 1
        var hole = i
        var j = i
        while true {
            j = (j + 1) & slotMask
            let slot = slots[j]
            if slot == 0 { break }
            let home = Int(UInt32(truncatingIfNeeded: slot >> 32)) & slotMask
            // The slot may move to the hole unless its home lies cyclically in (hole, j].
            let homeAfterHole = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j)
            if !homeAfterHole {
                slots[hole] = slot
                hole = j
            }
        }
        slots[hole] = 0
    }
}

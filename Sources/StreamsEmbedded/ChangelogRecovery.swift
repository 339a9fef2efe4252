/// What a state store needs to catch up with the committed changelog after a restart; see
/// ``ChangelogFile/recovery(forStoreAt:)``.
package enum ChangelogRecovery: Sendable, Hashable {
    /// The store reflects the committed changelog position; nothing to do.
    case upToDate
    /// The store is behind: apply the records from this offset of the current generation up to
    /// ``ChangelogFile/position`` (``ChangelogFile/reader(from:)``), then commit the store with
    /// that position.
    case replay(from: Int64)
    /// The store cannot be caught up: delete it, restore the whole file (``ChangelogFile/reader(from:)``
    /// with `nil`), then commit it with ``ChangelogFile/position``.
    case rebuild(reason: String)
}

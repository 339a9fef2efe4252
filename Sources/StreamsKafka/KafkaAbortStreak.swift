package import StreamsCore

/// The error under the ``StreamsError`` that stops the engine when a task aborted its transaction
/// ``KafkaStreamsConfiguration/maxConsecutiveAborts`` times in a row without committing: an
/// application can tell that stop apart (and name its own way to the fix).
package struct KafkaAbortStreakError: Error, CustomStringConvertible {
    /// The task that could not commit.
    package let taskId: TaskId
    /// Its aborts in a row.
    package let aborts: Int
    /// Whether the broker refused a record of the streak as too large (`MSG_SIZE_TOO_LARGE`).
    package let recordTooLarge: Bool
    /// The streak's last error.
    package let lastError: KafkaError

    package var description: String { lastError.description }
}

/// The identity of a ``StreamTask``: the sub-topology it runs and the input partition (or input
/// group) it owns.
///
/// Kafka Streams counterpart: `org.apache.kafka.streams.processor.TaskId`, printed `"0_1"`.
public struct TaskId: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The sub-topology number; a task here runs the whole topology, so this is 0 unless an engine
    /// splits topologies.
    public var subtopology: Int
    /// The partition number the task owns.
    public var partition: Int32

    /// Creates a task id.
    public init(subtopology: Int = 0, partition: Int32) {
        self.subtopology = subtopology
        self.partition = partition
    }

    /// `"<subtopology>_<partition>"`, as Kafka Streams prints it (also used in store directories).
    public var description: String { "\(subtopology)_\(partition)" }

    /// Orders by sub-topology, then partition.
    public static func < (lhs: TaskId, rhs: TaskId) -> Bool {
        (lhs.subtopology, lhs.partition) < (rhs.subtopology, rhs.partition)
    }
}

/// A printable description of a topology, in the format of Kafka Streams' `TopologyDescription`.
///
/// ```
/// Topologies:
///    Sub-topology: 0
///     Source: orders (topics: [orders])
///       --> dedup
///     Processor: dedup (stores: [dedup-store])
///       --> out
///       <-- orders
///     Sink: out (topic: unique-orders)
///       <-- dedup
/// ```
public struct TopologyDescription: Sendable, CustomStringConvertible {
    /// One node of the description.
    public struct Node: Sendable, Hashable {
        /// `"Source"`, `"Processor"` or `"Sink"`.
        public var kind: String
        /// The node's name.
        public var name: String
        /// For sources the topics read, for sinks the topic written, else empty.
        public var topics: [String]
        /// The stores a processor is connected to.
        public var stores: [String]
        /// The names of the node's children, in order.
        public var successors: [String]
        /// The names of the node's parents, in order.
        public var predecessors: [String]
    }

    /// The connected parts of the topology (sub-topologies), each with its nodes in declaration order.
    public var subtopologies: [[Node]]

    /// The sub-topology whose sources read `topic`, or `nil`: the first part of the ``TaskId``s
    /// of that topic's partitions.
    public func subtopology(readingTopic topic: String) -> Int? {
        subtopologies.firstIndex { nodes in nodes.contains { $0.kind == "Source" && $0.topics.contains(topic) } }
    }

    /// The topics the sources of sub-topology `index` read, in declaration order: a task of that
    /// sub-topology owns partition `p` of each (co-partitioned inputs).
    public func sourceTopics(ofSubtopology index: Int) -> [String] {
        guard subtopologies.indices.contains(index) else { return [] }
        return subtopologies[index].filter { $0.kind == "Source" }.flatMap(\.topics)
    }

    /// The text form, as Kafka Streams prints it.
    public var description: String {
        var lines = ["Topologies:"]
        for (i, nodes) in subtopologies.enumerated() {
            lines.append("   Sub-topology: \(i)")
            for node in nodes {
                switch node.kind {
                case "Source":
                    lines.append("    Source: \(node.name) (topics: [\(node.topics.joined(separator: ", "))])")
                case "Sink":
                    lines.append("    Sink: \(node.name) (topic: \(node.topics.first ?? ""))")
                default:
                    lines.append("    Processor: \(node.name) (stores: [\(node.stores.joined(separator: ", "))])")
                }
                if node.kind != "Sink" {
                    lines.append(
                        "      --> " + (node.successors.isEmpty ? "none" : node.successors.joined(separator: ", ")))
                }
                if !node.predecessors.isEmpty {
                    lines.append("      <-- " + node.predecessors.joined(separator: ", "))
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension Topology {
    /// Describes the topology as Kafka Streams' `Topology.describe()` does; works on invalid
    /// topologies too (unknown parents are left out).
    public func describe() -> TopologyDescription {
        var index: [String: Int] = [:]
        for (i, node) in nodes.enumerated() where index[node.name] == nil { index[node.name] = i }
        var children = Array(repeating: [Int](), count: nodes.count)
        var parents = Array(repeating: [Int](), count: nodes.count)
        for (i, node) in nodes.enumerated() where index[node.name] == i {
            for name in node.parents {
                if let p = index[name], !children[p].contains(i) {
                    children[p].append(i)
                    parents[i].append(p)
                }
            }
        }
        var storesOf: [String: [String]] = [:]
        for (processor, store) in connections where !(storesOf[processor]?.contains(store) ?? false) {
            storesOf[processor, default: []].append(store)
        }
        // Connected components, numbered in order of their first node.
        var component = Array(repeating: -1, count: nodes.count)
        var count = 0
        for start in nodes.indices where component[start] == -1 && index[nodes[start].name] == start {
            var stack = [start]
            component[start] = count
            while let n = stack.popLast() {
                for m in children[n] + parents[n] where component[m] == -1 {
                    component[m] = count
                    stack.append(m)
                }
            }
            count += 1
        }
        var subtopologies = Array(repeating: [TopologyDescription.Node](), count: count)
        for (i, node) in nodes.enumerated() where component[i] >= 0 {
            let (kind, topics): (String, [String])
            switch node.kind {
            case .source(let sourceTopics, _, _): (kind, topics) = ("Source", sourceTopics)
            case .processor: (kind, topics) = ("Processor", [])
            case .sink(let topic): (kind, topics) = ("Sink", [topic])
            }
            subtopologies[component[i]].append(
                TopologyDescription.Node(
                    kind: kind,
                    name: node.name,
                    topics: topics,
                    stores: storesOf[node.name] ?? [],
                    successors: children[i].map { nodes[$0].name },
                    predecessors: parents[i].map { nodes[$0].name }
                )
            )
        }
        return TopologyDescription(subtopologies: subtopologies)
    }
}

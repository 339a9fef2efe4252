extension Topology {
    /// Checks the topology and throws one error listing every problem found.
    ///
    /// Checked: duplicate node or store names, sources without topics or sharing a topic, unknown
    /// parents, processors without parents, sinks used as parents (sinks have no children),
    /// cycles, connections to unknown stores or to nodes that are not processors, stores no
    /// processor is connected to, and the checks added with ``addValidation(ofNode:_:)`` (such as
    /// the Deduplicator's window and duplicates child).
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/invalidTopology``, or
    ///   ``StreamsError/Code/invalidConfiguration`` when every problem is a setting out of range
    ///   (such as a deduplicator window under 1 ms).
    public func validate() throws(StreamsError) {
        _ = try resolve(configuration: nil)
    }

    /// Checks the topology and its fit with `configuration` (for example that the dead-letter sink
    /// exists), throwing one error listing every problem.
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/invalidTopology``, or
    ///   ``StreamsError/Code/invalidConfiguration`` when every problem is a setting out of range.
    public func validate(for configuration: StreamsConfiguration) throws(StreamsError) {
        _ = try resolve(configuration: configuration)
    }

    /// Validates and resolves names to indices.
    func resolve(configuration: StreamsConfiguration?) throws(StreamsError) -> ResolvedTopology {
        var problems: [String] = []
        var index: [String: Int] = [:]
        for (i, node) in nodes.enumerated() {
            if index[node.name] != nil {
                problems.append("duplicate node name '\(node.name)'")
            } else {
                index[node.name] = i
            }
        }
        var storeIndex: [String: Int] = [:]
        for (i, store) in stores.enumerated() {
            if storeIndex[store.name] != nil {
                problems.append("duplicate store name '\(store.name)'")
            } else {
                storeIndex[store.name] = i
            }
        }

        var deadLetterSink: String?
        if case .deadLetter(let sink) = configuration?.deserializationErrorPolicy {
            deadLetterSink = sink
            if let i = index[sink] {
                if case .sink = nodes[i].kind {
                } else {
                    problems.append("dead-letter node '\(sink)' is not a sink; add it with addSink")
                }
            } else {
                problems.append("dead-letter sink '\(sink)' is not in the topology; add it with addSink")
            }
        }

        var sourceForTopic: [String: Int] = [:]
        var topics: [String] = []
        var children = Array(repeating: [Int](), count: nodes.count)
        var parents = Array(repeating: [Int](), count: nodes.count)
        for (i, node) in nodes.enumerated() where index[node.name] == i {
            switch node.kind {
            case .source(let sourceTopics, let key, let timestamp):
                do { _ = try CompiledSourceExtractor(key: key, timestamp: timestamp) } catch {
                    problems.append("source '\(node.name)': \(error.message)")
                }
                if sourceTopics.isEmpty {
                    problems.append("source '\(node.name)' has no topic; pass at least one topic")
                }
                for topic in sourceTopics {
                    if topic.isEmpty {
                        problems.append("source '\(node.name)' has an empty topic name")
                    } else if let other = sourceForTopic[topic] {
                        if other != i {
                            problems.append(
                                "topic '\(topic)' is read by both source '\(nodes[other].name)' "
                                    + "and source '\(node.name)'"
                            )
                        }
                    } else {
                        sourceForTopic[topic] = i
                        topics.append(topic)
                    }
                }
            case .processor:
                if node.parents.isEmpty {
                    problems.append("processor '\(node.name)' has no parents; list at least one source or processor")
                }
            case .sink(let topic):
                if topic.isEmpty { problems.append("sink '\(node.name)' has an empty topic name") }
                if node.parents.isEmpty && node.name != deadLetterSink && configuration != nil {
                    problems.append("sink '\(node.name)' has no parents and is not the dead-letter sink")
                }
            }
            var seen: Set<Int> = []
            for parentName in node.parents {
                guard let p = index[parentName] else {
                    problems.append("node '\(node.name)' lists unknown parent '\(parentName)'")
                    continue
                }
                if case .sink = nodes[p].kind {
                    problems.append("sink '\(parentName)' cannot have children, but '\(node.name)' lists it as parent")
                    continue
                }
                if p == i {
                    problems.append("cycle: '\(node.name)' lists itself as parent")
                    continue
                }
                if seen.insert(p).inserted {
                    children[p].append(i)
                    parents[i].append(p)
                }
            }
        }

        if let cycle = Self.findCycle(children: children) {
            problems.append("cycle: " + (cycle + [cycle[0]]).map { "'\(nodes[$0].name)'" }.joined(separator: " -> "))
        }

        var storesOfNode = Array(repeating: [String](), count: nodes.count)
        var connectedStores: Set<String> = []
        for (processor, store) in connections {
            guard storeIndex[store] != nil else {
                problems.append(
                    "processor '\(processor)' is connected to unknown store '\(store)'; add it with addStateStore")
                continue
            }
            guard let p = index[processor] else {
                problems.append("store '\(store)' is connected to unknown processor '\(processor)'")
                continue
            }
            guard case .processor = nodes[p].kind else {
                problems.append("store '\(store)' is connected to '\(processor)', which is not a processor")
                continue
            }
            if !storesOfNode[p].contains(store) { storesOfNode[p].append(store) }
            connectedStores.insert(store)
        }
        for store in stores where !connectedStores.contains(store.name) && storeIndex[store.name] != nil {
            problems.append("store '\(store.name)' is not connected to any processor")
        }

        // Whether every problem is a setting out of range rather than a mistake in the graph.
        var onlyConfigurationProblems = problems.isEmpty
        var problemNodes: Set<String> = []
        for (name, check) in nodeChecks {
            guard let i = index[name] else {
                problems.append("a validation is added for node '\(name)', which is not in the topology")
                continue
            }
            let (kind, topics): (String, [String])
            switch nodes[i].kind {
            case .source(let sourceTopics, _, _): (kind, topics) = ("Source", sourceTopics)
            case .processor: (kind, topics) = ("Processor", [])
            case .sink(let topic): (kind, topics) = ("Sink", [topic])
            }
            let found = check(
                TopologyDescription.Node(
                    kind: kind,
                    name: name,
                    topics: topics,
                    stores: storesOfNode[i],
                    successors: children[i].map { nodes[$0].name },
                    predecessors: parents[i].map { nodes[$0].name }
                )
            )
            for problem in found {
                problems.append(problem.message)
                problemNodes.insert(problem.node ?? name)
                if problem.code != .invalidConfiguration { onlyConfigurationProblems = false }
            }
        }

        if !problems.isEmpty {
            if onlyConfigurationProblems {
                throw StreamsError(
                    .invalidConfiguration,
                    problems.joined(separator: "; "),
                    node: problemNodes.count == 1 ? problemNodes.first : nil
                )
            }
            throw StreamsError(
                .invalidTopology,
                "the topology is invalid: " + problems.joined(separator: "; ")
            )
        }
        return ResolvedTopology(
            nodes: nodes.indices.map { i in
                ResolvedTopology.Node(
                    name: nodes[i].name,
                    kind: nodes[i].kind,
                    children: children[i],
                    parents: parents[i],
                    stores: storesOfNode[i]
                )
            },
            sourceForTopic: sourceForTopic,
            topics: topics,
            stores: stores
        )
    }

    /// A cycle (as node indices) in the graph, or `nil`.
    static func findCycle(children: [[Int]]) -> [Int]? {
        // 0 = unvisited, 1 = on the current path, 2 = done. Iterative DFS: topologies are small,
        // but recursion depth should not depend on user input.
        var color = Array(repeating: 0, count: children.count)
        for start in children.indices where color[start] == 0 {
            var path: [Int] = [start]
            var nextChild: [Int] = [0]
            color[start] = 1
            while let node = path.last {
                let k = nextChild[nextChild.count - 1]
                if k < children[node].count {
                    nextChild[nextChild.count - 1] += 1
                    let child = children[node][k]
                    if color[child] == 1 {
                        return Array(path[path.firstIndex(of: child)!...])
                    }
                    if color[child] == 0 {
                        color[child] = 1
                        path.append(child)
                        nextChild.append(0)
                    }
                } else {
                    color[node] = 2
                    path.removeLast()
                    nextChild.removeLast()
                }
            }
        }
        return nil
    }
}

/// A validated topology with names resolved to node indices.
struct ResolvedTopology: Sendable {
    struct Node: Sendable {
        var name: String
        var kind: Topology.NodeKind
        var children: [Int]
        var parents: [Int]
        var stores: [String]
    }

    var nodes: [Node]
    var sourceForTopic: [String: Int]
    /// Every source topic, in declaration order (the tie-break order between inputs).
    var topics: [String]
    var stores: [Topology.StoreDefinition]
}

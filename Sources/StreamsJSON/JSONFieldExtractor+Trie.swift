extension JSONFieldExtractor {
    /// The extractor's paths as a trie of key components, flattened into three plain buffers.
    ///
    /// The scan reads it through raw pointers, so matching a key touches no array and no reference
    /// count. Children of a node are numbered consecutively (breadth-first), so a node names them
    /// with one range.
    ///
    /// - Important: Never written after `init`; copies of an extractor share it, which is why it
    ///   may be `@unchecked Sendable`.
    final class Trie: @unchecked Sendable {
        /// One trie node; all ranges are half-open index ranges.
        struct Node {
            /// The key this node matches, as UTF-8: a range of ``Trie/names``.
            var name: Range<Int>
            /// The child nodes (the next path components): a range of node indices.
            var children: Range<Int>
            /// The fields whose path ends here: a range of ``Trie/fieldLists``.
            var fields: Range<Int>
            /// The fields whose path passes through or ends here (reset when a duplicate key
            /// appears): a range of ``Trie/fieldLists``.
            var subtreeFields: Range<Int>
        }

        /// The nodes; `nodes[0]` is the top-level object.
        let nodes: UnsafeMutablePointer<Node>
        let nodeCount: Int
        /// Field indices, referred to by the nodes' `fields` and `subtreeFields` ranges.
        let fieldLists: UnsafeMutablePointer<Int>
        /// The names of all nodes, concatenated.
        let names: UnsafeMutablePointer<UInt8>

        init(paths: [JSONFieldPath]) {
            // Build the trie with arrays first, then renumber it breadth-first into flat buffers.
            struct Draft {
                var name: [UInt8]
                var children: [Int] = []
                var fields: [Int] = []
                var subtreeFields: [Int] = []
            }
            var drafts = [Draft(name: [])]
            for (fieldIndex, path) in paths.enumerated() {
                var node = 0
                drafts[0].subtreeFields.append(fieldIndex)
                for component in path.utf8Components {
                    if let child = drafts[node].children.first(where: { drafts[$0].name == component }) {
                        node = child
                    } else {
                        drafts.append(Draft(name: component))
                        drafts[node].children.append(drafts.count - 1)
                        node = drafts.count - 1
                    }
                    drafts[node].subtreeFields.append(fieldIndex)
                }
                drafts[node].fields.append(fieldIndex)
            }
            var order = [0]  // draft indices in breadth-first order
            var next = 0
            while next < order.count {
                order.append(contentsOf: drafts[order[next]].children)
                next += 1
            }
            var newIndex = Array(repeating: 0, count: drafts.count)
            for (index, draft) in order.enumerated() {
                newIndex[draft] = index
            }
            var flatNodes: [Node] = []
            var flatFields: [Int] = []
            var flatNames: [UInt8] = []
            for draftIndex in order {
                let draft = drafts[draftIndex]
                let nameStart = flatNames.count
                flatNames.append(contentsOf: draft.name)
                let fieldStart = flatFields.count
                flatFields.append(contentsOf: draft.fields)
                let subtreeStart = flatFields.count
                flatFields.append(contentsOf: draft.subtreeFields)
                let firstChild = draft.children.first.map { newIndex[$0] } ?? 0
                flatNodes.append(
                    Node(
                        name: nameStart..<flatNames.count,
                        children: firstChild..<firstChild + draft.children.count,
                        fields: fieldStart..<subtreeStart,
                        subtreeFields: subtreeStart..<flatFields.count
                    ))
            }
            nodeCount = flatNodes.count
            nodes = .allocate(capacity: flatNodes.count)
            nodes.initialize(from: flatNodes, count: flatNodes.count)
            fieldLists = .allocate(capacity: max(flatFields.count, 1))
            fieldLists.initialize(from: flatFields, count: flatFields.count)
            names = .allocate(capacity: max(flatNames.count, 1))
            names.initialize(from: flatNames, count: flatNames.count)
        }

        deinit {
            nodes.deallocate()
            fieldLists.deallocate()
            names.deallocate()
        }
    }
}

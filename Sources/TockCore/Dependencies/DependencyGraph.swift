/// The graph of `after` edges: each job's upstreams as it names them (edges live on the dependent only; the
/// reverse direction, `downstream`, is derived here and never stored).
public struct DependencyGraph: Sendable, Equatable {
    /// Each job's upstreams, for jobs that name any.
    public private(set) var upstreams: [String: [String]]

    public init(upstreams: [String: [String]]) {
        self.upstreams = upstreams.filter { !$0.value.isEmpty }
    }

    public init(jobs: some Sequence<Job>) {
        var edges: [String: [String]] = [:]
        for job in jobs where !job.after.isEmpty { edges[job.id] = job.after }
        self.init(upstreams: edges)
    }

    /// Whether no job names any upstream.
    public var isEmpty: Bool { upstreams.isEmpty }

    /// Each upstream's dependents, sorted.
    public func downstream() -> [String: [String]] {
        var reverse: [String: [String]] = [:]
        for (job, ups) in upstreams {
            for upstream in Set(ups) { reverse[upstream, default: []].append(job) }
        }
        return reverse.mapValues { $0.sorted() }
    }

    /// The same graph with one job's upstreams replaced (`[]`: removed), as a create or replace would leave it.
    public func replacing(_ jobID: String, with newUpstreams: [String]) -> DependencyGraph {
        var edges = upstreams
        edges[jobID] = newUpstreams
        return DependencyGraph(upstreams: edges)
    }

    /// Every job on a cycle, with a cycle through it written from it back to it: `backup → report → backup`
    /// (a self-edge: `a → a`). Jobs not on any cycle are absent.
    ///
    /// Strongly connected components (Tarjan, iterative: a long chain must not exhaust the stack), then for each
    /// member the shortest way back to itself inside its component.
    public func cycles() -> [String: [String]] {
        var index: [String: Int] = [:]
        var lowLink: [String: Int] = [:]
        var onStack: Set<String> = []
        var stack: [String] = []
        var next = 0
        var components: [[String]] = []
        for root in upstreams.keys.sorted() where index[root] == nil {
            // Frames: a node and the position of the next edge to follow.
            var frames: [(node: String, edge: Int)] = [(root, 0)]
            index[root] = next
            lowLink[root] = next
            next += 1
            stack.append(root)
            onStack.insert(root)
            while let frame = frames.last {
                let edges = upstreams[frame.node] ?? []
                if frame.edge < edges.count {
                    frames[frames.count - 1].edge += 1
                    let target = edges[frame.edge]
                    if index[target] == nil {
                        index[target] = next
                        lowLink[target] = next
                        next += 1
                        stack.append(target)
                        onStack.insert(target)
                        frames.append((target, 0))
                    } else if onStack.contains(target) {
                        lowLink[frame.node] = min(lowLink[frame.node]!, index[target]!)
                    }
                    continue
                }
                frames.removeLast()
                if let parent = frames.last {
                    lowLink[parent.node] = min(lowLink[parent.node]!, lowLink[frame.node]!)
                }
                if lowLink[frame.node] == index[frame.node] {
                    var component: [String] = []
                    while let top = stack.popLast() {
                        onStack.remove(top)
                        component.append(top)
                        if top == frame.node { break }
                    }
                    components.append(component)
                }
            }
        }
        var result: [String: [String]] = [:]
        for component in components {
            let members = Set(component)
            let isCycle = component.count > 1 || (upstreams[component[0]] ?? []).contains(component[0])
            guard isCycle else { continue }
            if component.count <= Self.smallComponent {
                for member in component { result[member] = shortestCycle(from: member, within: members) }
            } else {
                // A breadth-first search per member would be quadratic: one search each way from a root, and each
                // member's cycle goes through the root (shortened in the middle when long).
                result.merge(cyclesThroughRoot(of: component, members: members)) { $1 }
            }
        }
        return result
    }

    /// Components up to this size get each member's shortest cycle.
    static let smallComponent = 64
    /// A cycle longer than this is written with its middle left out: `a → b → c → … (5000 jobs) → z → a`.
    static let longestWrittenCycle = 12

    private func cyclesThroughRoot(of component: [String], members: Set<String>) -> [String: [String]] {
        let root = component.min() ?? ""
        var reverse: [String: [String]] = [:]
        for node in component {
            for target in upstreams[node] ?? [] where members.contains(target) {
                reverse[target, default: []].append(node)
            }
        }
        /// Breadth first from the root: each node's neighbour towards the root, and its distance.
        func search(_ edges: (String) -> [String]) -> (toward: [String: String], distance: [String: Int]) {
            var toward: [String: String] = [:]
            var distance: [String: Int] = [root: 0]
            var queue = [root]
            var head = 0
            while head < queue.count {
                let node = queue[head]
                head += 1
                for target in edges(node) where members.contains(target) && distance[target] == nil {
                    toward[target] = node
                    distance[target] = distance[node, default: 0] + 1
                    queue.append(target)
                }
            }
            return (toward, distance)
        }
        // Forward (root → x, `fromRoot[x]` the node before x) and backward (x → root, `toRoot[x]` the node after).
        let (fromRoot, distanceFromRoot) = search { upstreams[$0] ?? [] }
        let (toRoot, distanceToRoot) = search { reverse[$0] ?? [] }
        let keep = Self.longestWrittenCycle / 2
        /// Up to `count` nodes walking from `start` along `links` (`start` left out), stopping at the root.
        func walk(from start: String, _ links: [String: String], count: Int) -> [String] {
            var nodes: [String] = []
            var cursor = start
            while nodes.count < count, cursor != root, let next = links[cursor] {
                nodes.append(next)
                cursor = next
            }
            return nodes
        }
        var result: [String: [String]] = [:]
        for member in component {
            // member → … → root → … → member; for the root itself, root → … → p → root with p an edge into it.
            let last = member == root ? (reverse[root]?.min() ?? root) : member
            let length =
                member == root
                ? distanceFromRoot[last, default: 0] + 1
                : distanceToRoot[member, default: 0] + distanceFromRoot[member, default: 0]
            // Short cycles are walked whole; long ones only near their ends (walking each whole would be quadratic).
            let steps = length <= Self.longestWrittenCycle ? length : keep
            let towardRoot = member == root ? [] : walk(from: member, toRoot, count: steps)
            let beforeLast = walk(from: last, fromRoot, count: steps)  // last's predecessors, nearest first
            if length <= Self.longestWrittenCycle {
                var path = [member] + towardRoot
                let back = Array(beforeLast.reversed().drop { $0 == root && path.last == root })
                path += back.filter { $0 != member || member == root }
                if member == root, last != root { path.append(last) }
                result[member] = path + [member]
            } else {
                let head = Array(towardRoot.prefix(keep))
                let tail = Array(beforeLast.prefix(keep).reversed()) + (member == root ? [last] : [])
                result[member] = [member] + head + ["… (\(length) jobs)"] + tail + [member]
            }
        }
        return result
    }

    /// Breadth first from `start` along edges inside `members` until it comes back to `start`.
    private func shortestCycle(from start: String, within members: Set<String>) -> [String] {
        var previous: [String: String] = [:]
        var queue = [start]
        var head = 0
        while head < queue.count {
            let node = queue[head]
            head += 1
            for target in upstreams[node] ?? [] where members.contains(target) {
                if target == start {
                    var path = [start]
                    var cursor = node
                    while cursor != start {
                        path.insert(cursor, at: 1)
                        cursor = previous[cursor]!
                    }
                    return path + [start]
                }
                if previous[target] == nil {
                    previous[target] = node
                    queue.append(target)
                }
            }
        }
        return [start, start]
    }

    /// `backup → report → backup`.
    public static func describe(_ cycle: [String]) -> String { cycle.joined(separator: " → ") }
}

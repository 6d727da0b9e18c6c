import Foundation

/// A min-heap of (fire time, job id), the scheduler's agenda. Entries are invalidated lazily: each job has a
/// generation, and an entry whose generation is stale is dropped when it reaches the top.
struct FireQueue {
    struct Entry {
        var date: Date
        var jobID: String
        var generation: Int
    }

    private var heap: [Entry] = []

    var count: Int { heap.count }
    var first: Entry? { heap.first }

    mutating func push(_ entry: Entry) {
        heap.append(entry)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].date < heap[parent].date else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    /// The entries due at or before `date`, in no order (a walk that skips every subtree starting later).
    func entries(through date: Date) -> [Entry] {
        var found: [Entry] = []
        var stack = heap.isEmpty ? [] : [0]
        while let i = stack.popLast() {
            guard heap[i].date <= date else { continue }
            found.append(heap[i])
            for child in [2 * i + 1, 2 * i + 2] where child < heap.count { stack.append(child) }
        }
        return found
    }

    mutating func pop() -> Entry? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var i = 0
        while true {
            let left = 2 * i + 1
            let right = left + 1
            var smallest = i
            if left < heap.count && heap[left].date < heap[smallest].date { smallest = left }
            if right < heap.count && heap[right].date < heap[smallest].date { smallest = right }
            if smallest == i { break }
            heap.swapAt(i, smallest)
            i = smallest
        }
        return top
    }
}

/// A value delivered once from any thread and awaited once: the bridge from the monitor thread's callback to
/// the runner's `await`, whichever comes first.
///
/// The wait does not end at cancellation: a run's end must be collected (its process reaped, its output kept)
/// even by a cancelled task; stopping a run is ``RunControl``'s business.
final class OneShot<Value: Sendable>: Sendable {
    private let slot = ContinuationSlot<Value>()

    func deliver(_ value: Value) {
        slot.resume(returning: value)
    }

    var value: Value {
        get async { await slot.valueIgnoringCancellation() }
    }
}

/// Carries a non-Sendable value (a C pointer of a plugin) to another thread.
///
/// @unchecked Sendable is sound only under the rule every use site keeps: the value is handed to
/// exactly one other context (a plugin's serial executor) and not touched by the sender meanwhile.
struct Unchecked<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

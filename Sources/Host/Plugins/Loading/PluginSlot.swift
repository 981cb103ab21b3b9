/// The place one plugin id lives: the generation that serves it now, the calls in flight, and the
/// gate that makes callers wait while a reload swaps generations (so no call is lost or split
/// across a state handover).
actor PluginSlot {
    private(set) var current: any PluginInstance
    private var inFlight = 0
    private var swapping = false
    private var gateWaiters: [CheckedContinuation<Void, Never>] = []
    private var drainWaiters: [CheckedContinuation<Void, Never>] = []
    /// The plugin was unloaded: nobody is served here any more.
    private var retired = false

    init(_ generation: any PluginInstance) { current = generation }

    /// Runs `body` with the serving generation, after any swap in progress; `unloaded` when the
    /// plugin went away meanwhile.
    func with<T: Sendable>(unloaded: T, _ body: @Sendable (any PluginInstance) async -> T) async -> T {
        while swapping, !retired { await withCheckedContinuation { gateWaiters.append($0) } }
        if retired { return unloaded }
        inFlight += 1
        let generation = current
        defer {
            inFlight -= 1
            if inFlight == 0 { for w in drainWaiters { w.resume() }; drainWaiters.removeAll() }
        }
        return await body(generation)
    }

    /// Closes the gate and waits until the calls already inside have finished.
    func freeze() async {
        while swapping { await withCheckedContinuation { gateWaiters.append($0) } }
        swapping = true
        while inFlight > 0 { await withCheckedContinuation { drainWaiters.append($0) } }
    }

    /// The plugin is gone (its file was removed, or the daemon stops): callers waiting at the gate,
    /// and any that come later, get their `unloaded` answer instead of waiting for ever.
    func retire() {
        retired = true
        for w in gateWaiters { w.resume() }
        gateWaiters.removeAll()
    }

    /// Opens the gate, serving `next` from now on when given. Returns the generation it replaced.
    @discardableResult
    func thaw(serving next: (any PluginInstance)?) -> (any PluginInstance)? {
        let previous = next == nil ? nil : current
        if let next { current = next }
        swapping = false
        for w in gateWaiters { w.resume() }
        gateWaiters.removeAll()
        return previous
    }
}

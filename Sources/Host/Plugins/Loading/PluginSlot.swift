import Foundation

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
    /// Why the serving generation cannot answer now (its process crashed): callers wait at the
    /// gate for a restart, at most `outageWait` seconds, then get this text.
    private var outage: String?
    /// The outage is not waited out (the crash-loop guard gave up): callers get `outage` at once.
    private var outageIsFinal = false
    private var outageWaiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
    private var nextWaiter: UInt64 = 0

    init(_ generation: any PluginInstance) { current = generation }

    /// Runs `body` with the serving generation, after any swap in progress; `unloaded` when the
    /// plugin went away meanwhile, `unavailable(reason)` when it crashed and was not back within
    /// `outageWait` seconds (or is down for good).
    func with<T: Sendable>(unloaded: T, unavailable: (String) -> T, outageWait: Double = 5,
                           _ body: @Sendable (any PluginInstance) async -> T) async -> T {
        while true {
            while swapping, !retired { await withCheckedContinuation { gateWaiters.append($0) } }
            if retired { return unloaded }
            guard let reason = outage else { break }
            if outageIsFinal { return unavailable(reason) }
            let ended = await waitOutOutage(seconds: outageWait)
            if !ended { return unavailable(outage ?? reason) }
        }
        inFlight += 1
        let generation = current
        defer {
            inFlight -= 1
            if inFlight == 0 { for w in drainWaiters { w.resume() }; drainWaiters.removeAll() }
        }
        return await body(generation)
    }

    func with<T: Sendable>(unloaded: T, _ body: @Sendable (any PluginInstance) async -> T) async -> T {
        await with(unloaded: unloaded, unavailable: { _ in unloaded }, body)
    }

    /// True when the outage ended (or the slot changed) within `seconds`.
    private func waitOutOutage(seconds: Double) async -> Bool {
        nextWaiter += 1
        let ticket = nextWaiter
        return await withCheckedContinuation { continuation in
            outageWaiters[ticket] = continuation
            Task { [weak self] in
                try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                await self?.giveUp(ticket)
            }
        }
    }

    private func giveUp(_ ticket: UInt64) {
        outageWaiters.removeValue(forKey: ticket)?.resume(returning: false)
    }

    private func endOutage() {
        outage = nil
        outageIsFinal = false
        for w in outageWaiters.values { w.resume(returning: true) }
        outageWaiters.removeAll()
    }

    /// The serving generation is gone (crashed): callers wait (up to their `outageWait`) for
    /// `restored`, or get `reason` at once when `final`.
    func beginOutage(_ reason: String, final: Bool = false) {
        outage = reason
        outageIsFinal = final
        if final {
            for w in outageWaiters.values { w.resume(returning: false) }
            outageWaiters.removeAll()
        }
    }

    /// A restarted generation serves from now on; waiting callers go on with it.
    func restored(serving next: any PluginInstance) {
        current = next
        endOutage()
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
        for w in outageWaiters.values { w.resume(returning: true) }
        outageWaiters.removeAll()
    }

    /// Opens the gate, serving `next` from now on when given (which ends an outage too). Returns
    /// the generation it replaced.
    @discardableResult
    func thaw(serving next: (any PluginInstance)?) -> (any PluginInstance)? {
        let previous = next == nil ? nil : current
        if let next {
            current = next
            endOutage()
        }
        swapping = false
        for w in gateWaiters { w.resume() }
        gateWaiters.removeAll()
        return previous
    }
}

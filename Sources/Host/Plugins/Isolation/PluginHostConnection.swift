import Foundation
import Logging
import Synchronization

/// The daemon's side of one plugin host process: its channel, the discipline of entry-point calls
/// (one at a time, a deadline each, a hung process killed after a grace period), and how the
/// process ended — one report, with the reason every waiting call and operation then fails with.
final class PluginHostConnection: Sendable {
    enum CallFailure: Error, Equatable {
        /// This call missed its deadline; the process is now reported as not responding.
        case timedOut(seconds: Double)
        /// An earlier call is still stuck (or waited too long in line): this one was not sent.
        case hung
        /// The process is gone; the text says how ("plugin x crashed (SIGSEGV)").
        case ended(String)
        /// The answer could not be read (a plugin host of another build, a protocol error).
        case badAnswer(String)
        /// The daemon is stopping and stopped waiting (the call may still run in the plugin host).
        case abandoned
    }

    /// How long a call that missed its deadline may still answer before the process is killed.
    static let hangGrace = 2.0
    /// How long a process whose socket closed may take to exit before it is killed.
    static let closeGrace = 1.0

    let process: PluginProcess
    let channel: PluginChannel
    let callTimeout: Double
    private let logger: Logger
    private let queue = EntryPointQueue()
    private let state: Mutex<State>

    private struct State {
        /// The plugin id once `open` answered; the file's name until then.
        var name: String
        var context: PluginHostContext?
        var services: RemoteServices?
        var onExit: (@Sendable (PluginExit) -> Void)?
        var metrics: DaemonMetrics?
        /// Shutdown asked for the end: it is not reported as a crash.
        var stopping = false
        /// "plugin x crashed (SIGSEGV)" once the process ended.
        var ended: String?
        var endWaiters: [ResumeOnce<String?>] = []
        /// The call that missed its deadline and has not answered, and when it started.
        var hung: (call: UInt64, what: String, since: Date)?
        /// Why the daemon killed it ("was killed: hung in command 'x' for 7 s", "closed its socket").
        var killReason: String?
        var wasHung = false
        var nextCall: UInt64 = 0
        /// The callers waiting for an answer (or in line), by call number.
        var waiting: [UInt64: ResumeOnce<Result<[UInt8], CallFailure>>] = [:]
        /// The daemon is stopping and gave up on the calls in flight.
        var abandoned = false
        var exitReport: PluginExit?
    }

    /// Starts the plugin host process for the plugin file named `name` and its channel.
    init(name: String, limits: PluginProcess.Limits, callTimeout: Double, logger: Logger) throws(PluginProcess.SpawnError) {
        // The process's exit reaches this connection through the relay: the process is started
        // before the connection exists. The relay holds the connection until the process ended.
        let relayBox = Relay()
        process = try PluginProcess(name: name, limits: limits, logLevel: logger.logLevel, logger: logger,
                                    onExit: { ending in relayBox.take()?.processEnded(ending) })
        channel = PluginChannel(fd: process.channelFD, label: "\(name).host")
        self.callTimeout = callTimeout
        self.logger = logger
        state = Mutex(State(name: name))
        relayBox.set(self)
        // It may have ended before the relay knew whom to tell.
        if let ending = process.ending { processEnded(ending) }
        channel.start(onCall: { [self] call in serve(call, isCall: true) },
                      onNote: { [self] note in serve(note, isCall: false) },
                      onClose: { [self] why in
                          Task { await channelClosed(why) }
                      })
    }

    private final class Relay: Sendable {
        private let target = Mutex<PluginHostConnection?>(nil)
        func set(_ c: PluginHostConnection) { target.withLock { $0 = c } }
        func take() -> PluginHostConnection? { target.withLock { t in defer { t = nil }; return t } }
    }

    /// The plugin is known: its id names it in the log and in failures; its daemon-side context is
    /// cancelled if the process ends; `services` answers the plugin's service calls.
    func attach(id: String, context: PluginHostContext, services: RemoteServices, metrics: DaemonMetrics?) {
        state.withLock {
            $0.name = id
            $0.context = context
            $0.services = services
            $0.metrics = metrics
        }
        process.setLabel("plugin \(id)#\(context.generation)")
    }

    /// From now on an end nobody asked for is reported to `onExit` (once). One that happened
    /// already (between `create` and now) is reported at once.
    func arm(onExit: @escaping @Sendable (PluginExit) -> Void) {
        let missed = state.withLock { s -> PluginExit? in
            s.onExit = onExit
            return s.stopping ? nil : s.exitReport
        }
        if let missed { onExit(missed) }
    }

    var pluginName: String { state.withLock { $0.name } }

    /// A call into it missed its deadline and has not answered yet, or it is being killed for that.
    var isHung: Bool { state.withLock { $0.hung != nil || ($0.killReason != nil && $0.ended == nil) } }

    /// "plugin x crashed (SIGSEGV)" once the process ended, nil while it runs.
    var endReason: String? { state.withLock { $0.ended } }

    // MARK: the plugin host's calls

    private func serve(_ message: PluginChannel.Message, isCall: Bool) {
        let services = state.withLock { $0.services }
        if message.method >= 100, let services, services.handle(message, isCall: isCall) { return }
        // Nothing here answers it: a call still gets an (empty) answer, so no thread of the plugin
        // host waits for one; its descriptors are closed.
        message.fds.forEach { _ = close($0) }
        if isCall { channel.reply(to: message, []) }
    }

    // MARK: entry points

    /// Calls entry point `method` and returns its answer. `what` names it in errors ("command 'x'").
    /// The deadline is `timeout` (default: the call timeout) from when it is sent; waiting in line
    /// behind other calls is limited to `queueWait` (default: `PluginExecutor.queueWaitFactor` deadlines).
    /// `oneBudget`: `timeout` covers the wait in line too (a shutdown's destroy, which must end in time).
    func call(_ what: String, _ method: WireMethod, _ payload: [UInt8], timeout: Double? = nil,
              queueWait: Double? = nil, oneBudget: Bool = false) async -> Result<[UInt8], CallFailure> {
        let budget = timeout ?? callTimeout
        let asked = Date()
        if let failure = refusal() { return .failure(failure) }
        return await withCheckedContinuation { continuation in
            let answer = ResumeOnce<Result<[UInt8], CallFailure>>(continuation)
            let ticket = state.withLock { s in
                s.nextCall += 1
                s.waiting[s.nextCall] = answer
                return s.nextCall
            }
            Task {
                defer { _ = state.withLock { $0.waiting.removeValue(forKey: ticket) } }
                guard await queue.enter(timeout: oneBudget ? budget : queueWait ?? budget * PluginExecutor.queueWaitFactor) else {
                    answer.resume(.failure(.hung))
                    return
                }
                let timeout = oneBudget ? budget - Date().timeIntervalSince(asked) : budget
                if let failure = refusal() ?? (answer.isTaken ? .abandoned : nil) ?? (timeout < 0.05 ? .hung : nil) {
                    queue.leave()
                    answer.resume(.failure(failure))
                    return
                }
                let started = Date()
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { [self] in
                    guard answer.resume(.failure(.timedOut(seconds: timeout))) else { return }
                    missedDeadline(ticket, what: what, started: started, timeout: timeout)
                }
                let result = await channel.call(method.rawValue, payload, timeout: nil)
                queue.leave()
                guard let waiting = answer.claim() else {
                    if case .success(let message) = result { message.fds.forEach { _ = close($0) } }
                    return answeredLate(ticket, what: what, started: started)
                }
                switch result {
                case .success(let message):
                    message.fds.forEach { _ = close($0) }
                    waiting.resume(returning: .success(message.payload))
                case .failure(.closed(let why)):
                    waiting.resume(returning: .failure(.ended(await endText(orElse: why))))
                case .failure(.timedOut(let s)):
                    waiting.resume(returning: .failure(.timedOut(seconds: s)))
                }
            }
        }
    }

    /// A daemon stop: every caller waiting for an answer (or in line) gets `.abandoned` now. The
    /// calls already sent still run in the plugin host; `stop` ends it.
    func abandonCalls() {
        let all = state.withLock { s in
            s.abandoned = true
            defer { s.waiting.removeAll() }
            return Array(s.waiting.values)
        }
        for answer in all { answer.resume(.failure(.abandoned)) }
    }

    /// A failed call in the words inline mode uses for the same thing.
    func describe(_ failure: CallFailure, what: String) -> String {
        let name = pluginName
        switch failure {
        case .timedOut(let s): return "plugin \(name) did not finish \(what) within \(s) s; it is reported as not responding"
        case .hung: return "plugin \(name) is not responding (an earlier call is still running); \(what) was not attempted"
        case .ended(let text): return text
        case .badAnswer(let why): return "plugin \(name): its plugin host answered \(what) with nonsense (\(why))"
        case .abandoned: return "plugin \(name): \(what) was abandoned: the daemon is stopping"
        }
    }

    /// The call that missed its deadline and has not answered (health, `plugins list`).
    var hang: PluginExecutor.Hang? {
        state.withLock { s in s.hung.map { PluginExecutor.Hang(what: $0.what, since: $0.since.timeIntervalSince1970) } }
    }

    /// Why a call must not be sent now, if it must not.
    private func refusal() -> CallFailure? {
        state.withLock { s in
            if let e = s.ended { return .ended(e) }
            if s.hung != nil || s.killReason != nil { return .hung }
            return nil
        }
    }

    private func missedDeadline(_ number: UInt64, what: String, started: Date, timeout: Double) {
        let (name, metrics) = state.withLock { s in
            s.hung = (number, what, started)
            s.wasHung = true
            return (s.name, s.metrics)
        }
        metrics?.pluginCallTimedOut(plugin: name)
        logger.error("plugin \(name): \(what) has not returned after \(PluginHangLog.seconds(timeout)) s; the plugin is not responding; its plugin host (pid \(process.pid)) is killed unless it answers within \(PluginHangLog.seconds(PluginHostConnection.hangGrace)) s")
        DispatchQueue.global().asyncAfter(deadline: .now() + PluginHostConnection.hangGrace) { [self] in
            let reason = state.withLock { s -> String? in
                guard s.hung?.call == number, s.ended == nil, s.killReason == nil else { return nil }
                let seconds = Int(Date().timeIntervalSince(started).rounded())
                s.killReason = "was killed: hung in \(what) for \(seconds) s"
                return s.killReason
            }
            guard let reason else { return }
            logger.error("plugin \(name): \(reason) (pid \(process.pid))")
            process.kill(SIGKILL)
        }
    }

    private func answeredLate(_ number: UInt64, what: String, started: Date) {
        let name = state.withLock { s -> String? in
            guard s.hung?.call == number, s.killReason == nil else { return nil }
            s.hung = nil
            return s.name
        }
        guard let name else { return }
        logger.notice("plugin \(name): \(what) returned after \(PluginHangLog.seconds(Date().timeIntervalSince(started))) s; the plugin responds again")
    }

    // MARK: the end

    /// Waits (a few seconds at most) for the reason the process ended, once the channel closed.
    private func endText(orElse why: String) async -> String {
        let text: String? = await withCheckedContinuation { continuation in
            let once = ResumeOnce<String?>(continuation)
            let known = state.withLock { s -> String? in
                if let e = s.ended { return e }
                s.endWaiters.append(once)
                return nil
            }
            if let known {
                once.resume(known)
                return
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + PluginHostConnection.closeGrace + 2) { once.resume(nil) }
        }
        return text ?? "plugin \(pluginName): the plugin host connection is closed (\(why))"
    }

    /// The socket is closed. A process that keeps running without it serves nobody: killed.
    private func channelClosed(_ why: String) async {
        if state.withLock({ $0.stopping }) { return }
        guard await process.waitForExit(timeout: PluginHostConnection.closeGrace) == nil else { return }
        let name = state.withLock { s -> String in
            if s.killReason == nil { s.killReason = "closed its socket" }
            return s.name
        }
        logger.error("plugin \(name): its plugin host (pid \(process.pid)) closed its socket (\(why)) but keeps running; killing it")
        process.kill(SIGKILL)
    }

    /// The process was reaped: fail what waits, cancel what the instance registered, report once.
    private func processEnded(_ ending: PluginProcess.Ending) {
        let lastLines = process.lastLines
        let ended = state.withLock { s -> (String, PluginExit, [ResumeOnce<String?>], PluginHostContext?, (@Sendable (PluginExit) -> Void)?, Bool)? in
            guard s.ended == nil else { return nil }
            // A plugin host exits with connectionLostStatus when its socket ended first; the daemon
            // did not close it (it is not stopping), so the plugin's code did.
            let reason = s.killReason
                ?? (ending == .exited(status: PluginHostMain.connectionLostStatus) ? "closed its socket" : ending.description)
            let text = "plugin \(s.name) \(reason)"
            s.ended = text
            s.hung = nil
            let report = PluginExit(reason: reason, signalName: ending.signalName, exitStatus: ending.exitStatus,
                                    lastLines: lastLines, wasHung: s.wasHung && s.killReason?.hasPrefix("was killed") == true)
            s.exitReport = report
            defer { s.endWaiters.removeAll() }
            return (text, report, s.endWaiters, s.context, s.onExit, s.stopping)
        }
        guard let (text, report, waiters, context, onExit, stopping) = ended else { return }
        channel.close(text)
        for w in waiters { w.resume(text) }
        guard !stopping else {
            logger.debug("\(text) (asked to stop)")
            return
        }
        context?.cancelAll(reason: text)
        // Once serving, `onExit` makes the report (with the last output); before, this line is it.
        guard let onExit else { return logger.error("\(text) (pid \(process.pid))") }
        onExit(report)
    }

    // MARK: stopping

    /// Ends the process on purpose: `destroy` first when `destroyTimeout` is given (it answers, then
    /// exits), else only the socket is closed (it exits on its own); killed if it is still there
    /// a second later. Nothing is reported as a crash.
    func stop(destroyTimeout: Double?) async {
        // After a daemon stop gave up on the calls in flight, `destroy` waits in line behind one
        // that already ran past the stop's grace: a second more at most, so the stop ends in time.
        let abandoned = state.withLock { s in
            s.stopping = true
            return s.abandoned
        }
        if var destroyTimeout, endReason == nil {
            if abandoned { destroyTimeout = min(destroyTimeout, 1) }
            _ = await call("destroy", .destroy, [], timeout: destroyTimeout, oneBudget: true)
        }
        channel.close("the plugin was unloaded")
        if await process.waitForExit(timeout: PluginHostConnection.closeGrace) == nil {
            logger.warning("plugin \(pluginName): its plugin host (pid \(process.pid)) did not exit; killing it")
            process.kill(SIGKILL)
            _ = await process.waitForExit(timeout: 5)
        }
    }
}

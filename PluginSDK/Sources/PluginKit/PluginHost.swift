import Foundation
internal import PluginAPI
import Synchronization

/// Log levels of the host log.
public enum LogLevel: Int32, Sendable {
    case debug = 0, info = 1, warning = 2, error = 3
}

/// The host's services for one instance, as Swift. Every method may be called from any thread
/// (they wrap the ABI's [any-thread] functions). Once the instance is destroyed they do nothing
/// (timers and sleeps then end with `CancellationError`), so a task that outlives its instance
/// never touches the host's freed memory.
public final class PluginHost: Sendable {
    /// The `sb_host` and the service tables it offered; nil after destroy.
    private struct Services: @unchecked Sendable {
        // @unchecked: the host's tables are constant while the instance lives and their functions
        // are [any-thread]; the struct is only used under `services`' lock.
        let host: UnsafePointer<sb_host>
        let log: UnsafePointer<sb_host_log>?
        let timers: UnsafePointer<sb_host_timers>?
        let publish: UnsafePointer<sb_host_publish>?
        let operations: UnsafePointer<sb_host_operations>?
        let settings: UnsafePointer<sb_host_settings>?
    }

    /// Held during each call into the host, so `invalidate` cannot free things under a caller.
    private let services: Mutex<Services?>

    /// "speakerbridge" and the host's version.
    public let hostName: String
    public let hostVersion: String
    /// Which optional services the host offers.
    public let offersLog: Bool
    public let offersTimers: Bool
    public let offersPublish: Bool
    public let offersOperations: Bool
    public let offersSettings: Bool

    init(_ host: UnsafePointer<sb_host>) {
        func table<T>(_ id: String, _ type: T.Type) -> UnsafePointer<T>? {
            guard let get = host.pointee.get_extension, let raw = get(host, id) else { return nil }
            // A table shorter than the 1.0 layout is unusable (every table starts with struct_size).
            guard raw.load(as: UInt32.self) >= MemoryLayout<T>.size else { return nil }
            return raw.assumingMemoryBound(to: T.self)
        }
        let s = Services(host: host,
                         log: table(SB_HOST_EXT_LOG, sb_host_log.self),
                         timers: table(SB_HOST_EXT_TIMERS, sb_host_timers.self),
                         publish: table(SB_HOST_EXT_PUBLISH, sb_host_publish.self),
                         operations: table(SB_HOST_EXT_OPERATIONS, sb_host_operations.self),
                         settings: table(SB_HOST_EXT_SETTINGS, sb_host_settings.self))
        hostName = host.pointee.name.map { String(cString: $0) } ?? ""
        hostVersion = host.pointee.version.map { String(cString: $0) } ?? ""
        offersLog = s.log?.pointee.log != nil
        offersTimers = s.timers?.pointee.start != nil && s.timers?.pointee.cancel != nil
        offersPublish = s.publish != nil
        offersOperations = s.operations?.pointee.complete != nil
        offersSettings = s.settings != nil
        services = Mutex(s)
    }

    /// Destroy: from now on every service is a no-op; pending timers and sleeps are abandoned.
    func invalidate() {
        services.withLock { $0 = nil }
        TimerRegistry.shared.abandonAll(of: ObjectIdentifier(self))
    }

    // MARK: log

    /// Logs into the daemon's log (prefixed there with the plugin id).
    public func log(_ level: LogLevel, _ message: String) {
        services.withLock { s in
            guard let s, let log = s.log?.pointee.log else { return }
            log(s.host, level.rawValue, message)
        }
    }

    // MARK: publish

    /// Publishes the retained `<base>/<speaker>/state`; `json` must be a JSON object.
    public func publishState(speaker: String, json: String) throws(PluginError) {
        try check(services.withLock { s -> Int32 in
            guard let s, let f = s.publish?.pointee.speaker_state else { return SB_ERR_UNSUPPORTED }
            return f(s.host, speaker, json)
        }, "publish the state of \(speaker)")
    }

    /// Publishes `state` (encoded as a JSON object) as the speaker's state.
    public func publishState(speaker: String, _ state: some Encodable) throws(PluginError) {
        try publishState(speaker: speaker, json: JSONText.encode(state))
    }

    /// Publishes the retained `<base>/<speaker>/availability`.
    public func publishAvailability(speaker: String, online: Bool) throws(PluginError) {
        try check(services.withLock { s -> Int32 in
            guard let s, let f = s.publish?.pointee.speaker_availability else { return SB_ERR_UNSUPPORTED }
            return f(s.host, speaker, online)
        }, "publish the availability of \(speaker)")
    }

    /// Publishes `<base>/bridge/event/plugin/<plugin id>/<name>`; `json` must be a JSON object.
    public func publishEvent(name: String, json: String) throws(PluginError) {
        try check(services.withLock { s -> Int32 in
            guard let s, let f = s.publish?.pointee.event else { return SB_ERR_UNSUPPORTED }
            return f(s.host, name, json)
        }, "publish event \(name)")
    }

    private func check(_ status: Int32, _ what: String) throws(PluginError) {
        guard status == SB_OK else {
            throw PluginError(PluginStatus(rawValue: status), "cannot \(what): \(PluginStatus(rawValue: status))")
        }
    }

    // MARK: settings

    /// The plugin's settings (`NAME.json`) as typed values, through the host's settings service.
    public var settings: HostSettings { HostSettings(host: self) }

    /// Runs `body` with the settings table, or returns SB_ERR_UNSUPPORTED when there is none
    /// (an older host, or after destroy).
    func withSettings(_ body: (UnsafePointer<sb_host>, sb_host_settings) -> Int32) -> Int32 {
        services.withLock { s in
            guard let s, let table = s.settings?.pointee else { return SB_ERR_UNSUPPORTED }
            return body(s.host, table)
        }
    }

    // MARK: operations

    /// Reports the end of a long operation (exactly once per id; later ones are ignored by the
    /// host). `detail`: a reason on failure, or a JSON object of results (or nil) on success.
    /// Operations started through `SpeakerDriver.play` are completed by PluginKit itself.
    public func complete(operation: UInt64, status: PluginStatus, detail: String? = nil) {
        services.withLock { s in
            guard let s, let complete = s.operations?.pointee.complete else { return }
            if let detail {
                complete(s.host, operation, status.rawValue, detail)
            } else {
                complete(s.host, operation, status.rawValue, nil)
            }
        }
    }

    // MARK: timers

    /// Starts a host timer: `handler` runs on the instance's executor after `delayMs`, then every
    /// `periodMs` when that is > 0, until cancelled or the instance is destroyed.
    @discardableResult
    public func startTimer(afterMs delayMs: UInt32, everyMs periodMs: UInt32 = 0,
                           _ handler: @escaping @Sendable () -> Void) throws(PluginError) -> PluginTimer {
        try startTimer(afterMs: delayMs, everyMs: periodMs, abandoned: {}, handler)
    }

    func startTimer(afterMs delayMs: UInt32, everyMs periodMs: UInt32, abandoned: @escaping @Sendable () -> Void,
                    _ handler: @escaping @Sendable () -> Void) throws(PluginError) -> PluginTimer {
        // Registered before the host knows the timer, so an immediate firing finds it.
        let key = TimerRegistry.shared.add(.init(owner: ObjectIdentifier(self), repeating: periodMs > 0,
                                                 fire: handler, abandon: abandoned))
        var id: UInt64 = 0
        let status = services.withLock { s -> Int32 in
            guard let s, let start = s.timers?.pointee.start else { return SB_ERR_UNSUPPORTED }
            return start(s.host, delayMs, periodMs, { user, _ in
                TimerRegistry.shared.fire(UInt(bitPattern: user))
            }, UnsafeMutableRawPointer(bitPattern: key), &id)
        }
        guard status == SB_OK else {
            _ = TimerRegistry.shared.remove(key)
            throw PluginError(PluginStatus(rawValue: status), status == SB_ERR_UNSUPPORTED
                              ? "the host offers no timers" : "cannot start a timer: \(PluginStatus(rawValue: status))")
        }
        return PluginTimer(host: self, key: key, id: id)
    }

    func cancelTimer(_ timer: PluginTimer) {
        services.withLock { s in
            guard let s, let cancel = s.timers?.pointee.cancel else { return }
            cancel(s.host, timer.id)
        }
        _ = TimerRegistry.shared.remove(timer.key)
    }

    /// Waits `ms` milliseconds on a host timer (so a reload or destroy ends the wait with
    /// `CancellationError`), or with `Task.sleep` when the host has no timers. Honours task
    /// cancellation.
    public func sleep(milliseconds ms: UInt32) async throws {
        guard offersTimers else {
            try await Task.sleep(nanoseconds: UInt64(ms) * 1_000_000)
            return
        }
        let waiter = Waiter()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                guard waiter.install(continuation) else { return }
                do {
                    let timer = try startTimer(afterMs: ms, everyMs: 0,
                                               abandoned: { waiter.finish(.failure(CancellationError())) },
                                               { waiter.finish(.success(())) })
                    waiter.setTimer(timer)
                } catch {
                    waiter.finish(.failure(error))
                }
            }
        } onCancel: {
            waiter.cancel()
        }
    }
}

/// A running host timer.
public struct PluginTimer: Sendable {
    let host: PluginHost
    let key: UInt
    /// The host's timer id.
    public let id: UInt64

    /// After this returns the handler does not run again.
    public func cancel() { host.cancelTimer(self) }
}

/// One `sleep`: resumed exactly once, by the timer, by task cancellation or by destroy.
private final class Waiter: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Void, any Error>?
        var timer: PluginTimer?
        var finished = false
    }
    private let state = Mutex(State())

    /// False when the task was cancelled before the wait began (the continuation is then resumed).
    func install(_ c: CheckedContinuation<Void, any Error>) -> Bool {
        let already = state.withLock { s -> Bool in
            if s.finished { return true }
            s.continuation = c
            return false
        }
        if already { c.resume(throwing: CancellationError()) }
        return !already
    }

    func setTimer(_ t: PluginTimer) {
        let orphan = state.withLock { s -> Bool in
            if s.finished { return true }
            s.timer = t
            return false
        }
        if orphan { t.cancel() }  // cancelled while the timer was being started
    }

    func finish(_ result: Result<Void, any Error>) {
        let c = state.withLock { s -> CheckedContinuation<Void, any Error>? in
            guard !s.finished else { return nil }
            s.finished = true
            defer { s.continuation = nil }
            return s.continuation
        }
        c?.resume(with: result)
    }

    func cancel() {
        let timer = state.withLock { $0.timer }
        timer?.cancel()
        finish(.failure(CancellationError()))
    }
}

/// Timer handlers, keyed by a number that is passed to the host as the callback's `user` pointer:
/// no Swift object's address is handed out, so a late or stray callback finds nothing instead of
/// freed memory.
final class TimerRegistry: Sendable {
    struct Entry: Sendable {
        let owner: ObjectIdentifier
        let repeating: Bool
        let fire: @Sendable () -> Void
        let abandon: @Sendable () -> Void
    }

    static let shared = TimerRegistry()
    private let entries = Mutex<(next: UInt, map: [UInt: Entry])>((1, [:]))

    func add(_ e: Entry) -> UInt {
        entries.withLock { s in
            let key = s.next
            s.next &+= 1
            if s.next == 0 { s.next = 1 }
            s.map[key] = e
            return key
        }
    }

    func remove(_ key: UInt) -> Entry? { entries.withLock { $0.map.removeValue(forKey: key) } }

    func fire(_ key: UInt) {
        let entry = entries.withLock { s -> Entry? in
            guard let e = s.map[key] else { return nil }
            if !e.repeating { s.map[key] = nil }
            return e
        }
        entry?.fire()
    }

    func abandonAll(of owner: ObjectIdentifier) {
        let gone = entries.withLock { s -> [Entry] in
            let keys = s.map.filter { $0.value.owner == owner }.map(\.key)
            return keys.compactMap { s.map.removeValue(forKey: $0) }
        }
        for e in gone { e.abandon() }
    }
}

/// JSON text helpers.
public enum JSONText {
    /// Encodes `value` compactly (sorted keys, no escaped slashes).
    public static func encode(_ value: some Encodable) throws(PluginError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            throw PluginError.failed("cannot encode JSON: \(error)")
        }
    }

    /// Encodes a `JSONSerialization` object (`[String: Any]`, `[Any]` …).
    public static func encode(object: Any) throws(PluginError) -> String {
        guard JSONSerialization.isValidJSONObject(object) else { throw PluginError.failed("not a JSON object: \(object)") }
        do {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self)
        } catch {
            throw PluginError.failed("cannot encode JSON: \(error)")
        }
    }
}

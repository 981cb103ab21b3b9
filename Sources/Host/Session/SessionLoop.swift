import CMosquitto
import Foundation
import Logging

/// Everything the session thread shares with the rest of the daemon. All members are Sendable.
struct SessionContext: Sendable {
    let config: Configuration
    let clientID: String
    let spool: Spool
    let intake: any MessageIntake
    let status: SessionStatusBox
    let wake: WakePipe
    let logger: Logger
    /// Retained announcements of ourselves, published first on every connect (bridge/state, bridge/info).
    let birth: @Sendable (SessionStatus) -> [OutboundMessage]
    let subscriptions: [String]
    let stopRequested: @Sendable () -> Bool
    /// Asked before every connect; a non-nil answer (why not) skips the attempt. The embedded
    /// broker uses it so our CONNECT and password never go to a program squatting its port.
    var brokerCheck: (@Sendable () -> String?)? = nil
    /// systemd's watchdog, fed from this loop's own turns (at most 100 ms apart while connected,
    /// 1 s while waiting to reconnect), so a wedged loop stops feeding it.
    var watchdog: ServiceWatchdog? = nil

    var topics: Topics { Topics(base: config.baseTopic) }
}

/// The MQTT connection, driven from one dedicated thread with libmosquitto's external-loop API
/// (`mosquitto_loop_read/write/misc` around our own poll(2)). Owning the loop lets us wake it for new
/// outbound messages, decide every reconnect ourselves and tear a dead link down on our own clock.
///
/// Confined to its thread: libmosquitto invokes the callbacks from inside `loop_read/write/misc`, on
/// this same thread, so no member needs a lock.
final class SessionLoop {
    private let ctx: SessionContext
    private let log: Logger
    private var policy: ReconnectPolicy
    private var twin: TwinDetector
    private var everConnected = false
    /// The protocol version of the current attempt.
    private var version: Configuration.ProtocolVersion

    // Per connection; reset by `runConnection`.
    private var mosq: OpaquePointer?
    private var connected = false
    private var connectedAt: ContinuousClock.Instant?
    private var ended: DisconnectReason?
    private var inflight: [Int32: UInt64] = [:]
    private var handedUpTo: UInt64 = 0
    private var acked: [UInt64] = []
    private var lastInbound = ContinuousClock.now
    private var probeSentAt: ContinuousClock.Instant?
    private var libraryErrors: [String] = []
    private var closing: ClosingState?

    private struct ClosingState {
        var drainDeadline: ContinuousClock.Instant
        var offlineMid: Int32? = nil
        var offlineAcked = false
        var offlineDeadline: ContinuousClock.Instant? = nil
    }

    /// How many of our messages may wait for a PUBACK at once; the rest stay in the spool.
    static let window = 64

    init(context: SessionContext) {
        ctx = context
        log = context.logger
        let r = context.config.mqtt.reconnect
        policy = ReconnectPolicy(minDelay: r.minDelay, maxDelay: r.maxDelay, stableAfter: r.stableAfter)
        twin = TwinDetector(threshold: context.config.mqtt.twin.threshold, window: context.config.mqtt.twin.window)
        version = context.config.mqtt.protocolChoice.preferred
    }

    func run() {
        while !ctx.stopRequested() {
            runConnection()
            if ctx.stopRequested() { break }
            sleep(seconds: nextDelay())
        }
        ctx.status.update { $0.connected = false }
        log.info("mqtt: session stopped")
    }

    // MARK: one connection

    private func runConnection() {
        let m = ctx.config.mqtt
        ctx.watchdog?.pet()
        ctx.status.update { $0.connectAttempts += 1 }
        if let problem = ctx.brokerCheck?() {
            finishAttempt(DisconnectReason(code: -1, name: "unverified broker", explanation: problem))
            return
        }
        do {
            try TCPProbe.check(host: ctx.config.brokerHost, port: ctx.config.brokerPort, timeout: m.reconnect.connectTimeout)
        } catch {
            finishAttempt(DisconnectReason(code: -1, name: "unreachable", explanation: error.description))
            return
        }
        guard let handle = makeHandle() else {
            finishAttempt(DisconnectReason(code: -1, name: "setup", explanation: "cannot create the MQTT client: \(libraryErrors.last ?? "out of memory?")"))
            return
        }
        mosq = handle
        connected = false
        connectedAt = nil
        ended = nil
        inflight = [:]
        handedUpTo = 0
        probeSentAt = nil
        closing = nil
        libraryErrors = []
        defer {
            mosquitto_destroy(handle)
            mosq = nil
        }

        var props: OpaquePointer? = nil
        if version == .v5 {
            mosquitto_property_add_int32(&props, Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue), UInt32(clamping: m.sessionExpiry))
        }
        let rc = mosquitto_connect_bind_v5(handle, ctx.config.brokerHost, Int32(ctx.config.brokerPort),
                                           Int32(m.keepalive), m.bindAddress, props)
        mosquitto_property_free_all(&props)
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            finishAttempt(withLibraryDetail(.fromLibrary(rc, protocolVersion: version)))
            return
        }
        let started = ContinuousClock.now
        lastInbound = started
        pollUntilEnded(handle: handle, started: started)
        if !acked.isEmpty { ctx.spool.settle(acked); acked = [] }
        let reason = ended ?? DisconnectReason(code: 0, name: "MOSQ_ERR_SUCCESS", explanation: "disconnected on request")
        finishAttempt(connected ? reason : withLibraryDetail(reason))
    }

    private func pollUntilEnded(handle: OpaquePointer, started: ContinuousClock.Instant) {
        let m = ctx.config.mqtt
        while ended == nil {
            let sock = mosquitto_socket(handle)
            guard sock >= 0 else {
                if ended == nil { ended = .fromLibrary(Int32(MOSQ_ERR_CONN_LOST.rawValue), protocolVersion: version) }
                break
            }
            var fds = [
                pollfd(fd: sock, events: Int16(POLLIN) | (mosquitto_want_write(handle) ? Int16(POLLOUT) : 0), revents: 0),
                pollfd(fd: ctx.wake.readFD, events: Int16(POLLIN), revents: 0),
            ]
            _ = poll(&fds, 2, 100)
            ctx.watchdog?.pet()
            if fds[1].revents != 0 { ctx.wake.drain() }
            if fds[0].revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 {
                if !step(mosquitto_loop_read(handle, 64)) { break }
            }
            if ended == nil, mosquitto_want_write(handle) {
                if !step(mosquitto_loop_write(handle, 64)) { break }
            }
            if ended == nil, !step(mosquitto_loop_misc(handle)) { break }
            if ended != nil { break }
            if !acked.isEmpty { ctx.spool.settle(acked); acked = [] }

            let now = ContinuousClock.now
            if !connected {
                if now - started > .seconds(m.reconnect.connectTimeout) {
                    ended = DisconnectReason(code: -1, name: "timeout", explanation: "the broker accepted TCP but sent no CONNACK within \(m.reconnect.connectTimeout) s")
                }
                continue
            }
            if ctx.stopRequested() || closing != nil {
                if closeGracefully(handle, now: now) { break }
                continue
            }
            flushOutbound(handle)
            checkLiveness(handle, now: now)
            clearTwinOnceStable(handle, now: now)
        }
    }

    /// Treats a libmosquitto return code; false when the connection is gone.
    private func step(_ rc: Int32) -> Bool {
        if rc == MOSQ_ERR_SUCCESS.rawValue { return true }
        if ended == nil { ended = .fromLibrary(rc, protocolVersion: version) }
        return false
    }

    private func finishAttempt(_ reason: DisconnectReason) {
        let now = ContinuousClock.now
        if let since = connectedAt {
            let duration = Double((now - since).components.seconds) + Double((now - since).components.attoseconds) / 1e18
            policy.connectionEnded(after: duration)
            let reachable = !reason.mayBeTakeover || duration >= twin.window
                || (try? TCPProbe.check(host: ctx.config.brokerHost, port: ctx.config.brokerPort, timeout: 0.5)) != nil
            let newTwin = twin.connectionEnded(after: duration, reason: reason, brokerReachable: reachable)
            ctx.status.update {
                $0.connected = false
                $0.since = Date()
                $0.lastDisconnect = reason
                $0.lastDisconnectAt = Date()
                $0.disconnects[reason.name, default: 0] += 1
                $0.twinSuspected = twin.suspected
            }
            if reason.code == 0 && ctx.stopRequested() {
                log.info("mqtt: disconnected cleanly from \(brokerName)")
            } else {
                log.warning("mqtt: lost the broker \(brokerName) after \(String(format: "%.1f", duration)) s: \(reason.name) (rc \(reason.code)): \(reason.explanation)")
            }
            if newTwin {
                log.error("mqtt: TWIN DETECTED: \(ctx.status.current.twinWarning ?? ""); backing off to \(Int(policy.maxDelay)) s between attempts instead of fighting for the id")
            }
        } else {
            ctx.status.update {
                $0.lastDisconnect = reason
                $0.lastDisconnectAt = Date()
            }
            log.warning("mqtt: cannot connect to \(brokerName): \(reason.name): \(reason.explanation)")
        }
        connected = false
        connectedAt = nil
        lastReason = reason
    }

    private var lastReason: DisconnectReason?

    private func nextDelay() -> Double {
        var delay = policy.nextDelay()
        if twin.suspected || lastReason?.isConfigurationProblem == true {
            // Retrying soon cannot help: a twin would be kicked again, a bad certificate stays bad.
            delay = policy.maxDelay * Double.random(in: 0.9...1.0)
        }
        log.info("mqtt: next connection attempt in \(String(format: "%.2f", delay)) s")
        return delay
    }

    private var brokerName: String { "\(ctx.config.brokerHost):\(ctx.config.brokerPort)" }

    /// A failed connect explained with what libmosquitto logged (OpenSSL's reason, for one) and,
    /// for TLS, which setting to look at.
    private func withLibraryDetail(_ reason: DisconnectReason) -> DisconnectReason {
        let detail = (libraryErrors.last.map { ": " + $0 } ?? "") + (reason.name == "MOSQ_ERR_TLS" ? tlsHint() : "")
        guard !detail.isEmpty else { return reason }
        return DisconnectReason(code: reason.code, name: reason.name, explanation: reason.explanation + detail)
    }

    private func tlsHint() -> String {
        if libraryErrors.contains(where: { $0.contains("certificate verify failed") }) {
            return " (the broker's certificate does not verify against mqtt.tls.ca_file)"
        }
        return " (the TLS handshake failed: check that mqtt.tls.ca_file signed the broker's certificate, that mqtt.host matches its name, and that the port speaks TLS)"
    }

    /// Sleeps, but wakes early for shutdown.
    private func sleep(seconds: Double) {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while !ctx.stopRequested() {
            let left = deadline - ContinuousClock.now
            if left <= .zero { return }
            let ms = Int32(min(1000, max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)))
            var pfd = pollfd(fd: ctx.wake.readFD, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, ms) > 0 { ctx.wake.drain() }
            ctx.watchdog?.pet()
        }
    }

    // MARK: handle setup

    private func makeHandle() -> OpaquePointer? {
        let m = ctx.config.mqtt
        let me = Unmanaged.passUnretained(self).toOpaque()
        guard let h = mosquitto_new(ctx.clientID, false, me) else { return nil }
        // libmosquitto 2.0 queues a QoS 1 PUBACK *before* calling on_message and, without a thread
        // mode, writes it to the socket right away: a request we fail to record would already be
        // acknowledged (seen on a full disk: the first refused request of each connection was lost).
        // "Threaded" (our own thread, not loop_start) makes it only queue; our loop writes it after
        // on_message returned, and a refused request cuts the socket before that.
        mosquitto_threaded_set(h, true)
        mosquitto_int_option(h, MOSQ_OPT_PROTOCOL_VERSION,
                             version == .v5 ? Int32(MQTT_PROTOCOL_V5) : Int32(MQTT_PROTOCOL_V311))
        mosquitto_max_inflight_messages_set(h, UInt32(SessionLoop.window))
        // Requests and answers are small packets: without this, Nagle's algorithm and delayed
        // ACKs add about 40 ms to a round trip.
        mosquitto_int_option(h, MOSQ_OPT_TCP_NODELAY, 1)
        let offline = Array(JSONValue.object(["state": "offline", "reason": "connection lost"]).serialized().utf8)
        offline.withUnsafeBytes { raw in
            _ = mosquitto_will_set_v5(h, ctx.topics.bridgeState, Int32(raw.count), raw.baseAddress, 1, true, nil)
        }
        if let user = m.username {
            mosquitto_username_pw_set(h, user, m.password?.value)
        }
        if m.tls.enabled {
            let capath: String? = m.tls.caFile == nil ? "/etc/ssl/certs" : nil
            let rc = mosquitto_tls_set(h, m.tls.caFile, capath, m.tls.certFile, m.tls.keyFile, nil)
            if rc != MOSQ_ERR_SUCCESS.rawValue {
                libraryErrors.append("TLS setup failed: \(String(cString: mosquitto_strerror(rc)))")
            }
            mosquitto_tls_insecure_set(h, m.tls.insecure)
        }
        mosquitto_log_callback_set(h) { _, obj, level, text in
            guard let obj, let text else { return }
            SessionLoop.from(obj).libraryLog(level: level, String(cString: text))
        }
        mosquitto_connect_v5_callback_set(h) { _, obj, rc, flags, _ in
            guard let obj else { return }
            SessionLoop.from(obj).didConnect(rc: rc, sessionPresent: flags & 1 != 0)
        }
        mosquitto_disconnect_v5_callback_set(h) { _, obj, rc, _ in
            guard let obj else { return }
            SessionLoop.from(obj).didDisconnect(rc: rc)
        }
        mosquitto_message_v5_callback_set(h) { _, obj, message, props in
            guard let obj, let message else { return }
            SessionLoop.from(obj).didReceive(message.pointee, props: props)
        }
        mosquitto_publish_v5_callback_set(h) { _, obj, mid, _, _ in
            guard let obj else { return }
            SessionLoop.from(obj).didPublish(mid: mid)
        }
        mosquitto_subscribe_v5_callback_set(h) { _, obj, _, count, granted, _ in
            guard let obj else { return }
            SessionLoop.from(obj).didSubscribe(granted: Array(UnsafeBufferPointer(start: granted, count: Int(count))))
        }
        mosquitto_unsubscribe_callback_set(h) { _, obj, _ in
            guard let obj else { return }
            SessionLoop.from(obj).heardFromBroker()
        }
        return h
    }

    private static func from(_ obj: UnsafeMutableRawPointer) -> SessionLoop {
        Unmanaged<SessionLoop>.fromOpaque(obj).takeUnretainedValue()
    }

    // MARK: callbacks (called by libmosquitto on this thread)

    private func libraryLog(level: Int32, _ text: String) {
        if level == MOSQ_LOG_ERR || level == MOSQ_LOG_WARNING {
            libraryErrors.append(text)
            if libraryErrors.count > 8 { libraryErrors.removeFirst() }
        }
        log.trace("libmosquitto: \(text)")
    }

    private func didConnect(rc: Int32, sessionPresent: Bool) {
        heardFromBroker()
        guard rc == 0 else {
            ended = version == .v5 ? .fromReasonCode(Int(rc)) : .fromConnack(Int(rc))
            return
        }
        connected = true
        connectedAt = ContinuousClock.now
        let wasConnectedBefore = everConnected
        everConnected = true
        ctx.status.update {
            $0.connected = true
            $0.since = Date()
            $0.sessionResumed = sessionPresent
            if wasConnectedBefore { $0.reconnects += 1 }
        }
        log.info("mqtt: connected to \(brokerName) as \(ctx.clientID) (MQTT \(version.rawValue), session \(sessionPresent ? "resumed" : "new"))")
        guard let h = mosq else { return }
        // Subscribe on every connect, a resumed session too: a new filter (an upgrade, or Home
        // Assistant discovery switched on) is not in the session the broker kept. Subscribing again
        // to a filter the session has only replaces it, without losing what was queued for it, and
        // retained messages are not sent again (MQTT 5) or never acted on (retained requests).
        let options = version == .v5 ? Int32(MQTT_SUB_OPT_SEND_RETAIN_NEVER.rawValue) : 0
        for filter in ctx.subscriptions {
            let rc = mosquitto_subscribe_v5(h, nil, filter, 1, options, nil)
            if rc != MOSQ_ERR_SUCCESS.rawValue {
                log.error("mqtt: cannot subscribe to \(filter): \(String(cString: mosquitto_strerror(rc)))")
            }
        }
        for message in ctx.birth(ctx.status.current) {
            _ = send(h, message)
        }
        flushOutbound(h)
    }

    private func didDisconnect(rc: Int32) {
        if ended == nil { ended = .fromLibrary(rc, protocolVersion: version) }
    }

    private func didReceive(_ message: mosquitto_message, props: OpaquePointer?) {
        heardFromBroker()
        let topic = String(cString: message.topic)
        if message.retain {
            // A retained request would be replayed on every fresh subscription; never act on one.
            log.warning("mqtt: ignoring a retained message on \(topic): publish requests without the retain flag (clear it with an empty retained message)")
            return
        }
        // Not copied here: the intake checks the size before it keeps a byte (mqtt.max_payload).
        let payload = UnsafeRawBufferPointer(start: message.payloadlen > 0 ? message.payload : nil,
                                             count: Int(max(0, message.payloadlen)))
        var responseTopic: String? = nil
        var correlation: [UInt8]? = nil
        if let props {
            var value: UnsafeMutablePointer<CChar>? = nil
            if mosquitto_property_read_string(props, Int32(MQTT_PROP_RESPONSE_TOPIC.rawValue), &value, false) != nil, let value {
                responseTopic = String(cString: value)
                free(value)
            }
            var data: UnsafeMutableRawPointer? = nil
            var length: UInt16 = 0
            if mosquitto_property_read_binary(props, Int32(MQTT_PROP_CORRELATION_DATA.rawValue), &data, &length, false) != nil, let data {
                correlation = Array(UnsafeRawBufferPointer(start: data, count: Int(length)))
                free(data)
            }
        }
        let recorded = ctx.intake.receive(topic: topic, payload: payload, qos: message.qos, mid: message.mid,
                                          responseTopic: responseTopic, correlationData: correlation)
        if !recorded, let h = mosq {
            // Not recorded means not acknowledged: cut the socket before libmosquitto sends the
            // PUBACK, so the broker keeps the message and redelivers it.
            shutdown(mosquitto_socket(h), Int32(SHUT_RDWR))
            ended = DisconnectReason(code: -1, name: "journal", explanation: "could not record an incoming request; the broker will redeliver it")
        }
    }

    private func didPublish(mid: Int32) {
        heardFromBroker()
        if let seq = inflight.removeValue(forKey: mid) { acked.append(seq) }
        if closing?.offlineMid == mid { closing?.offlineAcked = true }
    }

    private func didSubscribe(granted: [Int32]) {
        heardFromBroker()
        for q in granted where q >= 0x80 {
            log.error("mqtt: the broker refused a subscription (reason \(q)): check the broker's ACL for \(ctx.config.baseTopic)/#")
        }
    }

    private func heardFromBroker() {
        lastInbound = ContinuousClock.now
        probeSentAt = nil
    }

    // MARK: outbound

    private func flushOutbound(_ h: OpaquePointer) {
        guard connected, inflight.count < SessionLoop.window else { return }
        for q in ctx.spool.outbound(after: handedUpTo, limit: SessionLoop.window - inflight.count) {
            var rc: Int32 = 0
            guard let mid = send(h, q.message, rc: &rc) else {
                guard SessionLoop.isPermanent(rc) else {
                    // The connection failed under us: keep the message; it goes out after the reconnect.
                    ended = ended ?? .fromLibrary(rc, protocolVersion: version)
                    return
                }
                // A message the broker can never take (bad topic from a response-topic property,
                // oversized payload): drop it rather than block the queue behind it.
                log.error("mqtt: dropping a message to \(q.message.topic) the broker cannot take: \(String(cString: mosquitto_strerror(rc)))")
                acked.append(q.seq)
                handedUpTo = q.seq
                continue
            }
            inflight[mid] = q.seq
            handedUpTo = q.seq
        }
    }

    /// Errors that retrying cannot fix, for this message.
    static func isPermanent(_ rc: Int32) -> Bool {
        [MOSQ_ERR_INVAL, MOSQ_ERR_PAYLOAD_SIZE, MOSQ_ERR_OVERSIZE_PACKET, MOSQ_ERR_MALFORMED_UTF8,
         MOSQ_ERR_QOS_NOT_SUPPORTED, MOSQ_ERR_NOT_SUPPORTED].map(\.rawValue).contains(rc)
    }

    /// Hands one QoS 1 message to libmosquitto; nil if it refused (`rc` says why).
    private func send(_ h: OpaquePointer, _ message: OutboundMessage) -> Int32? {
        var rc: Int32 = 0
        return send(h, message, rc: &rc)
    }

    private func send(_ h: OpaquePointer, _ message: OutboundMessage, rc result: inout Int32) -> Int32? {
        var props: OpaquePointer? = nil
        defer { mosquitto_property_free_all(&props) }
        if let correlation = message.correlationData, version == .v5 {
            correlation.withUnsafeBytes { raw in
                _ = mosquitto_property_add_binary(&props, Int32(MQTT_PROP_CORRELATION_DATA.rawValue), raw.baseAddress, UInt16(clamping: raw.count))
            }
        }
        var mid: Int32 = 0
        let rc = message.payload.withUnsafeBytes { raw in
            mosquitto_publish_v5(h, &mid, message.topic, Int32(raw.count), raw.baseAddress, 1, message.retain, props)
        }
        result = rc
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            log.warning("mqtt: cannot publish to \(message.topic): \(String(cString: mosquitto_strerror(rc)))")
            return nil
        }
        return mid
    }

    /// A suspected twin is cleared by a connection that outlives the twin window; say so at once on
    /// bridge/state and bridge/info rather than at the next reconnect.
    private func clearTwinOnceStable(_ h: OpaquePointer, now: ContinuousClock.Instant) {
        guard twin.suspected, let since = connectedAt, now - since >= .milliseconds(Int(twin.window * 1000)) else { return }
        guard twin.connectionStable() else { return }
        ctx.status.update { $0.twinSuspected = false }
        log.notice("mqtt: the connection has held for \(Int(twin.window)) s; the client id conflict is over")
        for message in ctx.birth(ctx.status.current) { _ = send(h, message) }
    }

    // MARK: liveness and shutdown

    /// libmosquitto notices a dead link only after up to 2x keepalive (ping after one interval,
    /// give up after another). We ask the broker for an answer after half an interval of silence
    /// and give up half an interval later, so a partition is detected within one keepalive.
    /// The question is an UNSUBSCRIBE of a topic we never subscribed: it changes nothing on the
    /// broker and no other client sees it.
    private func checkLiveness(_ h: OpaquePointer, now: ContinuousClock.Instant) {
        let half = Duration.milliseconds(ctx.config.mqtt.keepalive * 500)
        if let sent = probeSentAt {
            if now - sent > half {
                ended = DisconnectReason(code: Int(MOSQ_ERR_KEEPALIVE.rawValue), name: "MOSQ_ERR_KEEPALIVE", explanation:
                    "no answer from the broker for \(ctx.config.mqtt.keepalive) s: the network or the broker is gone")
            }
        } else if now - lastInbound > half {
            if mosquitto_unsubscribe(h, nil, ctx.topics.livenessProbe) == MOSQ_ERR_SUCCESS.rawValue {
                probeSentAt = now
            }
        }
    }

    /// Drains what we owe the broker, says `offline` (a clean disconnect suppresses the Will), and
    /// disconnects. Returns true when done.
    private func closeGracefully(_ h: OpaquePointer, now: ContinuousClock.Instant) -> Bool {
        if closing == nil {
            closing = ClosingState(drainDeadline: now + .seconds(3))
            log.info("mqtt: shutting down: flushing \(ctx.spool.stats.outboundPending) queued messages")
        }
        guard let c = closing else { return true }
        if c.offlineMid == nil {
            flushOutbound(h)
            let drained = inflight.isEmpty && ctx.spool.outbound(after: handedUpTo, limit: 1).isEmpty
            if drained || now > c.drainDeadline {
                let offline = OutboundMessage(topic: ctx.topics.bridgeState, json: ["state": "offline", "reason": "shutdown"], retain: true)
                closing?.offlineMid = send(h, offline) ?? -1
                closing?.offlineDeadline = now + .seconds(2)
            }
            return false
        }
        guard c.offlineAcked || c.offlineMid == -1 || now > (c.offlineDeadline ?? now) else { return false }
        mosquitto_disconnect(h)
        // Push the DISCONNECT out before the handle is destroyed.
        var tries = 0
        while mosquitto_want_write(h), tries < 20 {
            _ = mosquitto_loop_write(h, 1)
            tries += 1
        }
        ended = DisconnectReason(code: 0, name: "MOSQ_ERR_SUCCESS", explanation: "disconnected on request")
        return true
    }
}

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
    /// bridge/state, not retained, every `mqtt.heartbeat` seconds (nil: none). Not `birth`: what
    /// happens on a connect (Home Assistant's re-publish, the status page's copy) must not repeat.
    let heartbeat: (@Sendable (SessionStatus) -> OutboundMessage)?
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
    private var rotation: BrokerRotation
    private let held: HeldSubscriptions
    /// The protocol version of the current attempt.
    private var version: Configuration.ProtocolVersion
    /// The next attempt follows at once: the same broker, asked again with MQTT 3.1.1.
    private var retryAtOnce = false
    /// A connection the broker closed soon after it was made: a twin's kick if the broker is still
    /// there, which an attempt right away tells (a restarting broker refuses it). Asking with a
    /// real connect instead of a throw-away TCP one keeps brokers' logs free of half-open probes.
    private var pendingKick: (duration: Double, reason: DisconnectReason)?

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
    /// This attempt's connect; the TCP connection is up; a CONNACK arrived (whatever it said).
    private var connect = AsyncConnect()
    private var tcpUp: Bool { connect.tcpUp }
    private var connackSeen = false
    /// Filters SUBSCRIBEd in this connection (a retained message on one may be a subscribe-time
    /// one), and the SUBSCRIBEs waiting for their SUBACK.
    private var subscribedNow: [String] = []
    private var pendingSubscribes: [Int32: String] = [:]
    private var lastHeartbeat = ContinuousClock.now

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
        rotation = BrokerRotation(brokers: context.config.brokerList, choice: context.config.mqtt.protocolChoice)
        held = HeldSubscriptions(stateDirectory: context.config.stateDirectory)
        version = rotation.version
    }

    func run() {
        while !ctx.stopRequested() {
            runConnection()
            if ctx.stopRequested() { break }
            if retryAtOnce {
                retryAtOnce = false
                continue
            }
            sleep(seconds: nextDelay())
        }
        ctx.status.update { $0.connected = false }
        log.info("mqtt: session stopped")
    }

    // MARK: one connection

    private func runConnection() {
        let m = ctx.config.mqtt
        let broker = rotation.current
        version = rotation.version
        connect = AsyncConnect()
        connackSeen = false
        ctx.watchdog?.pet()
        ctx.status.update {
            $0.connectAttempts += 1
            $0.broker = broker.description
        }
        if let problem = ctx.brokerCheck?() {
            finishAttempt(DisconnectReason(code: -1, name: "unverified broker", explanation: problem))
            return
        }
        guard let handle = makeHandle(broker) else {
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
        subscribedNow = []
        pendingSubscribes = [:]
        defer {
            mosquitto_destroy(handle)
            mosq = nil
        }

        let start = AsyncConnect.start(handle, broker: broker, keepalive: Int32(m.keepalive), bindAddress: m.bindAddress,
                                       sessionExpiry: version == .v5 ? UInt32(clamping: m.sessionExpiry) : nil)
        guard start == .started else {
            finishAttempt(connectCallFailed(start, broker: broker))
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
                pollfd(fd: sock, events: connect.events(handle), revents: 0),
                pollfd(fd: ctx.wake.readFD, events: Int16(POLLIN), revents: 0),
            ]
            _ = poll(&fds, 2, 100)
            ctx.watchdog?.pet()
            if fds[1].revents != 0 { ctx.wake.drain() }
            switch connect.handle(revents: fds[0].revents, socket: sock, connackSeen: connackSeen) {
            case .tcpFailed(let code):
                ended = DisconnectReason(code: -1, name: "unreachable", explanation: "cannot reach \(rotation.current): \(String(cString: strerror(code)))")
            case .proceed(let read):
                if read { _ = step(mosquitto_loop_read(handle, 64)) }
            }
            if ended != nil { break }
            if mosquitto_want_write(handle) {
                if !step(mosquitto_loop_write(handle, 64)) { break }
            }
            if ended == nil, !step(mosquitto_loop_misc(handle)) { break }
            if ended != nil { break }
            if !acked.isEmpty { ctx.spool.settle(acked); acked = [] }

            let now = ContinuousClock.now
            if !connected {
                if now - started > .seconds(m.reconnect.connectTimeout) {
                    ended = tcpUp
                        ? DisconnectReason(code: -1, name: "timeout", explanation: "the broker accepted TCP but sent no CONNACK within \(m.reconnect.connectTimeout) s")
                        : DisconnectReason(code: -1, name: "unreachable", explanation: "no TCP connection to \(rotation.current) within \(m.reconnect.connectTimeout) s (mqtt.reconnect.connect_timeout)")
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
            beatHeart(handle, now: now)
        }
    }

    /// Treats a libmosquitto return code; false when the connection is gone.
    private func step(_ rc: Int32) -> Bool {
        if rc == MOSQ_ERR_SUCCESS.rawValue { return true }
        if ended == nil { ended = .fromLibrary(rc, protocolVersion: version) }
        return false
    }

    private func finishAttempt(_ endReason: DisconnectReason) {
        let now = ContinuousClock.now
        var reason = endReason
        if let since = connectedAt {
            let duration = Double((now - since).components.seconds) + Double((now - since).components.attoseconds) / 1e18
            policy.connectionEnded(after: duration)
            if duration < twin.window, reason.mayBeTakeover, !ctx.stopRequested() {
                // Ask the same broker again at once, as a throw-away probe would have: a twin's
                // broker takes us back, a crashed or restarting one refuses. A known twin gets
                // the long backoff instead.
                pendingKick = (duration, reason)
                retryAtOnce = !twin.suspected
            } else {
                _ = twin.connectionEnded(after: duration, reason: reason)
            }
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
        } else {
            // The attempt never got a connection: a kick before it proves nothing either way.
            pendingKick = nil
            if reason.name != "MOSQ_ERR_TLS", ProtocolRefusal.isTLSFailure(libraryErrors) {
                // The handshake failed, whichever call reported it: a certificate problem, and a
                // configuration one (the longest backoff), not the broker refusing MQTT 5.
                reason = withLibraryDetail(DisconnectReason(code: Int(MOSQ_ERR_TLS.rawValue), name: "MOSQ_ERR_TLS", explanation: "TLS error"))
            }
            let attempt = ProtocolRefusal.Attempt(tcpUp: tcpUp, connackSeen: connackSeen, reason: reason)
            if ProtocolRefusal.mayBeVersionRefusal(attempt), rotation.refusedVersion5() {
                log.notice("mqtt: \(brokerName) did not take MQTT 5 (\(ProtocolRefusal.describe(attempt))); trying MQTT 3.1.1")
                retryAtOnce = true
                connected = false
                lastReason = reason
                return
            }
            if reason.name == "MOSQ_ERR_CONN_LOST", tcpUp, !connackSeen {
                reason = DisconnectReason(code: reason.code, name: reason.name, explanation: version == .v5
                    ? "the broker closed the connection before any CONNACK: the broker may not speak MQTT 5 (mqtt.protocol is 5; auto would try 3.1.1), or it is going down, or it refused us without saying why (see its log)"
                    : "the broker closed the connection before any CONNACK to our MQTT 3.1.1 CONNECT: it is going down or not ready (a cluster node that just lost a peer), or it refused us without saying why (see its log)")
            }
            ctx.status.update {
                $0.lastDisconnect = reason
                $0.lastDisconnectAt = Date()
            }
            log.warning("mqtt: cannot connect to \(brokerName): \(reason.name): \(reason.explanation)")
        }
        connected = false
        connectedAt = nil
        lastReason = reason
        guard !ctx.stopRequested(), !retryAtOnce, rotation.brokers.count > 1 else { return }
        let move = rotation.moveOn()
        let why = "\(reason.name): \(reason.explanation)"
        log.notice("mqtt: moving from \(move.from) to \(move.to): \(why)")
        ctx.status.update {
            $0.lastFailover = SessionStatus.Failover(from: move.from.description, to: move.to.description, reason: why, at: Date())
        }
    }

    /// A connect call that failed before any I/O was under way: the name did not resolve,
    /// connect(2) failed at once, or a TLS handshake begun inside the call failed.
    private func connectCallFailed(_ start: AsyncConnect.Start, broker: BrokerAddress) -> DisconnectReason {
        switch start {
        case .unresolvable(let why):
            return DisconnectReason(code: -1, name: "unreachable", explanation: "cannot resolve \(broker.host): \(why)")
        case .failed(let code):
            return DisconnectReason(code: -1, name: "unreachable", explanation: "cannot reach \(broker): \(String(cString: strerror(code)))")
        case .tls:
            return withLibraryDetail(.fromLibrary(Int32(MOSQ_ERR_TLS.rawValue), protocolVersion: version))
        case .library(let rc):
            return withLibraryDetail(.fromLibrary(rc, protocolVersion: version))
        case .started:
            preconditionFailure("a started connect has not failed")
        }
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

    private var brokerName: String { rotation.current.description }

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

    private func makeHandle(_ broker: BrokerAddress) -> OpaquePointer? {
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
        if broker.usesTLS(m) {
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
        mosquitto_subscribe_v5_callback_set(h) { _, obj, mid, count, granted, _ in
            guard let obj else { return }
            SessionLoop.from(obj).didSubscribe(mid: mid, granted: Array(UnsafeBufferPointer(start: granted, count: Int(count))))
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
        connackSeen = true
        guard rc == 0 else {
            ended = version == .v5 ? .fromReasonCode(Int(rc)) : .fromConnack(Int(rc))
            return
        }
        connected = true
        connectedAt = ContinuousClock.now
        lastHeartbeat = ContinuousClock.now
        rotation.accepted(version)
        if let kick = pendingKick {
            // The broker took us back at once: whoever closed the last connection was not a
            // restarting broker.
            pendingKick = nil
            if twin.connectionEnded(after: kick.duration, reason: kick.reason) {
                log.error("mqtt: TWIN DETECTED: \(twinWarningText); backing off to \(Int(policy.maxDelay)) s between attempts instead of fighting for the id")
            }
        }
        let wasConnectedBefore = everConnected
        everConnected = true
        let broker = rotation.current
        let version = self.version
        ctx.status.update {
            $0.connected = true
            $0.since = Date()
            $0.sessionResumed = sessionPresent
            $0.broker = broker.description
            $0.protocolVersion = version
            $0.twinSuspected = twin.suspected
            if wasConnectedBefore { $0.reconnects += 1 }
        }
        let negotiated = rotation.negotiatedDown ? ", the broker refused MQTT 5" : ""
        log.info("mqtt: connected to \(brokerName) as \(ctx.clientID) (MQTT \(version.rawValue)\(negotiated), session \(sessionPresent ? "resumed" : "new"))")
        guard let h = mosq else { return }
        subscribe(h, sessionPresent: sessionPresent)
        for message in ctx.birth(ctx.status.current) {
            _ = send(h, message)
        }
        flushOutbound(h)
    }

    private var twinWarningText: String {
        var status = ctx.status.current
        status.twinSuspected = true
        return status.twinWarning ?? ""
    }

    /// A new session gets every filter. A resumed one gets only those it does not hold yet (an
    /// upgrade, or Home Assistant discovery switched on) and loses those no longer wanted: a
    /// filter subscribed again would bring its retained messages again, and a broker replaying
    /// the session's queue with the retain flag (amqtt) would be indistinguishable from them.
    private func subscribe(_ h: OpaquePointer, sessionPresent: Bool) {
        if !sessionPresent { held.sessionIsNew() }
        // MQTT 5: never send retained messages at subscribe time, wherever the broker honours it.
        let options = version == .v5 ? Int32(MQTT_SUB_OPT_SEND_RETAIN_NEVER.rawValue) : 0
        for filter in ctx.subscriptions where !(sessionPresent && held.filters.contains(filter)) {
            var mid: Int32 = 0
            let rc = mosquitto_subscribe_v5(h, &mid, filter, 1, options, nil)
            if rc != MOSQ_ERR_SUCCESS.rawValue {
                log.error("mqtt: cannot subscribe to \(filter): \(String(cString: mosquitto_strerror(rc)))")
                continue
            }
            subscribedNow.append(filter)
            pendingSubscribes[mid] = filter
        }
        if sessionPresent {
            for filter in held.filters.sorted() where !ctx.subscriptions.contains(filter) {
                if mosquitto_unsubscribe(h, nil, filter) == MOSQ_ERR_SUCCESS.rawValue { held.released(filter) }
            }
        }
        if !subscribedNow.isEmpty {
            log.debug("mqtt: subscribed to \(subscribedNow.joined(separator: ", "))\(sessionPresent ? " (missing from the resumed session)" : "")")
        }
    }

    private func didDisconnect(rc: Int32) {
        if ended == nil { ended = .fromLibrary(rc, protocolVersion: version) }
    }

    private func didReceive(_ message: mosquitto_message, props: OpaquePointer?) {
        heardFromBroker()
        let topic = String(cString: message.topic)
        if message.retain {
            if subscribedNow.contains(where: { SessionLoop.filter($0, matches: topic) }) {
                // Delivered because we subscribed: a retained request would be acted on again at
                // every new subscription; never act on one.
                log.warning("mqtt: ignoring a retained message on \(topic): publish requests without the retain flag (clear it with an empty retained message)")
                return
            }
            // No filter of this connection's SUBSCRIBEs: the broker is replaying what it queued
            // for our session, with the retain flag set against MQTT-3.3.1-9 (amqtt does).
            log.debug("mqtt: processing a request on \(topic) the broker replayed from the session's queue with the retain flag set")
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

    private func didSubscribe(mid: Int32, granted: [Int32]) {
        heardFromBroker()
        let filter = pendingSubscribes.removeValue(forKey: mid)
        for q in granted where q >= 0x80 {
            log.error("mqtt: the broker refused a subscription to \(filter ?? "a filter") (reason \(q)): check the broker's ACL for \(ctx.config.baseTopic)/#")
        }
        if let filter, granted.allSatisfy({ $0 < 0x80 }) { held.held(filter) }
    }

    private static func filter(_ filter: String, matches topic: String) -> Bool {
        var result = false
        return mosquitto_topic_matches_sub(filter, topic, &result) == MOSQ_ERR_SUCCESS.rawValue && result
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

    /// bridge/state again, not retained, every `mqtt.heartbeat` seconds: on brokers that keep
    /// retained messages on one node (RabbitMQ), a subscriber on another node still learns that we
    /// are online within one interval.
    private func beatHeart(_ h: OpaquePointer, now: ContinuousClock.Instant) {
        let interval = ctx.config.mqtt.heartbeat
        guard interval > 0, let heartbeat = ctx.heartbeat, now - lastHeartbeat >= .seconds(interval) else { return }
        lastHeartbeat = now
        _ = send(h, heartbeat(ctx.status.current))
    }

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

import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// One NOTIFY waiting to be delivered.
struct Notify: Sendable {
    let player: Int
    let service: UPnPService
    let sid: String
    let seq: Int
    let callback: String
    let body: String
}

/// A live GENA subscription on one player's service.
struct Subscription {
    let sid: String
    let service: UPnPService
    let callback: String
    var timeout: Int
    var expires: ContinuousClock.Instant
    var nextSeq = 0
    /// No change events before the initial (SEQ 0) event has gone out.
    var initialSent = false
    /// Deliveries of one subscription go out one after the other, in SEQ order.
    let outbox: AsyncStream<Notify>.Continuation
}

/// A subscription as tests see it.
public struct SubscriptionInfo: Sendable, Equatable {
    public let sid: String
    public let service: String
    public let callback: String
    public let timeoutSeconds: Int
    public let nextSeq: Int
}

/// GENA (UPnP eventing) as a Sonos player does it: SUBSCRIBE / renew / UNSUBSCRIBE with Sonos SIDs,
/// an initial NOTIFY with the full state, NOTIFY on every change, expiry when not renewed.
enum GENA {
    static let maxTimeout = 86_400
    static let defaultTimeout = 3_600

    // MARK: SUBSCRIBE / UNSUBSCRIBE

    static func handle(core: HouseholdCore, player i: Int, service: UPnPService, request: HTTPRequest) -> HTTPResponse {
        let h = request.headers
        let sid = h.first(name: "SID"), callback = h.first(name: "CALLBACK"), nt = h.first(name: "NT")
        switch request.method {
        case .SUBSCRIBE:
            if sid != nil {
                // Renewal: SID only. SID together with CALLBACK or NT is a bad request.
                if callback != nil || nt != nil { return .status(.badRequest) }
                return renew(core: core, player: i, service: service, sid: sid!, timeout: h.first(name: "TIMEOUT"))
            }
            guard nt == "upnp:event", let urls = callback.map(parseCallback), let url = urls.first else {
                return .status(.preconditionFailed)
            }
            guard isLoopback(url) else {
                core.mutate { m in
                    m.players[i].violations.append(Violation(action: "SUBSCRIBE", reason:
                        "callback \(url) is not a loopback address (refused: network-safety rule)"))
                }
                return .status(.preconditionFailed)
            }
            return subscribe(core: core, player: i, service: service, callback: url, timeout: h.first(name: "TIMEOUT"))
        case .UNSUBSCRIBE:
            guard let sid else { return .status(.preconditionFailed) }
            if callback != nil || nt != nil { return .status(.badRequest) }
            let removed = core.mutate { m -> Bool in
                guard let sub = m.players[i].subscriptions[sid], sub.service == service else { return false }
                m.players[i].subscriptions[sid] = nil
                sub.outbox.finish()
                return true
            }
            return removed ? HTTPResponse(status: .ok) : .status(.preconditionFailed)
        default:
            return .status(.methodNotAllowed)
        }
    }

    private static func grantedTimeout(_ header: String?) -> Int {
        guard let header = header?.trimmingCharacters(in: .whitespaces).lowercased(), header.hasPrefix("second-") else {
            return defaultTimeout
        }
        let value = header.dropFirst("second-".count)
        if value == "infinite" { return maxTimeout }
        guard let n = Int(value), n > 0 else { return defaultTimeout }
        return min(n, maxTimeout)
    }

    private static func subscribe(core: HouseholdCore, player i: Int, service: UPnPService, callback: String,
                                  timeout header: String?) -> HTTPResponse {
        let timeout = grantedTimeout(header)
        let (stream, outbox) = AsyncStream.makeStream(of: Notify.self)
        let sid = core.mutate { m -> String in
            m.sidCounter += 1
            let sid = "uuid:\(m.players[i].uuid)_sub\(String(format: "%010d", m.sidCounter))"
            m.players[i].subscriptions[sid] = Subscription(
                sid: sid, service: service, callback: callback, timeout: timeout,
                expires: core.now.advanced(by: .seconds(timeout)), outbox: outbox)
            return sid
        }
        Task {
            for await notify in stream { await deliver(core: core, notify) }
        }
        var response = HTTPResponse(status: .ok)
        response.headers.add(name: "SID", value: sid)
        response.headers.add(name: "TIMEOUT", value: "Second-\(timeout)")
        // The initial event goes out once the SUBSCRIBE response is on the wire.
        response.afterSend = {
            core.mutate { m in
                guard var sub = m.players[i].subscriptions[sid] else { return }
                sub.initialSent = true
                m.players[i].subscriptions[sid] = sub
                send(&m, player: i, sid: sid, body: eventBody(m, player: i, service: service, now: core.now))
            }
        }
        return response
    }

    private static func renew(core: HouseholdCore, player i: Int, service: UPnPService, sid: String,
                              timeout header: String?) -> HTTPResponse {
        let timeout = grantedTimeout(header)
        let ok = core.mutate { m -> Bool in
            guard var sub = m.players[i].subscriptions[sid], sub.service == service, sub.expires > core.now else { return false }
            sub.timeout = timeout
            sub.expires = core.now.advanced(by: .seconds(timeout))
            m.players[i].subscriptions[sid] = sub
            return true
        }
        guard ok else { return .status(.preconditionFailed) }
        var response = HTTPResponse(status: .ok)
        response.headers.add(name: "SID", value: sid)
        response.headers.add(name: "TIMEOUT", value: "Second-\(timeout)")
        return response
    }

    /// `<http://a/><http://b/>` → ["http://a/", "http://b/"] (http only, as UPnP requires).
    static func parseCallback(_ header: String) -> [String] {
        var urls: [String] = []
        var rest = Substring(header)
        while let open = rest.firstIndex(of: "<"), let close = rest[open...].firstIndex(of: ">") {
            let url = String(rest[rest.index(after: open)..<close])
            if url.lowercased().hasPrefix("http://") { urls.append(url) }
            rest = rest[rest.index(after: close)...]
        }
        return urls
    }

    /// Only loopback targets are ever contacted (hard network-safety rule of the test lab).
    static func isLoopback(_ url: String) -> Bool {
        guard let host = URLComponents(string: url)?.host?.lowercased() else { return false }
        return host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    // MARK: Sending

    /// Drops expired subscriptions, then sends every modelled service whose event body changed.
    static func flush(_ m: inout HouseholdModel, now: ContinuousClock.Instant) {
        // The household's ZoneGroupState is the same document for every player and costs O(players²)
        // to build and escape: done once per change, not once per player (32 players cost ~55 ms a change).
        var zoneGroupState: String?
        for i in m.players.indices {
            for (sid, sub) in m.players[i].subscriptions where sub.expires <= now {
                sub.outbox.finish()
                m.players[i].subscriptions[sid] = nil
            }
            guard m.players[i].online else { continue }
            for service in UPnPService.allCases where service.isModelled {
                if service == .zoneGroupTopology, zoneGroupState == nil { zoneGroupState = xmlEscape(m.zoneGroupState()) }
                let variables = service == .avTransport ? avTransportVariables(m, player: i, now: now) : []
                let body = service == .avTransport ? propertySet([("LastChange", avTransportLastChange(variables))])
                    : eventBody(m, player: i, service: service, now: now, zoneGroupState: zoneGroupState)
                guard m.players[i].lastEventBodies[service] != body else { continue }
                m.players[i].lastEventBodies[service] = body
                var changeBody = body
                if service == .avTransport {
                    if m.quirks.partialEvents {
                        let before = m.players[i].lastAVTVariables
                        changeBody = propertySet([("LastChange", avTransportLastChange(variables.filter { before[$0.0] != $0.1 }))])
                    }
                    m.players[i].lastAVTVariables = Dictionary(variables, uniquingKeysWith: { $1 })
                } else if service == .renderingControl {
                    // Real RenderingControl events carry only what changed (node-sonos-ts#77).
                    let elements = lastChangeElements(renderingControlLastChange(m.players[i]))
                    if m.quirks.partialEvents {
                        let before = m.players[i].lastRCElements
                        changeBody = propertySet([("LastChange", "<Event xmlns=\"urn:schemas-upnp-org:metadata-1-0/RCS/\">"
                            + "<InstanceID val=\"0\">" + elements.filter { before[$0.key] != $0.element }.map(\.element).joined()
                            + "</InstanceID></Event>")])
                    }
                    m.players[i].lastRCElements = Dictionary(elements.map { ($0.key, $0.element) }, uniquingKeysWith: { $1 })
                }
                for (sid, sub) in m.players[i].subscriptions where sub.service == service && sub.initialSent {
                    send(&m, player: i, sid: sid, body: changeBody)
                }
            }
        }
    }

    static func send(_ m: inout HouseholdModel, player i: Int, sid: String, body: String) {
        guard var sub = m.players[i].subscriptions[sid] else { return }
        let seq = sub.nextSeq
        sub.nextSeq = seq == Int(UInt32.max) ? 1 : seq + 1  // UPnP: wraps to 1, never back to 0
        m.players[i].subscriptions[sid] = sub
        m.players[i].eventsSent.append(SentEvent(service: sub.service.name, sid: sid, seq: seq, callback: sub.callback,
                                                 body: body, status: nil))
        sub.outbox.yield(Notify(player: i, service: sub.service, sid: sid, seq: seq, callback: sub.callback, body: body))
    }

    static func deliver(core: HouseholdCore, _ n: Notify) async {
        guard core.read({ $0.players[n.player].online }) else { return }
        // A player on an address of its own sends from it, as a real player does (NotifySender).
        let source = core.read { $0.hosts[n.player] }
        if source != "127.0.0.1" {
            let host = URLComponents(string: n.callback).flatMap { c in c.host.map { h in c.port.map { "\(h):\($0)" } ?? h } } ?? ""
            let status = await NotifySender.send(group: core.group, from: source, to: n.callback, headers: [
                ("HOST", host), ("CONTENT-TYPE", "text/xml; charset=\"utf-8\""), ("NT", "upnp:event"),
                ("NTS", "upnp:propchange"), ("SID", n.sid), ("SEQ", String(n.seq)),
            ], body: n.body, timeout: .seconds(3))
            record(core: core, n, status: status)
            return
        }
        var request = HTTPClientRequest(url: n.callback)
        request.method = .RAW(value: "NOTIFY")
        if let c = URLComponents(string: n.callback), let host = c.host {
            request.headers.add(name: "HOST", value: c.port.map { "\(host):\($0)" } ?? host)
        }
        request.headers.add(name: "CONTENT-TYPE", value: "text/xml; charset=\"utf-8\"")
        request.headers.add(name: "NT", value: "upnp:event")
        request.headers.add(name: "NTS", value: "upnp:propchange")
        request.headers.add(name: "SID", value: n.sid)
        request.headers.add(name: "SEQ", value: String(n.seq))
        request.body = .bytes(ByteBuffer(string: n.body))
        var status: Int?
        do {
            let response = try await core.http.execute(request, timeout: .seconds(3))
            _ = try await response.body.collect(upTo: 1 << 20)
            status = Int(response.status.code)
        } catch {
            status = nil
        }
        record(core: core, n, status: status)
    }

    private static func record(core: HouseholdCore, _ n: Notify, status: Int?) {
        core.model.withLock { m in
            if let k = m.players[n.player].eventsSent.lastIndex(where: { $0.sid == n.sid && $0.seq == n.seq }) {
                m.players[n.player].eventsSent[k].status = status
            }
        }
    }

    // MARK: Event bodies

    /// The `<Name channel="…" val="…"/>` elements of a LastChange's instance, keyed by name and channel.
    static func lastChangeElements(_ lastChange: String) -> [(key: String, element: String)] {
        guard let open = lastChange.range(of: "<InstanceID val=\"0\">"),
              let close = lastChange.range(of: "</InstanceID>", range: open.upperBound..<lastChange.endIndex) else { return [] }
        var out: [(key: String, element: String)] = []
        var rest = lastChange[open.upperBound..<close.lowerBound]
        while let end = rest.range(of: "/>") {
            let element = String(rest[..<end.upperBound])
            let name = element.dropFirst().prefix { $0 != " " }
            let channel = element.range(of: "channel=\"").map { element[$0.upperBound...].prefix { $0 != "\"" } } ?? ""
            out.append(("\(name)/\(channel)", element))
            rest = rest[end.upperBound...]
        }
        return out
    }

    /// `leading`: properties already in XML (escaped once for every player), first in the set.
    static func propertySet(leading: String = "", _ properties: [(String, String)]) -> String {
        "<e:propertyset xmlns:e=\"urn:schemas-upnp-org:event-1-0\">" + leading
            + properties.map { "<e:property><\($0.0)>\(xmlEscape($0.1))</\($0.0)></e:property>" }.joined()
            + "</e:propertyset>"
    }

    static func eventBody(_ m: HouseholdModel, player i: Int, service: UPnPService, now: ContinuousClock.Instant,
                          zoneGroupState escaped: String? = nil) -> String {
        switch service {
        case .avTransport: return propertySet([("LastChange", avTransportLastChange(m, player: i, now: now))])
        case .renderingControl: return propertySet([("LastChange", renderingControlLastChange(m.players[i]))])
        case .groupRenderingControl:
            let g = GroupVolume.state(m, coordinator: m.transportOwner(of: i))
            return propertySet([("GroupVolume", String(g.volume)), ("GroupMute", g.mute ? "1" : "0"),
                                ("GroupVolumeChangeable", g.changeable ? "1" : "0")])
        case .zoneGroupTopology:
            let c = m.transportOwner(of: i)
            let state = "<e:property><ZoneGroupState>\(escaped ?? xmlEscape(m.zoneGroupState()))</ZoneGroupState></e:property>"
            return propertySet(leading: state, [
                ("ZoneGroupName", m.roomName(of: c)),
                ("ZoneGroupID", m.players[i].groupID),
                ("ZonePlayerUUIDsInGroup", m.groupMembers(ofCoordinator: c).map { m.players[$0].uuid }.joined(separator: ",")),
                ("MuseHouseholdId", m.householdID),
            ])
        default: return propertySet([])
        }
    }

    /// Every AVTransport state variable of the player's LastChange, in the order Sonos sends them.
    static func avTransportVariables(_ m: HouseholdModel, player i: Int, now: ContinuousClock.Instant) -> [(String, String)] {
        let v = AVTView(m, player: i, now: now)
        return [
            ("TransportState", v.transport.rawValue), ("CurrentPlayMode", v.playMode), ("CurrentCrossfadeMode", m.players[m.transportOwner(of: i)].settings.crossfade ? "1" : "0"),
            ("NumberOfTracks", String(v.numberOfTracks)), ("CurrentTrack", String(v.track)), ("CurrentSection", "0"),
            ("CurrentTrackURI", v.trackURI), ("CurrentTrackDuration", v.trackDuration),
            ("CurrentTrackMetaData", v.trackMetadata), ("r:NextTrackURI", ""), ("r:NextTrackMetaData", ""),
            ("r:EnqueuedTransportURI", ""), ("r:EnqueuedTransportURIMetaData", ""),
            ("PlaybackStorageMedium", v.uri.isEmpty ? "NONE" : "NETWORK"),
            ("AVTransportURI", v.uri), ("AVTransportURIMetaData", v.uriMetadata),
            ("NextAVTransportURI", ""), ("NextAVTransportURIMetaData", ""),
            ("CurrentTransportActions", v.transportActions),
            ("r:CurrentValidPlayModes", "SHUFFLE,REPEAT,REPEAT_ONE,CROSSFADE"),
            ("r:DirectControlClientID", ""), ("r:DirectControlIsSuspended", "0"), ("r:DirectControlAccountID", ""),
            ("TransportStatus", "OK"), ("r:SleepTimerGeneration", "0"), ("r:AlarmRunning", "0"),
            ("r:SnoozeRunning", "0"), ("r:RestartPending", "0"), ("TransportPlaySpeed", "1"),
            ("CurrentMediaDuration", "NOT_IMPLEMENTED"), ("RecordStorageMedium", "NOT_IMPLEMENTED"),
            ("PossiblePlaybackStorageMedia", "NONE, NETWORK"), ("PossibleRecordStorageMedia", "NOT_IMPLEMENTED"),
            ("RecordMediumWriteStatus", "NOT_IMPLEMENTED"), ("CurrentRecordQualityMode", "NOT_IMPLEMENTED"),
            ("PossibleRecordQualityModes", "NOT_IMPLEMENTED"),
        ]
    }

    static func avTransportLastChange(_ m: HouseholdModel, player i: Int, now: ContinuousClock.Instant) -> String {
        avTransportLastChange(avTransportVariables(m, player: i, now: now))
    }

    /// The LastChange document for these variables (all of them, or only the changed ones).
    static func avTransportLastChange(_ variables: [(String, String)]) -> String {
        "<Event xmlns=\"urn:schemas-upnp-org:metadata-1-0/AVT/\" xmlns:r=\"urn:schemas-rinconnetworks-com:metadata-1-0/\">"
            + "<InstanceID val=\"0\">" + variables.map { "<\($0.0) val=\"\(xmlEscape($0.1))\"/>" }.joined()
            + "</InstanceID></Event>"
    }

    static func renderingControlLastChange(_ p: PlayerModel) -> String {
        let mute = p.mute ? "1" : "0"
        return "<Event xmlns=\"urn:schemas-upnp-org:metadata-1-0/RCS/\"><InstanceID val=\"0\">"
            + "<Volume channel=\"Master\" val=\"\(p.volume)\"/><Volume channel=\"LF\" val=\"\(p.channelVolume["LF"] ?? 100)\"/>"
            + "<Volume channel=\"RF\" val=\"\(p.channelVolume["RF"] ?? 100)\"/>"
            + "<Mute channel=\"Master\" val=\"\(mute)\"/><Mute channel=\"LF\" val=\"0\"/><Mute channel=\"RF\" val=\"0\"/>"
            + "<Bass val=\"\(p.settings.bass)\"/><Treble val=\"\(p.settings.treble)\"/>"
            + "<Loudness channel=\"Master\" val=\"\(p.settings.loudness ? 1 : 0)\"/>"
            + "<OutputFixed val=\"\(p.fixedVolume ? 1 : 0)\"/><HeadphoneConnected val=\"0\"/><SpeakerSize val=\"5\"/>"
            + "<SubGain val=\"0\"/><SubCrossover val=\"0\"/><SubPolarity val=\"0\"/><SubEnabled val=\"1\"/>"
            + "<SonarEnabled val=\"0\"/><SonarCalibrationAvailable val=\"0\"/><PresetNameList val=\"FactoryDefaults\"/>"
            + "</InstanceID></Event>"
    }
}

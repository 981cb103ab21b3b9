import FakeSonos
import Foundation
import LabKit
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// The fake Sonos household itself: description, SOAP with faults, GENA, playback, topology.
/// Everything on 127.0.0.1, in-process, in a few seconds.
final class FakeSonosTests: XCTestCase {
    struct Reply {
        let status: Int
        let headers: [String: String]
        let body: String
        func header(_ name: String) -> String? {
            headers.first { $0.key.lowercased() == name.lowercased() }?.value
        }
    }

    func request(_ url: String, method: String = "GET", headers: [String: String] = [:], body: String? = nil) async throws -> Reply {
        var r = URLRequest(url: URL(string: url)!)
        r.httpMethod = method
        r.timeoutInterval = 5
        for (k, v) in headers { r.setValue(v, forHTTPHeaderField: k) }
        if let body { r.httpBody = Data(body.utf8) }
        let (data, response) = try await URLSession.shared.data(for: r)
        let http = response as! HTTPURLResponse
        var h: [String: String] = [:]
        for (k, v) in http.allHeaderFields { h["\(k)"] = "\(v)" }
        return Reply(status: http.statusCode, headers: h, body: String(decoding: data, as: UTF8.self))
    }

    static let paths = ["AVTransport": "/MediaRenderer/AVTransport/Control",
                        "RenderingControl": "/MediaRenderer/RenderingControl/Control",
                        "GroupRenderingControl": "/MediaRenderer/GroupRenderingControl/Control",
                        "ZoneGroupTopology": "/ZoneGroupTopology/Control"]

    func soap(_ p: FakeSonosPlayer, _ service: String, _ action: String, _ args: [(String, String)] = [],
              soapAction: String? = nil) async throws -> Reply {
        let type = "urn:schemas-upnp-org:service:\(service):1"
        let argXML = args.map { "<\($0.0)>\(escape($0.1))</\($0.0)>" }.joined()
        let body = "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
            + "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body><u:\(action) xmlns:u=\"\(type)\">"
            + argXML + "</u:\(action)></s:Body></s:Envelope>"
        return try await request("http://\(p.address)\(Self.paths[service]!)", method: "POST",
                                 headers: ["SOAPACTION": soapAction ?? "\"\(type)#\(action)\"",
                                           "Content-Type": "text/xml; charset=\"utf-8\""], body: body)
    }

    func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    func value(_ tag: String, in xml: String) -> String? {
        guard let a = xml.range(of: "<\(tag)>"), let b = xml.range(of: "</\(tag)>", range: a.upperBound..<xml.endIndex) else {
            return nil
        }
        return String(xml[a.upperBound..<b.lowerBound])
    }

    func fault(_ code: Int) -> String {
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">"
            + "<s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>"
            + "<UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>\(code)</errorCode></UPnPError>"
            + "</detail></s:Fault></s:Body></s:Envelope>"
    }

    /// A PCM WAV of `seconds` of silence, 16-bit mono 16 kHz.
    func wav(seconds: Double) -> Data {
        let rate = 16_000, samples = Int(Double(rate) * seconds), dataSize = samples * 2
        var d = Data()
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { d.append(contentsOf: $0) } }
        func u16(_ v: Int) { withUnsafeBytes(of: UInt16(v).littleEndian) { d.append(contentsOf: $0) } }
        d.append(contentsOf: Array("RIFF".utf8)); u32(36 + dataSize); d.append(contentsOf: Array("WAVE".utf8))
        d.append(contentsOf: Array("fmt ".utf8)); u32(16); u16(1); u16(1); u32(rate); u32(rate * 2); u16(2); u16(16)
        d.append(contentsOf: Array("data".utf8)); u32(dataSize); d.append(Data(count: dataSize))
        return d
    }

    // MARK: -

    func testDeviceDescriptionHasTheSonosShape() async throws {
        let household = try await FakeSonosHousehold.start(players: [.init(name: "Kitchen", model: .one), .init(name: "Office")])
        addTeardownBlock { await household.stop() }
        let kitchen = household.players[0]
        XCTAssertNotNil(kitchen.uuid.range(of: "^RINCON_[0-9A-F]{12}01400$", options: .regularExpression), kitchen.uuid)
        XCTAssertNotEqual(kitchen.uuid, household.players[1].uuid)
        XCTAssertEqual(kitchen.location, "http://127.0.0.1:\(kitchen.port)/xml/device_description.xml")

        let reply = try await request(kitchen.location)
        XCTAssertEqual(reply.status, 200)
        XCTAssertEqual(reply.header("Content-Type"), "text/xml; charset=\"utf-8\"")
        XCTAssertTrue(reply.header("Server")?.hasSuffix("(ZPS13)") ?? false, reply.header("Server") ?? "no Server header")
        let xml = reply.body
        for needle in ["<deviceType>urn:schemas-upnp-org:device:ZonePlayer:1</deviceType>", "<roomName>Kitchen</roomName>",
                       "<modelName>Sonos One</modelName>", "<modelNumber>S13</modelNumber>", "<UDN>uuid:\(kitchen.uuid)</UDN>",
                       "<UDN>uuid:\(kitchen.uuid)_MR</UDN>", "<UDN>uuid:\(kitchen.uuid)_MS</UDN>",
                       "<controlURL>/ZoneGroupTopology/Control</controlURL><eventSubURL>/ZoneGroupTopology/Event</eventSubURL>",
                       "<controlURL>/MediaRenderer/AVTransport/Control</controlURL><eventSubURL>/MediaRenderer/AVTransport/Event</eventSubURL>",
                       "<controlURL>/MediaRenderer/RenderingControl/Control</controlURL>",
                       "<controlURL>/MediaRenderer/GroupRenderingControl/Control</controlURL>",
                       "<serviceType>urn:schemas-sonos-com:service:Queue:1</serviceType>",
                       "<deviceType>urn:schemas-upnp-org:device:MediaRenderer:1</deviceType>"] {
            XCTAssertTrue(xml.contains(needle), "missing \(needle)")
        }
        // Well-formed XML.
        XCTAssertTrue(XMLParser(data: Data(xml.utf8)).parse())
        let missing = try await request("http://\(kitchen.address)/xml/nothing.xml")
        XCTAssertEqual(missing.status, 404)
    }

    func testSOAPActionsAndFaultsAsSonosSendsThem() async throws {
        let household = try await FakeSonosHousehold.start(players: [
            .init(name: "Kitchen"), .init(name: "Port", fixedVolume: true)])
        addTeardownBlock { await household.stop() }
        let kitchen = household.players[0], port = household.players[1]

        let set = try await soap(kitchen, "RenderingControl", "SetVolume",
                                 [("InstanceID", "0"), ("Channel", "Master"), ("DesiredVolume", "33")])
        XCTAssertEqual(set.status, 200)
        XCTAssertEqual(set.body, "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
                       + "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>"
                       + "<u:SetVolumeResponse xmlns:u=\"urn:schemas-upnp-org:service:RenderingControl:1\"></u:SetVolumeResponse>"
                       + "</s:Body></s:Envelope>")
        XCTAssertEqual(kitchen.volume, 33)
        let get = try await soap(kitchen, "RenderingControl", "GetVolume", [("InstanceID", "0"), ("Channel", "Master")])
        XCTAssertEqual(value("CurrentVolume", in: get.body), "33")

        // Wrong SOAPACTION → 401, exact fault body.
        let wrong = try await soap(kitchen, "RenderingControl", "GetVolume", [("InstanceID", "0"), ("Channel", "Master")],
                                   soapAction: "\"urn:schemas-upnp-org:service:AVTransport:1#GetVolume\"")
        XCTAssertEqual(wrong.status, 500)
        XCTAssertEqual(wrong.body, fault(401))
        let unknown = try await soap(kitchen, "AVTransport", "SelfDestruct", [("InstanceID", "0")])
        XCTAssertEqual(unknown.body, fault(401))

        let badMode = try await soap(kitchen, "AVTransport", "SetPlayMode", [("InstanceID", "0"), ("NewPlayMode", "LOUD")])
        XCTAssertEqual(badMode.status, 500)
        XCTAssertEqual(badMode.body, fault(712))
        let mode = try await soap(kitchen, "AVTransport", "SetPlayMode", [("InstanceID", "0"), ("NewPlayMode", "SHUFFLE")])
        XCTAssertEqual(mode.status, 200)
        XCTAssertEqual(kitchen.playMode, "SHUFFLE")

        // Injected fault, once.
        kitchen.failNext(action: "GetTransportInfo", upnpCode: 714)
        let failed = try await soap(kitchen, "AVTransport", "GetTransportInfo", [("InstanceID", "0")])
        XCTAssertEqual(failed.body, fault(714))
        let fine = try await soap(kitchen, "AVTransport", "GetTransportInfo", [("InstanceID", "0")])
        XCTAssertEqual(value("CurrentTransportState", in: fine.body), "STOPPED")

        // Fixed volume: 501 and a recorded violation.
        XCTAssertTrue(port.outputFixed)
        let fixed = try await soap(port, "RenderingControl", "SetVolume",
                                   [("InstanceID", "0"), ("Channel", "Master"), ("DesiredVolume", "10")])
        XCTAssertEqual(fixed.body, fault(501))
        XCTAssertEqual(port.violations.map(\.action), ["SetVolume"])
        let fixedQuery = try await soap(port, "RenderingControl", "GetOutputFixed", [("InstanceID", "0")])
        XCTAssertEqual(value("CurrentFixed", in: fixedQuery.body), "1")

        XCTAssertEqual(kitchen.soapLog.map(\.action),
                       ["SetVolume", "GetVolume", "GetVolume", "SelfDestruct", "SetPlayMode", "SetPlayMode",
                        "GetTransportInfo", "GetTransportInfo"])
        XCTAssertEqual(kitchen.soapLog[2].faultCode, 401)
        XCTAssertEqual(kitchen.soapLog[0].args["DesiredVolume"], "33")
    }

    func testPriorStatesAndPositionReporting() async throws {
        let household = try await FakeSonosHousehold.start(players: [.init(name: "Kitchen")])
        addTeardownBlock { await household.stop() }
        let kitchen = household.players[0]
        let radio = "x-sonosapi-stream:s12345?sid=254&flags=8224&sn=0"
        kitchen.setState(.radio(uri: radio, metadata: radioMetadata(title: "Radio 1")))
        let media = try await soap(kitchen, "AVTransport", "GetMediaInfo", [("InstanceID", "0")])
        XCTAssertEqual(value("CurrentURI", in: media.body), escape(radio))
        XCTAssertTrue(value("CurrentURIMetaData", in: media.body)?.hasPrefix("&lt;DIDL-Lite") ?? false)
        XCTAssertEqual(value("NrTracks", in: media.body), "1")

        let tracks = (1...5).map { QueueTrack(uri: "x-file-cifs://nas/music/\($0).flac", title: "Song \($0)", duration: 200) }
        kitchen.setState(.queue(tracks: tracks, track: 3, position: 42), transport: .playing)
        try await Task.sleep(for: .milliseconds(1100))
        let pos = try await soap(kitchen, "AVTransport", "GetPositionInfo", [("InstanceID", "0")])
        XCTAssertEqual(value("Track", in: pos.body), "3")
        XCTAssertEqual(value("TrackDuration", in: pos.body), "0:03:20")
        XCTAssertEqual(value("TrackURI", in: pos.body), "x-file-cifs://nas/music/3.flac")
        XCTAssertEqual(value("RelTime", in: pos.body), "0:00:43", "position advances with the wall clock while PLAYING")
        let info = try await soap(kitchen, "AVTransport", "GetMediaInfo", [("InstanceID", "0")])
        XCTAssertEqual(value("CurrentURI", in: info.body), "x-rincon-queue:\(kitchen.uuid)#0")
        XCTAssertEqual(value("NrTracks", in: info.body), "5")

        // Seek TRACK_NR + REL_TIME, as a restore does.
        _ = try await soap(kitchen, "AVTransport", "Pause", [("InstanceID", "0")])
        XCTAssertEqual(kitchen.transportState, .pausedPlayback)
        _ = try await soap(kitchen, "AVTransport", "Seek", [("InstanceID", "0"), ("Unit", "TRACK_NR"), ("Target", "2")])
        _ = try await soap(kitchen, "AVTransport", "Seek", [("InstanceID", "0"), ("Unit", "REL_TIME"), ("Target", "0:01:05")])
        XCTAssertEqual(kitchen.currentTrack, 2)
        XCTAssertEqual(kitchen.position, 65, accuracy: 0.01)
        let badSeek = try await soap(kitchen, "AVTransport", "Seek", [("InstanceID", "0"), ("Unit", "TRACK_NR"), ("Target", "9")])
        XCTAssertEqual(badSeek.body, fault(711))

        kitchen.setState(.cloudQueue(id: "abc"))
        XCTAssertEqual(kitchen.avTransportURI, "x-sonos-vli:\(kitchen.uuid):2,spotify:abc")
        kitchen.setState(.tv)
        XCTAssertEqual(kitchen.avTransportURI, "x-sonos-htastream:\(kitchen.uuid):spdif")
    }

    func testGENASubscribeNotifyRenewAndExpiry() async throws {
        let household = try await FakeSonosHousehold.start(players: [.init(name: "Kitchen")])
        let sink = try await LoopbackRecorder.start()
        addTeardownBlock { await household.stop(); await sink.stop() }
        let kitchen = household.players[0]
        let events = "http://\(kitchen.address)/MediaRenderer/RenderingControl/Event"

        let sub = try await request(events, method: "SUBSCRIBE",
                                    headers: ["CALLBACK": "<\(sink.url("/rc"))>", "NT": "upnp:event", "TIMEOUT": "Second-300"])
        XCTAssertEqual(sub.status, 200)
        let sid = try XCTUnwrap(sub.header("SID"))
        XCTAssertNotNil(sid.range(of: "^uuid:\(kitchen.uuid)_sub[0-9]{10}$", options: .regularExpression), sid)
        XCTAssertEqual(sub.header("TIMEOUT"), "Second-300")

        // Initial event: SEQ 0 with the full state.
        let first = await sink.waitFor { $0.method == "NOTIFY" }
        let initial = try XCTUnwrap(first.first)
        XCTAssertEqual(initial.path, "/rc")
        XCTAssertEqual(initial.headers["seq"], "0")
        XCTAssertEqual(initial.headers["sid"], sid)
        XCTAssertEqual(initial.headers["nt"], "upnp:event")
        XCTAssertEqual(initial.headers["nts"], "upnp:propchange")
        XCTAssertEqual(initial.headers["content-type"], "text/xml; charset=\"utf-8\"")
        XCTAssertEqual(initial.headers["host"], "127.0.0.1:\(sink.port)")
        XCTAssertTrue(initial.text.hasPrefix("<e:propertyset xmlns:e=\"urn:schemas-upnp-org:event-1-0\"><e:property><LastChange>"
                                             + "&lt;Event xmlns=&quot;urn:schemas-upnp-org:metadata-1-0/RCS/&quot;&gt;"), initial.text)
        XCTAssertTrue(initial.text.contains("&lt;Volume channel=&quot;Master&quot; val=&quot;20&quot;/&gt;"))

        // A change → SEQ 1.
        _ = try await soap(kitchen, "RenderingControl", "SetVolume", [("InstanceID", "0"), ("Channel", "Master"), ("DesiredVolume", "41")])
        let second = await sink.waitFor(2) { $0.method == "NOTIFY" }
        XCTAssertEqual(second.count, 2)
        XCTAssertEqual(second.last?.headers["seq"], "1")
        XCTAssertTrue(second.last?.text.contains("val=&quot;41&quot;") ?? false)

        // Renewal with SID only; SID + CALLBACK is a bad request; unknown SID is 412.
        let renew = try await request(events, method: "SUBSCRIBE", headers: ["SID": sid, "TIMEOUT": "Second-600"])
        XCTAssertEqual(renew.status, 200)
        XCTAssertEqual(renew.header("TIMEOUT"), "Second-600")
        let both = try await request(events, method: "SUBSCRIBE", headers: ["SID": sid, "CALLBACK": "<\(sink.url("/x"))>"])
        XCTAssertEqual(both.status, 400)
        let bogus = try await request(events, method: "SUBSCRIBE", headers: ["SID": "uuid:RINCON_000000000000_sub0000000001"])
        XCTAssertEqual(bogus.status, 412)
        let noNT = try await request(events, method: "SUBSCRIBE", headers: ["CALLBACK": "<\(sink.url("/x"))>"])
        XCTAssertEqual(noNT.status, 412)
        XCTAssertEqual(kitchen.subscriptions.map(\.sid), [sid])

        // UNSUBSCRIBE, then the SID is gone.
        let unsub = try await request(events, method: "UNSUBSCRIBE", headers: ["SID": sid])
        XCTAssertEqual(unsub.status, 200)
        let again = try await request(events, method: "SUBSCRIBE", headers: ["SID": sid])
        XCTAssertEqual(again.status, 412)

        // A subscription that is not renewed expires: no more events, renewal 412.
        let short = try await request("http://\(kitchen.address)/MediaRenderer/AVTransport/Event", method: "SUBSCRIBE",
                                      headers: ["CALLBACK": "<\(sink.url("/avt"))>", "NT": "upnp:event", "TIMEOUT": "Second-1"])
        let shortSID = try XCTUnwrap(short.header("SID"))
        let avtInitial = await sink.waitFor { $0.path == "/avt" }
        XCTAssertTrue(avtInitial.first?.text.contains("&lt;TransportState val=&quot;STOPPED&quot;/&gt;") ?? false)
        try await Task.sleep(for: .milliseconds(1300))
        kitchen.setState(.lineIn)
        let expired = try await request("http://\(kitchen.address)/MediaRenderer/AVTransport/Event", method: "SUBSCRIBE",
                                        headers: ["SID": shortSID])
        XCTAssertEqual(expired.status, 412)
        XCTAssertEqual(sink.requests.filter { $0.path == "/avt" }.count, 1)
        XCTAssertTrue(kitchen.subscriptions.isEmpty)
    }

    func testClipPlaybackFetchesMeasuresAndStops() async throws {
        let household = try await FakeSonosHousehold.start(players: [.init(name: "Kitchen")])
        let clip = wav(seconds: 0.6)
        let sink = try await LoopbackRecorder.start(routes: ["/clip.wav": .init(contentType: "audio/wav", body: clip)])
        addTeardownBlock { await household.stop(); await sink.stop() }
        let kitchen = household.players[0]
        _ = try await request("http://\(kitchen.address)/MediaRenderer/AVTransport/Event", method: "SUBSCRIBE",
                              headers: ["CALLBACK": "<\(sink.url("/avt"))>", "NT": "upnp:event", "TIMEOUT": "Second-60"])
        _ = await sink.waitFor { $0.path == "/avt" }

        let set = try await soap(kitchen, "AVTransport", "SetAVTransportURI",
                                 [("InstanceID", "0"), ("CurrentURI", sink.url("/clip.wav")), ("CurrentURIMetaData", "")])
        XCTAssertEqual(set.status, 200)
        let play = try await soap(kitchen, "AVTransport", "Play", [("InstanceID", "0"), ("Speed", "1")])
        XCTAssertEqual(play.status, 200)
        let playing = await kitchen.waitUntil(timeout: 2) { $0.transportState == .playing }
        XCTAssertTrue(playing)
        let fetched = try XCTUnwrap(kitchen.fetchedClips.first)
        XCTAssertEqual(fetched.bytes, clip.count)
        XCTAssertEqual(fetched.duration ?? 0, 0.6, accuracy: 0.001)
        XCTAssertNil(fetched.error)
        XCTAssertTrue(sink.requests(method: "GET").first?.headers["user-agent"]?.contains("Sonos") ?? false)
        let stopped = await kitchen.waitUntil(timeout: 3) { $0.transportState == .stopped }
        XCTAssertTrue(stopped)
        // Initial STOPPED, STOPPED with the new URI, then the clip plays through.
        let states = await sink.waitFor(5) { $0.path == "/avt" }.compactMap { r -> String? in
            r.text.range(of: "TransportState val=&quot;[A-Z_]+", options: .regularExpression).map {
                String(r.text[$0].dropFirst("TransportState val=&quot;".count))
            }
        }
        XCTAssertEqual(states, ["STOPPED", "STOPPED", "TRANSITIONING", "PLAYING", "STOPPED"])

        // An unreachable clip: STOPPED, recorded.
        _ = try await soap(kitchen, "AVTransport", "SetAVTransportURI",
                           [("InstanceID", "0"), ("CurrentURI", sink.url("/missing.wav")), ("CurrentURIMetaData", "")])
        _ = try await soap(kitchen, "AVTransport", "Play", [("InstanceID", "0"), ("Speed", "1")])
        let failed = await kitchen.waitUntil(timeout: 2) { $0.fetchedClips.count == 2 }
        XCTAssertTrue(failed)
        XCTAssertNotNil(kitchen.fetchedClips.last?.error)
        XCTAssertEqual(kitchen.transportState, .stopped)
    }

    func testGroupsTopologyAndCoordinatorRules() async throws {
        let household = try await FakeSonosHousehold.start(players: [
            .init(name: "Kitchen"), .init(name: "Office"), .init(name: "Surround", invisibleSatelliteOf: "Kitchen")])
        let sink = try await LoopbackRecorder.start()
        addTeardownBlock { await household.stop(); await sink.stop() }
        let kitchen = household.players[0], office = household.players[1], surround = household.players[2]
        _ = try await request("http://\(office.address)/ZoneGroupTopology/Event", method: "SUBSCRIBE",
                              headers: ["CALLBACK": "<\(sink.url("/zgt"))>", "NT": "upnp:event", "TIMEOUT": "Second-60"])
        _ = await sink.waitFor { $0.path == "/zgt" }

        // Office joins Kitchen the way a controller does it.
        let join = try await soap(office, "AVTransport", "SetAVTransportURI",
                                  [("InstanceID", "0"), ("CurrentURI", "x-rincon:\(kitchen.uuid)"), ("CurrentURIMetaData", "")])
        XCTAssertEqual(join.status, 200)
        XCTAssertEqual(office.coordinatorUUID, kitchen.uuid)
        XCTAssertFalse(office.isCoordinator)
        let state = try await soap(office, "ZoneGroupTopology", "GetZoneGroupState")
        let zgs = try XCTUnwrap(value("ZoneGroupState", in: state.body))
        XCTAssertTrue(zgs.hasPrefix("&lt;ZoneGroupState&gt;&lt;ZoneGroups&gt;&lt;ZoneGroup Coordinator=&quot;\(kitchen.uuid)&quot;"), zgs)
        let plain = household.zoneGroupState
        XCTAssertEqual(plain.components(separatedBy: "<ZoneGroup ").count - 1, 1)
        XCTAssertTrue(plain.contains("<ZoneGroupMember UUID=\"\(office.uuid)\" Location=\"\(office.location)\" ZoneName=\"Office\""))
        XCTAssertTrue(plain.contains("<Satellite UUID=\"\(surround.uuid)\""))
        XCTAssertTrue(plain.contains("ZoneName=\"Kitchen\" Icon=\"x-rincon-roomicon:living\" Configuration=\"1\" Invisible=\"1\""))
        let topologyEvent = await sink.waitFor(2) { $0.path == "/zgt" }
        XCTAssertEqual(topologyEvent.last?.headers["seq"], "1")
        XCTAssertTrue(topologyEvent.last?.text.contains("<e:property><ZoneGroupState>&lt;ZoneGroupState&gt;") ?? false)

        // Members mirror the coordinator; transport commands on them are 800 and violations.
        kitchen.setState(.lineIn, transport: .playing)
        XCTAssertEqual(office.transportState, .playing)
        XCTAssertEqual(office.avTransportURI, "x-rincon:\(kitchen.uuid)")
        let memberPlay = try await soap(office, "AVTransport", "Pause", [("InstanceID", "0")])
        XCTAssertEqual(memberPlay.body, fault(800))
        XCTAssertEqual(office.violations.map(\.action), ["Pause"])
        let memberGroupVolume = try await soap(office, "GroupRenderingControl", "GetGroupVolume", [("InstanceID", "0")])
        XCTAssertEqual(memberGroupVolume.body, fault(800))

        // Group volume on the coordinator scales the members.
        kitchen.volume = 20
        office.volume = 40
        _ = try await soap(kitchen, "GroupRenderingControl", "SnapshotGroupVolume", [("InstanceID", "0")])
        _ = try await soap(kitchen, "GroupRenderingControl", "SetGroupVolume", [("InstanceID", "0"), ("DesiredVolume", "60")])
        XCTAssertEqual([kitchen.volume, office.volume], [40, 80])
        let gv = try await soap(kitchen, "GroupRenderingControl", "GetGroupVolume", [("InstanceID", "0")])
        XCTAssertEqual(value("CurrentVolume", in: gv.body), "60")

        // Leaving.
        let leave = try await soap(office, "AVTransport", "BecomeCoordinatorOfStandaloneGroup", [("InstanceID", "0")])
        XCTAssertEqual(leave.status, 200)
        XCTAssertTrue(office.isCoordinator)
        XCTAssertEqual(household.zoneGroupState.components(separatedBy: "<ZoneGroup ").count - 1, 2)
        household.join(office, to: kitchen)
        XCTAssertEqual(office.coordinatorUUID, kitchen.uuid)
        household.leave(office)
        XCTAssertTrue(office.isCoordinator)

        // A member pointed at a URI of its own leaves the group, as a real one does: a violation.
        household.join(office, to: kitchen)
        let own = try await soap(office, "AVTransport", "SetAVTransportURI",
                                 [("InstanceID", "0"), ("CurrentURI", "x-rincon-stream:\(office.uuid)"), ("CurrentURIMetaData", "")])
        XCTAssertEqual(own.status, 200)
        XCTAssertTrue(office.isCoordinator)
        XCTAssertEqual(office.violations.last?.action, "SetAVTransportURI")
        // Invisible satellites never take transport commands.
        let satellite = try await soap(surround, "AVTransport", "Play", [("InstanceID", "0"), ("Speed", "1")])
        XCTAssertEqual(satellite.body, fault(800))
    }

    func testOfflineSlowAndBack() async throws {
        let household = try await FakeSonosHousehold.start(players: [.init(name: "Kitchen")])
        addTeardownBlock { await household.stop() }
        let kitchen = household.players[0]
        await kitchen.goOffline()
        do {
            _ = try await request(kitchen.location)
            XCTFail("an offline player must not answer")
        } catch {}
        try await kitchen.comeBack()
        let back = try await request(kitchen.location)
        XCTAssertEqual(back.status, 200)
        // A reboot counts in BootSeq (topology and SSDP), a network outage does not.
        XCTAssertEqual(kitchen.bootSeq, 42)
        await kitchen.goOffline()
        try await kitchen.comeBack(rebooted: true)
        XCTAssertEqual(kitchen.bootSeq, 43)
        XCTAssertTrue(household.zoneGroupState.contains("BootSeq=\"43\""), household.zoneGroupState)

        kitchen.respondSlowly(seconds: 0.5)
        let start = Date()
        _ = try await request(kitchen.location)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.45)
        kitchen.respondSlowly(seconds: 0)
    }

    // MARK: - Real players' quirks (each switch by itself)

    /// The TransportState values of every AVTransport event the sink got, and the event bodies.
    func avtEvents(_ sink: LoopbackRecorder, path: String = "/avt") -> [String] {
        sink.requests.filter { $0.path == path }.map(\.text)
    }

    func testPartialEventsCarryOnlyWhatChanged() async throws {
        let household = try await FakeSonosHousehold.start(players: [.init(name: "Kitchen")],
                                                           quirks: FakeSonosQuirks(partialEvents: true))
        let sink = try await LoopbackRecorder.start()
        addTeardownBlock { await household.stop(); await sink.stop() }
        let kitchen = household.players[0]
        kitchen.setState(.lineIn, transport: .playing)
        _ = try await request("http://\(kitchen.address)/MediaRenderer/AVTransport/Event", method: "SUBSCRIBE",
                              headers: ["CALLBACK": "<\(sink.url("/avt"))>", "NT": "upnp:event", "TIMEOUT": "Second-60"])
        _ = await sink.waitFor { $0.path == "/avt" }
        // The initial event is complete: the URI is there.
        let initial = try XCTUnwrap(avtEvents(sink).first)
        XCTAssertTrue(initial.contains("AVTransportURI val=&quot;x-rincon-stream:\(kitchen.uuid)&quot;"), initial)
        XCTAssertTrue(initial.contains("TransportState val=&quot;PLAYING&quot;"), initial)

        let pause = try await soap(kitchen, "AVTransport", "Pause", [("InstanceID", "0")])
        XCTAssertEqual(pause.status, 200)
        let events = await sink.waitFor(2) { $0.path == "/avt" }
        XCTAssertEqual(events.count, 2)
        let change = try XCTUnwrap(events.last?.text)
        XCTAssertTrue(change.contains("&lt;TransportState val=&quot;PAUSED_PLAYBACK&quot;/&gt;"), change)
        for absent in ["AVTransportURI", "CurrentTrackURI", "CurrentPlayMode", "NumberOfTracks"] {
            XCTAssertFalse(change.contains(absent), "\(absent) did not change, yet it is in the event: \(change)")
        }
        XCTAssertEqual(events.last?.headers["seq"], "1")

        // A new URI: the URI variables come, the unchanged transport state does not.
        _ = try await soap(kitchen, "AVTransport", "SetAVTransportURI", [("InstanceID", "0"),
            ("CurrentURI", "x-sonosapi-stream:s12345?sid=254&flags=8224&sn=0"), ("CurrentURIMetaData", "")])
        let third = await sink.waitFor(3) { $0.path == "/avt" }
        let uriChange = try XCTUnwrap(third.last?.text)
        XCTAssertTrue(uriChange.contains("AVTransportURI val=&quot;x-sonosapi-stream:s12345"), uriChange)
        XCTAssertTrue(uriChange.contains("TransportState val=&quot;STOPPED&quot;"), uriChange)

        // RenderingControl: a mute change carries the mute alone.
        _ = try await request("http://\(kitchen.address)/MediaRenderer/RenderingControl/Event", method: "SUBSCRIBE",
                              headers: ["CALLBACK": "<\(sink.url("/rc"))>", "NT": "upnp:event", "TIMEOUT": "Second-60"])
        let rcInitial = await sink.waitFor { $0.path == "/rc" }
        XCTAssertTrue(rcInitial.first?.text.contains("Volume channel=&quot;Master&quot;") ?? false)
        _ = try await soap(kitchen, "RenderingControl", "SetMute", [("InstanceID", "0"), ("Channel", "Master"), ("DesiredMute", "1")])
        let rc = await sink.waitFor(2) { $0.path == "/rc" }
        XCTAssertEqual(rc.last?.text, "<e:propertyset xmlns:e=\"urn:schemas-upnp-org:event-1-0\"><e:property><LastChange>"
            + "&lt;Event xmlns=&quot;urn:schemas-upnp-org:metadata-1-0/RCS/&quot;&gt;&lt;InstanceID val=&quot;0&quot;&gt;"
            + "&lt;Mute channel=&quot;Master&quot; val=&quot;1&quot;/&gt;&lt;/InstanceID&gt;&lt;/Event&gt;"
            + "</LastChange></e:property></e:propertyset>")
    }

    func testMemberReportsTheGroupStreamAndPlaying() async throws {
        let household = try await FakeSonosHousehold.start(players: [.init(name: "Kitchen"), .init(name: "Office")],
                                                           quirks: FakeSonosQuirks(memberReportsCoordinator: true))
        addTeardownBlock { await household.stop() }
        let kitchen = household.players[0], office = household.players[1]
        household.join(office, to: kitchen)
        kitchen.setState(.queue(tracks: [QueueTrack(uri: "http://music/1.mp3", title: "One")], track: 1, position: 10),
                         transport: .pausedPlayback)
        XCTAssertEqual(office.coordinatorUUID, kitchen.uuid)

        let info = try await soap(office, "AVTransport", "GetTransportInfo", [("InstanceID", "0")])
        XCTAssertEqual(value("CurrentTransportState", in: info.body), "PLAYING", "a member plays the group stream")
        let own = try await soap(kitchen, "AVTransport", "GetTransportInfo", [("InstanceID", "0")])
        XCTAssertEqual(value("CurrentTransportState", in: own.body), "PAUSED_PLAYBACK")
        let position = try await soap(office, "AVTransport", "GetPositionInfo", [("InstanceID", "0")])
        XCTAssertEqual(value("TrackURI", in: position.body), "x-rincon:\(kitchen.uuid)")
        XCTAssertEqual(value("TrackMetaData", in: position.body), "NOT_IMPLEMENTED")
        XCTAssertEqual(value("RelTime", in: position.body), "NOT_IMPLEMENTED")
        XCTAssertEqual(value("TrackDuration", in: position.body), "NOT_IMPLEMENTED")
        let media = try await soap(office, "AVTransport", "GetMediaInfo", [("InstanceID", "0")])
        XCTAssertEqual(value("CurrentURI", in: media.body), "x-rincon:\(kitchen.uuid)")
        XCTAssertEqual(value("NrTracks", in: media.body), "1")
        XCTAssertEqual(office.transportState, .playing)
    }

    func testRealFaultCodes() async throws {
        let household = try await FakeSonosHousehold.start(players: [.init(name: "Kitchen"), .init(name: "Office")],
                                                           quirks: FakeSonosQuirks(realFaultCodes: true))
        addTeardownBlock { await household.stop() }
        let kitchen = household.players[0], office = household.players[1]
        household.join(office, to: kitchen)
        let seek = try await soap(office, "AVTransport", "Seek", [("InstanceID", "0"), ("Unit", "REL_TIME"), ("Target", "0:00:05")])
        XCTAssertEqual(seek.body, fault(701))
        let mode = try await soap(office, "AVTransport", "SetPlayMode", [("InstanceID", "0"), ("NewPlayMode", "SHUFFLE")])
        XCTAssertEqual(mode.body, fault(712))
        let group = try await soap(office, "GroupRenderingControl", "GetGroupVolume", [("InstanceID", "0")])
        XCTAssertEqual(group.body, fault(701))
        XCTAssertEqual(office.violations.map(\.action), ["Seek", "SetPlayMode", "GetGroupVolume"])
        // Transport commands other than these stay 800 on a member.
        let pause = try await soap(office, "AVTransport", "Pause", [("InstanceID", "0")])
        XCTAssertEqual(pause.body, fault(800))

        // SetPlayMode on a coordinator: 712 without an active queue, fine with one.
        kitchen.setState(.radio(uri: "x-sonosapi-stream:s1?sid=254", metadata: radioMetadata(title: "R")))
        let radio = try await soap(kitchen, "AVTransport", "SetPlayMode", [("InstanceID", "0"), ("NewPlayMode", "REPEAT_ALL")])
        XCTAssertEqual(radio.body, fault(712))
        kitchen.setState(.queue(tracks: [QueueTrack(uri: "http://music/1.mp3")], track: 1, position: 0))
        let queue = try await soap(kitchen, "AVTransport", "SetPlayMode", [("InstanceID", "0"), ("NewPlayMode", "REPEAT_ALL")])
        XCTAssertEqual(queue.status, 200)
        XCTAssertEqual(kitchen.playMode, "REPEAT_ALL")
        XCTAssertTrue(kitchen.violations.isEmpty, "\(kitchen.violations)")
    }

    func testZoneGroupStateRefusedOnLargeHouseholdsTopologyInEvents() async throws {
        let household = try await FakeSonosHousehold.start(
            players: [.init(name: "Kitchen"), .init(name: "Office"), .init(name: "Bedroom")],
            quirks: FakeSonosQuirks(zoneGroupStateLimit: 2))
        let sink = try await LoopbackRecorder.start()
        addTeardownBlock { await household.stop(); await sink.stop() }
        let kitchen = household.players[0]
        let state = try await soap(kitchen, "ZoneGroupTopology", "GetZoneGroupState")
        XCTAssertEqual(state.status, 500)
        XCTAssertEqual(state.body, fault(501))
        let attributes = try await soap(kitchen, "ZoneGroupTopology", "GetZoneGroupAttributes")
        XCTAssertEqual(value("CurrentZoneGroupName", in: attributes.body), "Kitchen")
        // The topology still comes, complete, in the ZoneGroupTopology event.
        _ = try await request("http://\(kitchen.address)/ZoneGroupTopology/Event", method: "SUBSCRIBE",
                              headers: ["CALLBACK": "<\(sink.url("/zgt"))>", "NT": "upnp:event", "TIMEOUT": "Second-60"])
        let zgtEvents = await sink.waitFor { $0.path == "/zgt" }
        let event = try XCTUnwrap(zgtEvents.first?.text)
        for p in household.players {
            XCTAssertTrue(event.contains("UUID=&amp;quot;\(p.uuid)&amp;quot;") || event.contains("UUID=&quot;\(p.uuid)&quot;"),
                          "\(p.name) missing from the topology event")
        }
        // Small households answer as before.
        let small = try await FakeSonosHousehold.start(players: [.init(name: "Den")], quirks: FakeSonosQuirks(zoneGroupStateLimit: 2))
        addTeardownBlock { await small.stop() }
        let ok = try await soap(small.players[0], "ZoneGroupTopology", "GetZoneGroupState")
        XCTAssertEqual(ok.status, 200)
    }

    func testModelsStereoPairBoostAndVanishedPlayers() async throws {
        let household = try await FakeSonosHousehold.start(players: [
            .init(name: "Living Room"), .init(name: "Living Room R", stereoPairOf: "Living Room"),
            .init(name: "TV Room", model: .beam), .init(name: "Sub", invisibleSatelliteOf: "TV Room"),
            .init(name: "BOOST", model: .boost), .init(name: "Studio", model: .play5)])
        addTeardownBlock { await household.stop() }
        let living = household.players[0], right = household.players[1], tv = household.players[2]
        let boost = household.players[4], studio = household.players[5]

        // One model per player, the same in the description and the Server header.
        let era = try await request(living.location)
        XCTAssertTrue(era.body.contains("<modelNumber>S38</modelNumber>") && era.body.contains("<modelName>Sonos Era 100</modelName>"))
        XCTAssertEqual(era.header("Server"), "Linux UPnP/1.0 Sonos/80.1-55240 (ZPS38)")
        XCTAssertFalse(era.body.contains("HTControl") || era.body.contains("AudioIn"))
        let beam = try await request(tv.location)
        XCTAssertTrue(beam.body.contains("<modelNumber>S14</modelNumber>"))
        XCTAssertTrue(beam.body.contains("<serviceType>urn:schemas-upnp-org:service:HTControl:1</serviceType>"
            + "<serviceId>urn:upnp-org:serviceId:HTControl</serviceId><controlURL>/HTControl/Control</controlURL>"))
        let five = try await request(studio.location)
        XCTAssertTrue(five.body.contains("<controlURL>/AudioIn/Control</controlURL>"))
        XCTAssertFalse(five.body.contains("HTControl"))
        let noAudioIn = try await request("http://\(living.address)/AudioIn/Control", method: "POST", body: "")
        XCTAssertEqual(noAudioIn.status, 404)

        // A Boost has no media devices and answers no AVTransport.
        let bridge = try await request(boost.location)
        XCTAssertTrue(bridge.body.contains("<modelName>Sonos Boost</modelName>"))
        XCTAssertFalse(bridge.body.contains("MediaRenderer"))
        XCTAssertTrue(XMLParser(data: Data(bridge.body.utf8)).parse())
        let avt = try await request("http://\(boost.address)/MediaRenderer/AVTransport/Control", method: "POST",
                                    headers: ["SOAPACTION": "\"urn:schemas-upnp-org:service:AVTransport:1#Play\""], body: "")
        XCTAssertEqual(avt.status, 404)

        // The topology: stereo pair with ChannelMapSet on both (right invisible), the Boost as a bridge.
        let zgs = household.zoneGroupState
        let map = "ChannelMapSet=\"\(living.uuid):LF,LF;\(right.uuid):RF,RF\""
        XCTAssertEqual(zgs.components(separatedBy: map).count - 1, 2, zgs)
        XCTAssertNotNil(zgs.range(of: "<ZoneGroupMember UUID=\"\(right.uuid)\"[^>]*ZoneName=\"Living Room\"[^>]*Invisible=\"1\"",
                                  options: .regularExpression), zgs)
        XCTAssertNil(zgs.range(of: "<ZoneGroupMember UUID=\"\(living.uuid)\"[^>]*Invisible", options: .regularExpression))
        XCTAssertNotNil(zgs.range(of: "<ZoneGroupMember UUID=\"\(boost.uuid)\"[^>]*Invisible=\"1\" IsZoneBridge=\"1\"",
                                  options: .regularExpression), zgs)
        XCTAssertTrue(zgs.contains("<VanishedDevices></VanishedDevices>"))
        // The right speaker follows the left one and takes no transport commands.
        XCTAssertEqual(right.coordinatorUUID, living.uuid)
        let rightPlay = try await soap(right, "AVTransport", "Play", [("InstanceID", "0"), ("Speed", "1")])
        XCTAssertEqual(rightPlay.body, fault(800))

        // A player switched off: gone from the groups, listed with its reason; back: listed no more.
        await household.vanish(studio, reason: "powered off")
        let gone = household.zoneGroupState
        XCTAssertTrue(gone.contains("<VanishedDevices><Device UUID=\"\(studio.uuid)\" ZoneName=\"Studio\" Reason=\"powered off\"/>"
                                    + "</VanishedDevices>"), gone)
        XCTAssertFalse(gone.contains("<ZoneGroupMember UUID=\"\(studio.uuid)\""))
        do {
            _ = try await request(studio.location)
            XCTFail("a vanished player must not answer")
        } catch {}
        try await studio.comeBack()
        XCTAssertTrue(household.zoneGroupState.contains("<ZoneGroupMember UUID=\"\(studio.uuid)\""))
        XCTAssertTrue(household.zoneGroupState.contains("<VanishedDevices></VanishedDevices>"))
        await household.vanish(studio, reason: "sleeping")
        XCTAssertTrue(household.zoneGroupState.contains("Reason=\"sleeping\""))
    }

    func testLoopbackAddressingOnPort1400() async throws {
        let addressing = FakeSonosAddressing.randomLoopback()
        guard case .loopback(let prefix) = addressing else { return XCTFail("not a loopback addressing") }
        let household = try await FakeSonosHousehold.start(players: [.init(name: "Kitchen"), .init(name: "Office")],
                                                           addressing: addressing)
        addTeardownBlock { await household.stop() }
        XCTAssertEqual(household.staticAddresses, ["\(prefix).1:1400", "\(prefix).2:1400"])
        let office = household.players[1]
        XCTAssertEqual(office.location, "http://\(prefix).2:1400/xml/device_description.xml")
        let reply = try await request(office.location)
        XCTAssertEqual(reply.status, 200)
        XCTAssertTrue(reply.body.contains("<friendlyName>\(prefix).2 - Sonos Era 100 - \(office.uuid)</friendlyName>"), reply.body)
        XCTAssertTrue(household.zoneGroupState.contains("Location=\"http://\(prefix).1:1400/xml/device_description.xml\""))
        // Nothing listens on the other address at that port.
        do {
            _ = try await request("http://\(prefix).3:1400/xml/device_description.xml")
            XCTFail("only the household's players listen")
        } catch {}
    }

    // MARK: - The fake-sonos program

    /// The program without SSDP (no root needed): players on their own address at 1400 with the
    /// quirks asked for, a clean exit on SIGTERM; bad options refused with the reason.
    func testProgramServesItsPlayersAndStopsOnSIGTERM() async throws {
        let binary = try FakeSonosProgram.binaryPath()
        let bad = try Shell.run([binary, "--quirks", "realFaultCodes,nosuchquirk"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("unknown quirk nosuchquirk"), bad.err)

        let prefix = "127.\(Int.random(in: 2...254)).\(Int.random(in: 1...254))"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--players", "3", "--prefix", prefix, "--quirks", "zoneGroupStateLimit=2", "--names", "Den,Hall"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        addTeardownBlock { if process.isRunning { process.terminate() } }
        var printed = ""
        let deadline = Date().addingTimeInterval(15)
        while !printed.contains("\nready"), Date() < deadline {
            printed += String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        }
        let lines = printed.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 5, printed)
        XCTAssertTrue(lines[1].hasPrefix("Den\tRINCON_") && lines[1].hasSuffix("\thttp://\(prefix).1:1400/xml/device_description.xml"), lines[1])
        XCTAssertTrue(lines[2].hasPrefix("Hall\t"), lines[2])
        XCTAssertTrue(lines[3].hasPrefix("Bedroom\t") && lines[3].hasSuffix("http://\(prefix).3:1400/xml/device_description.xml"), lines[3])
        XCTAssertEqual(lines[4], "ready (no SSDP)")

        let description = try await request("http://\(prefix).2:1400/xml/device_description.xml")
        XCTAssertTrue(description.body.contains("<roomName>Hall</roomName>"))
        // Three players over the limit of two: GetZoneGroupState is refused as on a large household.
        var r = URLRequest(url: URL(string: "http://\(prefix).1:1400/ZoneGroupTopology/Control")!)
        r.httpMethod = "POST"
        r.setValue("\"urn:schemas-upnp-org:service:ZoneGroupTopology:1#GetZoneGroupState\"", forHTTPHeaderField: "SOAPACTION")
        r.httpBody = Data(("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>"
            + "<u:GetZoneGroupState xmlns:u=\"urn:schemas-upnp-org:service:ZoneGroupTopology:1\"/></s:Body></s:Envelope>").utf8)
        let (body, _) = try await URLSession.shared.data(for: r)
        XCTAssertEqual(String(decoding: body, as: UTF8.self), fault(501))

        process.terminate()
        let exited = Date().addingTimeInterval(10)
        while process.isRunning, Date() < exited { try await Task.sleep(for: .milliseconds(50)) }
        XCTAssertFalse(process.isRunning)
        XCTAssertEqual(process.terminationStatus, 0)
        do {
            _ = try await request("http://\(prefix).1:1400/xml/device_description.xml")
            XCTFail("the players must be gone after SIGTERM")
        } catch {}
    }

    /// The program inside a lab host answers an M-SEARCH from another lab host with the household
    /// headers and a LOCATION that host can fetch; outside a namespace it refuses SSDP.
    func testProgramAnswersSSDPInsideANamespaceOnly() async throws {
        if let reason = NetnsLab.unavailableReason { throw XCTSkip("needs network namespaces: \(reason)") }
        let binary = try FakeSonosProgram.binaryPath()
        // In the machine's own namespace: refused before anything is sent.
        let refused = try Shell.run([binary, "--players", "1", "--prefix", "127.\(Int.random(in: 2...254)).9", "--ssdp-interface", "lo"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.err.contains("SSDP refused") && refused.err.contains("namespace"), refused.err)

        let lab = try NetnsLab(hosts: 2)
        addTeardownBlock { lab.destroy() }
        let speaker = lab.hosts[0], controller = lab.hosts[1]
        // Player 1 on the lab host's own address, port 1400, as a real player.
        let program = try await FakeSonosProgram.start(in: lab, host: speaker, arguments: [
            "--players", "1", "--prefix", lab.subnet, "--names", "Den", "--ssdp-interface", speaker.interface])
        addTeardownBlock { program.stop() }
        XCTAssertTrue(program.output.contains("ready (SSDP on \(speaker.interface))"), program.output)
        let household = program.householdID
        let uuid = try XCTUnwrap(program.players.first?.uuid)
        XCTAssertEqual(program.players.map(\.address), ["\(speaker.address):1400"])

        let replies = try lab.mSearch(from: controller, searchTarget: "urn:schemas-upnp-org:device:ZonePlayer:1", wait: 3, expecting: 1)
        let reply = try XCTUnwrap(replies.first, "no answer to M-SEARCH; program output:\n\(program.output)")
        XCTAssertEqual(reply.from, "\(speaker.address):1900")
        XCTAssertEqual(reply.location, "http://\(speaker.address):1400/xml/device_description.xml")
        XCTAssertEqual(reply.searchTarget, "urn:schemas-upnp-org:device:ZonePlayer:1")
        XCTAssertEqual(reply.usn, "uuid:\(uuid)::urn:schemas-upnp-org:device:ZonePlayer:1")
        XCTAssertEqual(reply.headers["X-RINCON-HOUSEHOLD"], household)
        XCTAssertEqual(reply.headers["X-RINCON-BOOTSEQ"], "42")
        XCTAssertEqual(reply.headers["HOUSEHOLD.SMARTSPEAKER.AUDIO"]?.hasPrefix("\(household)."), true)
        XCTAssertEqual(reply.headers["SERVER"], "Linux UPnP/1.0 Sonos/80.1-55240 (ZPS38)")
        // MediaRenderer:1 is answered by the embedded renderer device.
        let renderer = try lab.mSearch(from: controller, searchTarget: "urn:schemas-upnp-org:device:MediaRenderer:1", wait: 3, expecting: 1)
        XCTAssertEqual(renderer.first?.usn, "uuid:\(uuid)_MR::urn:schemas-upnp-org:device:MediaRenderer:1")
        // The LOCATION is real: the description comes from the other host.
        let description = try lab.httpGet(from: controller, "http://\(speaker.address):1400/xml/device_description.xml")
        XCTAssertEqual(description.status, 200)
        XCTAssertTrue(description.body.contains("<roomName>Den</roomName>"), description.body)
    }
}

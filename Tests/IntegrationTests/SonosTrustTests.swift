import FakeSonos
import Foundation
import LabKit
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Trust on the LAN: the Sonos driver against a fake household and a hostile host beside it. The
/// hostile host is another loopback address (127.0.0.66; all of 127/8 is this machine), so the
/// driver sees a second machine while nothing leaves loopback.
final class SonosTrustTests: XCTestCase {
    static let hostile = "127.0.0.66"

    /// A NOTIFY sent by hand from `from` to a GENA callback URL; the daemon's status code.
    private func notify(_ callback: String, from: String, sid: String, body: String) throws -> Int {
        let url = try XCTUnwrap(URL(string: callback))
        let connection = try LoopbackConnection(port: try XCTUnwrap(url.port), host: try XCTUnwrap(url.host), from: from)
        connection.send("NOTIFY \(url.path) HTTP/1.1\r\nHost: \(url.host!):\(url.port!)\r\nContent-Type: text/xml\r\n"
                        + "NT: upnp:event\r\nNTS: upnp:propchange\r\nSID: \(sid)\r\nSEQ: 1\r\n"
                        + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
        let answer = String(decoding: connection.readToEnd(timeout: 5).bytes, as: UTF8.self)
        return Int(answer.split(separator: " ").dropFirst().first ?? "") ?? -1
    }

    /// An AVTransport event saying the player paused a track called "Forged".
    private func forgedEvent() -> String {
        let didl = "&lt;DIDL-Lite xmlns:dc=&quot;http://purl.org/dc/elements/1.1/&quot; xmlns=&quot;urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/&quot;&gt;"
            + "&lt;item&gt;&lt;dc:title&gt;Forged&lt;/dc:title&gt;&lt;/item&gt;&lt;/DIDL-Lite&gt;"
        let lastChange = "&lt;Event xmlns=&quot;urn:schemas-upnp-org:metadata-1-0/AVT/&quot;&gt;&lt;InstanceID val=&quot;0&quot;&gt;"
            + "&lt;TransportState val=&quot;PAUSED_PLAYBACK&quot;/&gt;&lt;CurrentTrackMetaData val=&quot;\(didl.replacingOccurrences(of: "&", with: "&amp;"))&quot;/&gt;"
            + "&lt;/InstanceID&gt;&lt;/Event&gt;"
        return "<?xml version=\"1.0\"?><e:propertyset xmlns:e=\"urn:schemas-upnp-org:event-1-0\"><e:property><LastChange>"
            + lastChange + "</LastChange></e:property></e:propertyset>"
    }

    func testForgedEventsWithoutTheSubscriptionsSIDOrFromAnotherHostAreRefusedAndChangeNothing() async throws {
        // The player on an address of its own (127.x.y.1:1400), as real players on their IPs: its
        // events come from there.
        let lab = try await sonosLab([.init(name: "Kitchen", volume: 20)], addressing: .randomLoopback())
        let kitchen = lab.household.players[0]
        XCTAssertNotEqual(kitchen.host, "127.0.0.1")
        try lab.availability("kitchen", "online")
        _ = try lab.state("kitchen") { $0["volume"] as? Int == 20 }
        let subscribed = await kitchen.waitUntil(timeout: 10) { p in
            Set(p.subscriptions.map(\.service)).isSuperset(of: ["AVTransport", "RenderingControl"])
        }
        XCTAssertTrue(subscribed, "the driver subscribed: \(kitchen.subscriptions)")
        let avt = try XCTUnwrap(kitchen.subscriptions.first { $0.service == "AVTransport" })
        let rc = try XCTUnwrap(kitchen.subscriptions.first { $0.service == "RenderingControl" })
        let before = lab.client.messages(on: "\(lab.base)/kitchen/state").count
        let body = forgedEvent()

        XCTAssertEqual(try notify(avt.callback, from: Self.hostile, sid: "", body: body), 412, "an empty SID matches nothing")
        XCTAssertEqual(try notify(avt.callback, from: Self.hostile, sid: "uuid:RINCON_old_sub", body: body), 412, "a stale SID")
        XCTAssertEqual(try notify(avt.callback, from: Self.hostile, sid: rc.sid, body: body), 412, "another subscription's SID")
        XCTAssertEqual(try notify(avt.callback, from: Self.hostile, sid: avt.sid, body: body), 412,
                       "the right SID from another host")
        XCTAssertEqual(try notify(avt.callback, from: kitchen.host, sid: "", body: body), 412,
                       "an empty SID from the speaker's own address")
        XCTAssertEqual(try notify(avt.callback, from: "127.0.0.1", sid: avt.sid, body: body), 412,
                       "the right SID from this machine's usual loopback address, which is not the speaker's")

        // A real change afterwards, sent from the player's address: the next state is the player's,
        // and no forged one came before it.
        kitchen.volume = 33
        _ = try lab.state("kitchen") { $0["volume"] as? Int == 33 && $0["address"] as? String == kitchen.host }
        let states = lab.client.messages(on: "\(lab.base)/kitchen/state").dropFirst(before).map(\.text)
        XCTAssertFalse(states.contains { $0.contains("Forged") || $0.contains("paused") }, "\(states)")
        XCTAssertFalse(lab.daemon.daemon.log().contains("Forged"))
    }

    /// A host that accepts connections and never answers: every description fetch from it hangs until
    /// the fetch times out.
    private final class SilentServer {
        let fd: Int32
        let port: Int

        init(address: String) throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            _ = inet_pton(AF_INET, address, &addr.sin_addr)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &addr) { ptr in
                ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, length) == 0 && listen(fd, 128) == 0 && getsockname(fd, $0, &length) == 0
                }
            }
            guard ok else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw LabError("silent server on \(address): \(reason)")
            }
            self.fd = fd
            port = Int(UInt16(bigEndian: addr.sin_port))
        }

        deinit { close(fd) }
    }

    func testASlowDescriptionServerDelaysOnlyItself() async throws {
        // Twenty descriptions on one silent host come first in the list: more than all the fetch
        // slots. The real players are found at once, not after the silent fetches time out (15 s).
        let silent = try SilentServer(address: Self.hostile)
        let slow = (1...20).map { "http://\(Self.hostile):\(silent.port)/slow\($0).xml" }
        let lab = try await sonosLab([.init(name: "Kitchen"), .init(name: "Den")], settings: ["soap_timeout": 15]) { household in
            ["speakers": slow + household.staticAddresses]
        }
        try lab.availability("kitchen", "online", timeout: 8)
        try lab.availability("den", "online", timeout: 8)
    }

    func testWithNothingToDriveTheDriverLoadsSaysSoAndPicksUpSpeakersWhenItsSettingsChange() async throws {
        let lab = try await sonosLab([.init(name: "Kitchen")], settings: ["speakers": [String]()])
        try lab.daemon.daemon.process.waitForLog(containing: "nothing to drive: discovery is off and \"speakers\" is empty", timeout: 15)
        let plugins = try lab.daemon.info()
        let sonos = (plugins["loaded"] as? [[String: Any]] ?? []).first { $0["id"] as? String == SonosDriverTests.pluginID }
        XCTAssertNotNil(sonos, "the driver is loaded: \(plugins)")
        XCTAssertEqual((sonos?["speakers"] as? [Any])?.count, 0)

        // doctor names the driver that drives nothing.
        let args = Array(lab.daemon.daemon.process.arguments.dropFirst())
        let run = try Shell.run(["env", try DaemonProcess.binaryPath(), "doctor"] + args + ["--json"])
        let report = try JSONSerialization.jsonObject(with: Data(run.out.utf8)) as? [String: Any] ?? [:]
        let check = (report["checks"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "speaker drivers" }
        XCTAssertEqual(check?["verdict"] as? String, "warn", run.out)
        XCTAssertEqual(check?["summary"] as? String, "org.speakerbridge.sonos drives no speaker", run.out)

        // The user lists the speaker: the edit reloads the driver, which finds it.
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: lab.daemon.plugins.file("sonos.json")))) as? [String: Any])
        config["speakers"] = lab.household.staticAddresses
        try writeJSON(config, to: lab.daemon.plugins.file("sonos.json"))
        try lab.availability("kitchen", "online", timeout: 20)
    }
}

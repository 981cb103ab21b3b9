import FakeSonos
import Foundation
import LabKit
import SpeakerbridgeHost
import Synchronization

// MARK: sonos part 4: announcement overhead on the fake household (issue #12)
//
// Loopback only. One fake Sonos player ("Kitchen") and the daemon with the driver (static address,
// discovery and audioClip off). Each round puts the player into a prior state (idle; a radio
// station; its queue at a track and position, the position being the one thing events do not
// carry), lets its events reach the driver, and sends `bridge/request/play` for a short WAV.
// Measured per announcement:
// - the SOAP calls the player received (counted at the fake: the whole announcement, and up to the
//   clip's Play);
// - the driver's own time from the announcement's start to the Play answer (`play_ack_us` of its
//   completion detail).
// Baseline in the same round: the bare job, SetAVTransportURI + Play sent by hand (curl, each on a
// connection of its own as the driver's) to the same player, curl's time_total of both summed.
// Target: the driver's start -> Play answered at most 1.5x the bare time (p50), per prior state. An
// idle player takes the clip's URI and volume at once, then Play (2 round trips); a playing one
// gets the URI first (its music must not get loud), then the volume and Play together (2), a queue
// also GetPositionInfo before unless the driver's position poll is current (3): the rows say which
// meet it. A micro-bench times one SOAP request through the host's HTTP service beside curl's.

@MainActor func benchSonosOverhead(n: Int) throws {
    progress("sonos: announcement overhead on the fake household, \(n) announcements")
    let household = try blockingAsync { try await FakeSonosHousehold.start(players: [.init(name: "Kitchen")]) }
    defer { try? blockingAsync { await household.stop() } }
    let kitchen = household.players[0]

    let lab = try FakeSonosBenchLab.start(household: household, name: "overhead", online: ["kitchen"])
    defer { lab.stop() }
    let scratch = lab.scratch, clipURL = lab.clipURL, client = lab.client, base = lab.base
    let requests = BridgeRequester(client: client, base: base, transactionPrefix: "o")

    // The bare job by hand: one curl process, two requests, each on its own connection.
    let (setFile, playFile) = try writeBareAnnounceRequests(clipURL: clipURL, in: scratch)
    let control = "http://\(kitchen.address)/MediaRenderer/AVTransport/Control"
    func bare() throws -> Double {
        func req(_ action: String, _ file: String) -> [String] {
            ["-s", "-o", "/dev/null", "-m", "5", "-w", "%{http_code} %{time_total}\n", "-X", "POST", control,
             "-H", #"Content-Type: text/xml; charset="utf-8""#, "-H", "Connection: close",
             "-H", "SOAPACTION: \"urn:schemas-upnp-org:service:AVTransport:1#\(action)\"", "--data-binary", "@" + file]
        }
        let r = try Shell.run(["curl"] + req("SetAVTransportURI", setFile) + ["--next"] + req("Play", playFile))
        let lines = r.out.split(separator: "\n").map { $0.split(separator: " ") }
        guard r.status == 0, lines.count == 2, lines.allSatisfy({ $0.count == 2 && $0[0] == "200" }) else {
            throw LabError("bare SetAVTransportURI+Play: curl \(r.status) \(r.out) \(r.err)")
        }
        return lines.compactMap { Double($0[1]) }.reduce(0, +)
    }
    func stopped() -> Bool { waitUntil(timeout: 5, interval: 0.02) { kitchen.transportState == .stopped } }

    // Micro-bench: one SOAP request through the host's HTTP service for plugins (PluginHTTP, as the
    // driver's calls go, minus the plugin executor) beside the same request by curl, in turn.
    let pluginHTTP = PluginHTTP()
    let infoBody = Array(avTransportEnvelope("GetTransportInfo", "<InstanceID>0</InstanceID>").utf8)
    func viaHost() throws -> Double {
        let answered = DispatchSemaphore(value: 0)
        let status = Mutex<Int32>(-1)
        let t0 = DispatchTime.now().uptimeNanoseconds
        _ = pluginHTTP.start(.init(method: "POST", url: control, headers: [
            ("Content-Type", #"text/xml; charset="utf-8""#), ("SOAPACTION", #""urn:schemas-upnp-org:service:AVTransport:1#GetTransportInfo""#),
        ], body: infoBody, timeout: 5, maxResponseSize: 1 << 20)) { r in
            status.withLock { $0 = r.httpStatus }
            answered.signal()
        }
        answered.wait()
        let ms = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
        guard status.withLock({ $0 }) == 200 else { throw LabError("GetTransportInfo through PluginHTTP failed") }
        return ms
    }
    let infoFile = scratch.file("info.xml")
    try String(decoding: infoBody, as: UTF8.self).write(toFile: infoFile, atomically: true, encoding: .utf8)
    func viaCurl() throws -> Double {
        let r = try Shell.run(["curl", "-s", "-o", "/dev/null", "-m", "5", "-w", "%{http_code} %{time_total}", "-X", "POST", control,
                               "-H", #"Content-Type: text/xml; charset="utf-8""#, "-H", "Connection: close",
                               "-H", #"SOAPACTION: "urn:schemas-upnp-org:service:AVTransport:1#GetTransportInfo""#, "--data-binary", "@" + infoFile])
        let parts = r.out.split(separator: " ")
        guard r.status == 0, parts.count == 2, parts[0] == "200", let s = Double(parts[1]) else { throw LabError("curl GetTransportInfo: \(r.out)") }
        return s * 1000
    }
    var hostTimes: [Double] = [], curlTimes: [Double] = [], firstTimes: [Double] = []
    for i in 0...n {
        if i > 0 { Thread.sleep(forTimeInterval: 0.2) }  // idle between, as before an announcement
        let first = try viaHost()
        let second = try viaHost()
        let c = try viaCurl()
        if i == 0 { continue }
        firstTimes.append(first)
        hostTimes.append(second)
        curlTimes.append(c)
    }
    sonosSay("one SOAP request: through PluginHTTP p50 \(fmt(percentile(hostTimes, 50), 2)) ms (first after 0.2 s idle "
             + "\(fmt(percentile(firstTimes, 50), 2)) ms), curl time_total p50 \(fmt(percentile(curlTimes, 50), 2)) ms")
    rows.append(Row(metric: "Host HTTP service for plugins: one SOAP request to the fake player, 127.0.0.1 (N=\(hostTimes.count))",
                    value: "p50 \(fmt(percentile(hostTimes, 50), 2)) ms back to back, \(fmt(percentile(firstTimes, 50), 2)) ms after 0.2 s idle",
                    baseline: "curl time_total, same request: p50 \(fmt(percentile(curlTimes, 50), 2)) ms",
                    target: "none (reported)", verdict: "n/a"))

    let tracks = (1...6).map { QueueTrack(uri: "x-sonos-http:track\($0).mp3?sid=9&flags=8224&sn=1", title: "Song \($0)") }
    func prior(_ round: Int) -> (name: String, source: PriorSource) {
        switch round % 3 {
        case 0: return ("queue", .queue(tracks: tracks, track: 1 + round % 6, position: Double(10 + round)))
        case 1: return ("radio", .radio(uri: "x-sonosapi-stream:s\(20_000 + round)?sid=254&flags=8224&sn=0",
                                        metadata: radioMetadata(title: "Station \(round)")))
        default: return ("idle", .empty)
        }
    }
    var acks: [String: [Double]] = [:], calls: [String: [Double]] = [:], toPlay: [String: [Double]] = [:]
    var bareTimes: [Double] = [], snapshots: [String: Int] = [:], failed: [String] = []
    for round in 0...n {  // round 0 warms up (first connections, the clip in the page cache)
        let (kind, source) = prior(round)
        kitchen.setState(source, transport: .playing)
        kitchen.volume = 20
        Thread.sleep(forTimeInterval: 0.3)  // the player's events reach the driver, as before any real announcement
        kitchen.clearLogs()
        let answer = try requests.request("play", ["speaker": "kitchen", "url": clipURL, "mime": "audio/wav", "duration_ms": 300,
                                                   "volume": 40], timeout: 30).json
        let log = kitchen.soapLog.map(\.action)
        guard answer["status"] as? String == "ok", let data = answer["data"] as? [String: Any],
              let ackUs = (data["play_ack_us"] as? NSNumber)?.doubleValue else {
            failed.append("\(round): \(answer)")
            continue
        }
        _ = stopped()
        let b = try bare()
        _ = stopped()
        if round == 0 { continue }
        acks[kind, default: []].append(ackUs / 1000)
        calls[kind, default: []].append(Double(log.count))
        toPlay[kind, default: []].append(Double((log.firstIndex(of: "Play") ?? -1) + 1))
        bareTimes.append(b * 1000)
        snapshots[data["snapshot"] as? String ?? "?", default: 0] += 1
    }
    guard !bareTimes.isEmpty, failed.isEmpty else { throw LabError("announcements failed: \(failed)") }
    let all = acks.values.flatMap { $0 }, bareP50 = percentile(bareTimes, 50)
    func p50(_ xs: [Double]?) -> String { xs.map { fmt(percentile($0, 50), 1) } ?? "-" }
    func counts(_ kind: String) -> String {
        "\(kind): \(p50(calls[kind])) calls (\(p50(toPlay[kind])) to Play), start -> Play answered p50 \(p50(acks[kind])) ms"
            + " (\(fmt(percentile(acks[kind] ?? [0], 50) / bareP50, 2))x)"
    }
    let kinds = ["idle", "radio", "queue"]
    sonosSay("announcement overhead on the fake household: \(kinds.map(counts).joined(separator: "; ")); bare SetAVTransportURI+Play "
             + "p50 \(fmt(bareP50, 1)) ms (N=\(all.count))")
    for kind in kinds {
        guard let xs = acks[kind], !xs.isEmpty else { continue }
        let ratio = percentile(xs, 50) / bareP50
        rows.append(Row(metric: "Sonos driver: announcement start -> Play answered, fake player \(kind) before (N=\(xs.count))",
                        value: "p50 \(fmt(percentile(xs, 50), 1)) ms, p90 \(fmt(percentile(xs, 90), 1)) ms = \(fmt(ratio, 2))x bare; "
                            + "\(p50(toPlay[kind])) SOAP calls to Play, \(p50(calls[kind])) in all",
                        baseline: "bare SetAVTransportURI+Play (curl time_total, 2 requests): p50 \(fmt(bareP50, 1)) ms, p90 \(fmt(percentile(bareTimes, 90), 1)) ms",
                        target: "<= 1.5x bare (p50)", verdict: verdict(ratio <= 1.5)))
    }
    notes.append("sonos overhead: FakeSonosHousehold (Kitchen) on 127.0.0.1, driver with its static address, discovery and audioClip off; "
        + "per round the player is idle, plays a radio station or its queue (in turn) at volume 20, 0.3 s for its events, then "
        + "`bridge/request/play` of a 0.3 s WAV at volume 40. Snapshots: \(snapshots.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")) "
        + "('events': taken from the GENA state, only GetPositionInfo asked for a queue). SOAP calls counted at the fake for the whole "
        + "announcement (snapshot, clip, STOPPED polls, restore) and up to the clip's Play. start -> Play answered = the driver's "
        + "play_ack_us. Baseline per round after the announcement: one curl process, SetAVTransportURI + Play, each with "
        + "Connection: close, curl's time_total summed. Raw (ms): idle \(acks["idle"]?.map { fmt($0, 1) }.joined(separator: " ") ?? "-"); "
        + "radio \(acks["radio"]?.map { fmt($0, 1) }.joined(separator: " ") ?? "-"); "
        + "queue \(acks["queue"]?.map { fmt($0, 1) }.joined(separator: " ") ?? "-"); bare \(bareTimes.map { fmt($0, 1) }.joined(separator: " ")).")
}

import Foundation
import LabKit
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// MARK: 8. announcement latency: publish -> the speaker's HTTP GET of the clip

// One daemon with the espeak-ng TTS plugin (built with its Makefile, cache on) and the log speaker
// (built with cc) with one speaker. The bench acts as that speaker: it watches the log speaker's
// file (inotify, plus a 1 ms poll as a fallback) and for each new `play` line at once GETs the clip
// URL from the daemon's media server over a raw TCP socket on 127.0.0.1.
//
// Measured per announcement (published QoS 1 while the speaker's queue is empty and nothing plays):
//   publish call -> GET request written to the socket   (the issue's "speaker's HTTP GET of the clip")
//   publish call -> GET response complete (Content-Length bytes read)
// Fresh: N distinct sentences, first time (synthesised). Cached: the same N again (cache hits,
// checked through the plugin's `stats` command).
//
// To keep the run short the clip is not played to its end (~3.5 s each): once the measured GET is
// complete, a one-character announcement "." with `interrupt: true` cuts it, and the next measured
// publish waits for both to be final. The cut announcement is synthesised once (during warm-up)
// and is a cache hit afterwards, so it never appears in the syntheses counted.
//
// Floor, same run, per sentence: espeak-ng's own synthesis time for the same text plus the broker
// round trip. Two synthesis figures are printed: the `espeak-ng -w FILE TEXT` command (spawned with
// posix_spawn, waited for with waitpid), and that minus the command's startup measured with an
// empty text (the plugin keeps espeak-ng initialised, so the startup is not part of its work).

let ttsPluginID = "org.speakerbridge.tts.espeak-ng"

/// One `play` line seen in the log speaker's file and the GET of its URL.
struct ClipFetch: Sendable {
    var line: String
    var url: String
    var seenAt: ContinuousClock.Instant
    var connectedAt: ContinuousClock.Instant?
    var sentAt: ContinuousClock.Instant?
    var doneAt: ContinuousClock.Instant?
    var status = 0
    var bodyBytes = 0
    var riff = false
    var error: String?
}

/// The speaker: watches the log file and GETs every clip it is told to play, one at a time.
final class SpeakerEmulator: Sendable {
    let path: String
    private let fetches = Mutex<[ClipFetch]>([])
    private let stopping = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    private let usesInotify = Atomic<Bool>(false)

    init(logPath: String) throws {
        path = logPath
        // The log speaker opens the file with O_APPEND|O_CREAT for every line: creating it empty now
        // lets inotify watch it from the start.
        let fd = open(logPath, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LabError("cannot create \(logPath): \(String(cString: strerror(errno)))") }
        close(fd)
    }

    var inotify: Bool { usesInotify.load(ordering: .relaxed) }
    var all: [ClipFetch] { fetches.withLock { $0 } }
    var count: Int { fetches.withLock { $0.count } }

    func start() {
        Thread.detachNewThread { [self] in run() }
    }

    func stop() {
        stopping.store(true, ordering: .relaxed)
        _ = waitUntil(timeout: 2, interval: 0.002) { finished.load(ordering: .relaxed) }
    }

    private func run() {
        defer { finished.store(true, ordering: .relaxed) }
        let ifd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        if ifd >= 0, inotify_add_watch(ifd, path, UInt32(IN_MODIFY)) >= 0 { usesInotify.store(true, ordering: .relaxed) }
        defer { if ifd >= 0 { close(ifd) } }
        var offset: off_t = 0
        var carry: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var events = [UInt8](repeating: 0, count: 4096)
        while !stopping.load(ordering: .relaxed) {
            if ifd >= 0 {
                var p = pollfd(fd: ifd, events: Int16(POLLIN), revents: 0)
                _ = poll(&p, 1, 1)  // wakes on a write, else after 1 ms (the fallback poll)
                _ = events.withUnsafeMutableBytes { read(ifd, $0.baseAddress, $0.count) }
            } else {
                usleep(1000)
            }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            var lines: [String] = []
            while true {
                let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
                if n <= 0 { break }
                offset += off_t(n)
                carry += buffer[0..<n]
            }
            close(fd)
            while let nl = carry.firstIndex(of: 0x0A) {
                lines.append(String(decoding: carry[..<nl], as: UTF8.self))
                carry.removeSubrange(...nl)
            }
            for line in lines where line.hasPrefix("play ") {
                let seen = ContinuousClock.now
                let parts = line.split(separator: " ").map(String.init)
                var f = ClipFetch(line: line, url: parts.count > 2 ? parts[2] : "", seenAt: seen)
                SpeakerEmulator.get(&f)
                fetches.withLock { $0.append(f) }
            }
        }
    }

    /// GET over a raw socket, loopback only. Records when the request was written and when the
    /// whole body (Content-Length, else up to EOF) had arrived.
    static func get(_ f: inout ClipFetch) {
        guard let u = URLComponents(string: f.url), u.scheme == "http", let host = u.host, let port = u.port else {
            f.error = "cannot parse the URL \(f.url)"; return
        }
        guard host == "127.0.0.1" else { f.error = "refusing a non-loopback clip host \(host) (\(f.url))"; return }
        let path = u.percentEncodedPath.isEmpty ? "/" : u.percentEncodedPath + (u.percentEncodedQuery.map { "?" + $0 } ?? "")
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { f.error = "socket: \(String(cString: strerror(errno)))"; return }
        defer { close(s) }
        var one: Int32 = 1
        setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { f.error = "connect \(host):\(port): \(String(cString: strerror(errno)))"; return }
        f.connectedAt = .now
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUser-Agent: sbbench-speaker\r\nAccept: */*\r\nConnection: close\r\n\r\n".utf8)
        let written = request.withUnsafeBytes { send(s, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        f.sentAt = .now
        guard written == request.count else { f.error = "send: \(String(cString: strerror(errno)))"; return }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var headerEnd: Int?
        var contentLength: Int?
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(s, $0.baseAddress, $0.count, 0) }
            if n < 0 { f.error = "recv: \(String(cString: strerror(errno)))"; return }
            if n == 0 { break }
            data += chunk[0..<n]
            if headerEnd == nil, let r = findHeaderEnd(data) {
                headerEnd = r
                let head = String(decoding: data[..<r], as: UTF8.self).split(separator: "\r\n")
                f.status = head.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
                for h in head.dropFirst() where h.lowercased().hasPrefix("content-length:") {
                    contentLength = Int(h.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
                }
            }
            if let he = headerEnd, let cl = contentLength, data.count - he >= cl { break }
        }
        f.doneAt = .now
        guard let he = headerEnd else { f.error = "no HTTP header in \(data.count) bytes"; return }
        f.bodyBytes = data.count - he
        f.riff = data.count >= he + 4 && Array(data[he..<he + 4]) == Array("RIFF".utf8)
        if f.status != 200 { f.error = "HTTP \(f.status)" }
    }

    private static func findHeaderEnd(_ d: [UInt8]) -> Int? {
        guard d.count >= 4 else { return nil }
        for i in 0...(d.count - 4) where d[i] == 13 && d[i + 1] == 10 && d[i + 2] == 13 && d[i + 3] == 10 { return i + 4 }
        return nil
    }
}

/// Runs a program (no shell, output discarded) and returns its wall time from spawn to reaped exit.
func spawnTimed(_ argv: [String]) throws -> Double {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    defer { for p in cargs { free(p) } }
    var pid: pid_t = 0
    let t0 = ContinuousClock.now
    let rc = posix_spawnp(&pid, argv[0], &actions, nil, cargs, environ)
    guard rc == 0 else { throw LabError("posix_spawnp \(argv[0]): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let t1 = ContinuousClock.now
    guard status == 0 else { throw LabError("\(argv.joined(separator: " ")) exited with wait status \(status)") }
    return seconds(t1 - t0)
}

/// The sentences: distinct, 9-11 words each.
func announceSentences(_ n: Int) -> [String] {
    let templates = [
        "Reminder number #: the laundry in the basement is finished.",
        "Notice #: the front door has been open for ten minutes.",
        "Message #: the dishwasher in the kitchen has finished its cycle.",
        "Alert #: somebody is waiting at the front door right now.",
        "Update #: the garage door was closed a minute ago.",
    ]
    return (0..<n).map { templates[$0 % templates.count].replacingOccurrences(of: "#", with: String($0 + 1)) }
}

/// One measured announcement.
struct AnnounceSample {
    var text: String
    var publishedAt: ContinuousClock.Instant
    var fetch: ClipFetch
    var queuedAt: ContinuousClock.Instant?
    var playingAt: ContinuousClock.Instant?
    var cached: Bool?
    var finalState: String
}

/// What one daemon's announce run measured (this bench and the isolation bench, which runs it once
/// per plugin isolation mode).
struct AnnounceRun {
    var warm: [AnnounceSample] = []
    var fresh: [AnnounceSample] = []
    var cached: [AnnounceSample] = []
    /// The TTS plugin's stats before the fresh phase, after it, after the cached phase.
    var stats: [(syntheses: Int, hits: Int)] = []
    var cutStates: [String: Int] = [:]
    /// Broker round trips (QoS 1, publish -> own subscription), s.
    var rtts: [Double] = []
    var inotify = false
    var playLines = 0
}

/// The announcement that cuts a measured one (cached after warm-up).
let announceCutText = "."

/// One daemon (the bench's settings with `settings` laid over them) with the TTS plugin and the log
/// speaker: warm-up, each sentence fresh, then each again cached (`cachedRounds` times), then the broker
/// round trip. `inspect` runs after that with the daemon still up (given the daemon and a bridge request
/// function).
@MainActor func runAnnouncements(_ sentences: [String], cachedRounds: Int = 1, label: String = "announce", settings: [String: String] = [:],
                                 inspect: ((DaemonUnderTest, (String) throws -> [String: Any]) throws -> Void)? = nil) throws -> AnnounceRun {
    let cutText = announceCutText
    var run = AnnounceRun()

    // Plugins: the TTS plugin with its Makefile, the log speaker with cc, both into place by rename.
    let broker = try MosquittoBroker(extraConfig: quietBrokerLog)
    try broker.start()
    defer { broker.kill9() }
    let plugins = try TempDirectory(prefix: "sbbench-aplugins")
    defer { plugins.remove() }
    let scratch = try TempDirectory(prefix: "sbbench-ascratch")
    defer { scratch.remove() }
    guard chmod(plugins.path, 0o755) == 0 else { throw LabError("chmod \(plugins.path) failed") }
    let ttsBuild = scratch.file("tts-espeak.so"), speakerBuild = scratch.file("log-speaker.so")
    try PluginBuild.ttsPlugin(to: ttsBuild)
    try PluginBuild.logSpeaker(to: speakerBuild)
    try PluginBuild.install(ttsBuild, as: plugins.file("tts-espeak.so"))
    try PluginBuild.install(speakerBuild, as: plugins.file("log-speaker.so"))
    let speakerLog = scratch.file("speakers.txt")
    try writeJSON(["cache_dir": scratch.file("tts-cache")], to: plugins.file("tts-espeak.json"))
    try writeJSON(["log": speakerLog, "speakers": ["Kitchen"]], to: plugins.file("log-speaker.json"))
    let speaker = try SpeakerEmulator(logPath: speakerLog)
    speaker.start()
    defer { speaker.stop() }

    let daemon = try benchDaemon(brokerPort: broker.port, settings: [
        "plugins.path": plugins.path, "plugins.watch": "false", "media.bind": "127.0.0.1",
    ].merging(settings) { $1 })
    defer { daemon.stopAndRemoveState() }
    let client = try TestClient(maxInflight: 100)
    defer { client.disconnect() }
    try client.connect(port: broker.port)
    let base = daemon.base
    let eventTopic = "\(base)/bridge/event/announcement"
    try client.subscribe(eventTopic)
    try client.subscribe("\(base)/bridge/response/#")
    try daemon.start()
    try daemon.waitUntilConnected()

    let requests = BridgeRequester(client: client, base: base, transactionPrefix: "abench")
    func request(_ name: String, timeout: Double = 20) throws -> [String: Any] {
        do {
            return try requests.request(name, timeout: timeout, interval: 0.001).json
        } catch {
            throw LabError("\(error)\n\(logExcerpt(daemon, lines: 30))")
        }
    }
    // The router holds requests until the plugins are loaded: this answer means they are. "connected"
    // is logged before the daemon's SUBSCRIBE, so a request sent that early can reach nobody: ask
    // again every 2 s.
    var first: [String: Any]?
    for attempt in 1...10 where first == nil {
        do { first = try request("plugins", timeout: 2) } catch where attempt < 10 {}
    }
    let loaded = ((first ?? [:])["data"] as? [String: Any])?["loaded"] as? [[String: Any]] ?? []
    for id in [ttsPluginID, logSpeakerID] where !loaded.contains(where: { $0["id"] as? String == id }) {
        throw LabError("\(id) not loaded: \(loaded)\n\(logExcerpt(daemon))")
    }
    func stats() throws -> (syntheses: Int, hits: Int) {
        let r = try request("plugin/\(ttsPluginID)/stats")
        guard let d = r["data"] as? [String: Any], let s = d["syntheses"] as? Int, let h = d["cache_hits"] as? Int else {
            throw LabError("stats: unexpected answer \(r)")
        }
        return (s, h)
    }

    func events(_ id: String) -> [ReceivedMessage] {
        client.messages(on: eventTopic).filter { json($0)["id"] as? String == id }
    }
    func final(_ id: String, timeout: Double = 30) throws -> ReceivedMessage {
        var found: ReceivedMessage?
        guard waitUntil(timeout: timeout, interval: 0.001, {
            found = events(id).first { ["done", "failed"].contains(json($0)["state"] as? String ?? "") }
            return found != nil
        }), let found else {
            throw LabError("announcement \(id): no done/failed event within \(timeout) s\n\(logExcerpt(daemon))")
        }
        return found
    }
    func say(_ id: String, _ text: String, interrupt: Bool = false) throws -> ContinuousClock.Instant {
        var body: [String: Any] = ["id": id, "text": text, "speakers": ["Kitchen"]]
        if interrupt { body["interrupt"] = true }
        let payload = Array(try JSONSerialization.data(withJSONObject: body))
        let t = ContinuousClock.now
        try client.publish(topic: "\(base)/speak", payload: payload, qos: 1)
        return t
    }

    typealias Sample = AnnounceSample
    /// One measured announcement: publish, wait for its GET, cut it, wait until both are final.
    func announce(_ id: String, _ text: String) throws -> Sample {
        let before = speaker.count
        let t0 = try say(id, text)
        // The speaker appends a fetch once its GET is over.
        guard waitUntil(timeout: 30, interval: 0.0005, { speaker.count > before }) else {
            throw LabError("\(id): no play line within 30 s\n\(logExcerpt(daemon))")
        }
        let fetch = speaker.all[before]
        if let e = fetch.error { throw LabError("\(id): GET \(fetch.url) failed: \(e)") }
        _ = try say("\(id)-cut", cutText, interrupt: true)
        let measured = try final(id)
        let cut = try final("\(id)-cut")
        let cutState = json(cut)["state"] as? String ?? "?"
        run.cutStates[cutState, default: 0] += 1
        // A cut that played was fetched too: let the speaker finish that GET so it never overlaps
        // the next measurement.
        if cutState == "done", !waitUntil(timeout: 5, interval: 0.0005, { speaker.count >= before + 2 }) {
            throw LabError("\(id)-cut: done, but no play line of it was fetched")
        }
        let evs = events(id)
        func at(_ state: String) -> ReceivedMessage? { evs.first { json($0)["state"] as? String == state } }
        return Sample(text: text, publishedAt: t0, fetch: fetch, queuedAt: at("queued")?.receivedAt,
                      playingAt: at("playing")?.receivedAt, cached: at("playing").flatMap { json($0)["cached"] as? Bool },
                      finalState: json(measured)["state"] as? String ?? "?")
    }

    // Warm-up (not measured): the first synthesis, the first media request, the cut phrase's
    // synthesis, the first interrupt.
    let warmStart = ContinuousClock.now
    var warm: [Sample] = []
    for (i, text) in ["Warm up: the speaker bridge benchmark is starting now.", "Second warm up sentence, also not measured."].enumerated() {
        warm.append(try announce("warm-\(i)", text))
    }
    progress("\(label): warm-up done in \(fmt(seconds(ContinuousClock.now - warmStart), 2)) s "
             + "(publish -> GET sent: \(warm.map { fmt(seconds($0.fetch.sentAt! - $0.publishedAt) * 1000, 1) }.joined(separator: ", ")) ms)")

    let s0 = try stats()
    var fresh: [Sample] = []
    for (i, text) in sentences.enumerated() { fresh.append(try announce("fresh-\(i)", text)) }
    let s1 = try stats()
    var cached: [Sample] = []
    for round in 0..<cachedRounds {
        for (i, text) in sentences.enumerated() { cached.append(try announce("cached-\(round * sentences.count + i)", text)) }
    }
    let s2 = try stats()
    progress("\(label): stats syntheses \(s0.syntheses) -> \(s1.syntheses) (fresh) -> \(s2.syntheses) (cached); "
             + "cache hits \(s0.hits) -> \(s1.hits) -> \(s2.hits)")

    // Floor, same run: broker round trip (QoS 1, same client publishes and receives), median of 20.
    let rttTopic = "sbbench-rtt-\(UInt32.random(in: 0...UInt32.max))/echo"
    try client.subscribe(rttTopic)
    var rtts: [Double] = []
    for i in 0..<25 {
        let t = ContinuousClock.now
        try client.publish(topic: rttTopic, payload: "rtt-\(i)", qos: 1)
        let m = try client.waitFor(rttTopic, timeout: 5) { $0.text == "rtt-\(i)" }
        if i >= 5 { rtts.append(seconds(m.receivedAt - t)) }  // the first 5 warm up
    }
    run.warm = warm
    run.fresh = fresh
    run.cached = cached
    run.stats = [s0, s1, s2]
    run.rtts = rtts
    try inspect?(daemon, { try request($0) })
    run.inotify = speaker.inotify
    run.playLines = speaker.all.count
    return run
}

/// The run's checks, as warnings: every GET 200 and a RIFF body, `cached` as expected, one synthesis per
/// fresh sentence and none while cached, every cut announcement done.
@MainActor func announceWarnings(_ run: AnnounceRun, label: String) {
    let n = run.fresh.count
    let (s0, s1, s2) = (run.stats[0], run.stats[1], run.stats[2])
    let all = run.warm + run.fresh + run.cached
    let bad = all.filter { $0.fetch.error != nil || $0.fetch.status != 200 || !$0.fetch.riff || $0.fetch.sentAt == nil || $0.fetch.doneAt == nil }
    if !bad.isEmpty {
        warnings.append("\(label): \(bad.count) clip GETs not 200/RIFF: \(bad.prefix(3).map { "\($0.fetch.url): \($0.fetch.error ?? "status \($0.fetch.status)")" })")
    }
    let freshNotFresh = run.fresh.filter { $0.cached != false }.count, cachedNotCached = run.cached.filter { $0.cached != true }.count
    if freshNotFresh > 0 || cachedNotCached > 0 {
        warnings.append("\(label): playing events with an unexpected `cached`: \(freshNotFresh) fresh said cached, \(cachedNotCached) cached said fresh")
    }
    if s1.syntheses - s0.syntheses != n {
        warnings.append("\(label): the fresh phase made \(s1.syntheses - s0.syntheses) syntheses for \(n) sentences")
    }
    if s2.syntheses != s1.syntheses {
        warnings.append("\(label): syntheses rose from \(s1.syntheses) to \(s2.syntheses) during the cached phase (expected none)")
    }
    let cutsNotDone = run.cutStates.filter { $0.key != "done" }
    if !cutsNotDone.isEmpty { warnings.append("\(label): cut announcements not done: \(cutsNotDone)") }
}

/// Where the time goes: event receipt times (the bench's client) per step, medians.
func announceBreakdown(_ xs: [AnnounceSample]) -> String {
    func med(_ f: (AnnounceSample) -> Double?) -> String {
        let v = xs.compactMap(f)
        return v.isEmpty ? "-" : fmt(median(v) * 1000, 2)
    }
    return "publish->queued event \(med { s in s.queuedAt.map { seconds($0 - s.publishedAt) } }) ms, "
        + "queued->playing event \(med { s in s.playingAt.flatMap { p in s.queuedAt.map { seconds(p - $0) } } }) ms, "
        + "publish->play line seen \(med { seconds($0.fetch.seenAt - $0.publishedAt) }) ms, "
        + "playing event->play line seen \(med { s in s.playingAt.map { seconds(s.fetch.seenAt - $0) } }) ms, "
        + "line seen->GET sent \(med { s in s.fetch.sentAt.map { seconds($0 - s.fetch.seenAt) } }) ms "
        + "(of which TCP connect \(med { s in s.fetch.connectedAt.map { seconds($0 - s.fetch.seenAt) } }) ms), "
        + "GET sent->complete \(med { s in s.fetch.doneAt.flatMap { d in s.fetch.sentAt.map { seconds(d - $0) } } }) ms"
}

@MainActor func benchAnnounce(n: Int) throws {
    let sentences = announceSentences(n)
    let cutText = announceCutText
    progress("announce: daemon + espeak-ng TTS plugin + log speaker (1 speaker); \(n) fresh, then \(n) cached announcements")
    let run = try runAnnouncements(sentences)
    let (fresh, cached) = (run.fresh, run.cached)
    let (s0, s1, s2) = (run.stats[0], run.stats[1], run.stats[2])
    let rtts = run.rtts
    let rtt = median(rtts)
    let scratch = try TempDirectory(prefix: "sbbench-afloor")
    defer { scratch.remove() }
    typealias Sample = AnnounceSample

    // espeak-ng's own synthesis: the command per sentence (median of 3), its startup (empty text,
    // median of 15), interleaved so both see the same machine state.
    progress("announce: floor: espeak-ng -w per sentence (3 runs each), empty text (startup)")
    let wav = scratch.file("x.wav"), emptyWav = scratch.file("e.wav")
    var startupRuns: [Double] = []
    var cliRuns = Array(repeating: [Double](), count: n)
    _ = try spawnTimed(["espeak-ng", "-w", wav, sentences[0]])  // warm the page cache
    for round in 0..<3 {
        for i in 0..<n {
            cliRuns[i].append(try spawnTimed(["espeak-ng", "-w", wav, sentences[i]]))
            if (i + round) % 6 == 0 { startupRuns.append(try spawnTimed(["espeak-ng", "-w", emptyWav, ""])) }
        }
    }
    while startupRuns.count < 15 { startupRuns.append(try spawnTimed(["espeak-ng", "-w", emptyWav, ""])) }
    let startup = median(startupRuns)
    let cli = cliRuns.map(median)
    let synth = cli.map { max(0, $0 - startup) }
    let floorCLI = cli.map { $0 + rtt }
    let floorSynth = synth.map { $0 + rtt }

    // Checks.
    announceWarnings(run, label: "announce")
    let lines = run.playLines
    let cutStates = run.cutStates

    // Results.
    func ms(_ x: Double) -> String { fmt(x * 1000, 2) }
    func p(_ xs: [Double]) -> String { "p50 \(ms(percentile(xs, 50))) ms, p99 \(ms(percentile(xs, 99))) ms" }
    let freshGet = fresh.map { seconds($0.fetch.sentAt! - $0.publishedAt) }
    let freshDone = fresh.map { seconds($0.fetch.doneAt! - $0.publishedAt) }
    let cachedGet = cached.map { seconds($0.fetch.sentAt! - $0.publishedAt) }
    let cachedDone = cached.map { seconds($0.fetch.doneAt! - $0.publishedAt) }
    let floorText = "floor (espeak-ng -w minus startup + broker RTT): \(p(floorSynth)); "
        + "with the command's startup: \(p(floorCLI))"
    let fresh50 = percentile(freshGet, 50), floor50 = percentile(floorSynth, 50)
    let ratio = fresh50 / floor50
    let pairRatios = zip(freshGet, floorSynth).map { $0 / $1 }
    rows.append(Row(metric: "Announce, fresh phrase: publish -> speaker's GET sent (N=\(n))",
                    value: "\(p(freshGet)); p50 = \(fmt(ratio, 2)) x floor p50",
                    baseline: floorText,
                    target: "p50 <= 1.2 x floor p50 (\(ms(1.2 * floor50)) ms)",
                    verdict: verdict(ratio <= 1.2)))
    rows.append(Row(metric: "Announce, fresh phrase: publish -> GET response complete (N=\(n))",
                    value: p(freshDone), baseline: "clip \(fmt(Double(fresh.map(\.fetch.bodyBytes).reduce(0, +)) / Double(n) / 1024, 0)) KB on average",
                    target: "none (reported)", verdict: "n/a"))
    rows.append(Row(metric: "Announce, cached phrase: publish -> speaker's GET sent (N=\(n))",
                    value: p(cachedGet),
                    baseline: "broker round trip (QoS 1, median of 20): \(ms(rtt)) ms",
                    target: "p99 < 15 ms", verdict: verdict(percentile(cachedGet, 99) < 0.015)))
    rows.append(Row(metric: "Announce, cached phrase: publish -> GET response complete (N=\(n))",
                    value: p(cachedDone), baseline: "broker round trip: \(ms(rtt)) ms",
                    target: "none (reported)", verdict: "n/a"))

    notes.append("announce: one daemon (espeak-ng TTS plugin built with its Makefile, cache_dir on; log speaker built with cc, one speaker), "
        + "plugins.watch=false, media.bind=127.0.0.1. The bench is the speaker: it watches the log file (\(run.inotify ? "inotify + 1 ms poll fallback" : "1 ms poll")) "
        + "and GETs each clip URL over a raw socket (Connection: close). Latency = publish call (QoS 1) -> GET request written; "
        + "\"complete\" = Content-Length bytes read. Each measured publish happens with the queue empty and nothing playing: once its GET "
        + "is complete the clip is cut by an `interrupt` announcement \"\(cutText)\" (cached after warm-up) and both are waited for "
        + "(final states of the cut announcements: \(cutStates.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))). "
        + "Warm-up: 2 announcements, not measured. TTS stats: syntheses \(s0.syntheses) -> \(s1.syntheses) over the fresh phase, "
        + "\(s1.syntheses) -> \(s2.syntheses) over the cached phase; cache hits \(s0.hits) -> \(s1.hits) -> \(s2.hits) (the cut phrase counts too). "
        + "play lines fetched: \(lines).")
    notes.append("announce floor: per sentence, `espeak-ng -w FILE TEXT` (posix_spawn..waitpid, median of 3): \(p(cli)); "
        + "its startup with an empty text (median of \(startupRuns.count)): \(ms(startup)) ms (min \(ms(startupRuns.min()!)), max \(ms(startupRuns.max()!))); "
        + "synthesis = command - startup: \(p(synth)); broker round trip (QoS 1, publish -> own subscription, median of 20): \(ms(rtt)) ms "
        + "(min \(ms(rtts.min()!)), max \(ms(rtts.max()!))). Floor = synthesis + round trip. The target compares p50 with p50: "
        + "with N=\(n), p99 (nearest rank) is the single slowest sample of each series, so a p99 ratio would compare two one-off "
        + "scheduler outliers; p50 compares the typical cost. Per-sentence ratio fresh/floor (same text): median \(fmt(median(pairRatios), 2)), "
        + "max \(fmt(pairRatios.max()!, 2)).")
    notes.append("announce where the time goes (medians, event times = receipt by the bench's client): fresh: \(announceBreakdown(fresh)). "
        + "cached: \(announceBreakdown(cached)).")
    notes.append("announce raw (ms, publish -> GET sent): fresh \(freshGet.map { fmt($0 * 1000, 1) }.joined(separator: " ")); "
        + "cached \(cachedGet.map { fmt($0 * 1000, 1) }.joined(separator: " ")); floor \(floorSynth.map { fmt($0 * 1000, 1) }.joined(separator: " "))")
}

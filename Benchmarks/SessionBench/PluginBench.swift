import CommandFixtures
import Foundation
import LabKit
import SpeakerbridgeHost
#if canImport(Glibc)
import Glibc
#endif

// Plugin benchmarks: latency of typed commands while the plugin is hot-reloaded, the cost of a typed
// command call through libffi, and resident memory per reload. All traffic on 127.0.0.1.

let logSpeakerID = "org.speakerbridge.example.log-speaker"

/// Sleeps until `instant` (no-op when it has passed).
func sleepUntil(_ instant: ContinuousClock.Instant) {
    let left = instant - .now
    if left > .zero { Thread.sleep(forTimeInterval: seconds(left)) }
}

/// A broker, a plugin folder with the log-speaker built by `cc` (as a third party would), a daemon
/// loading it (`plugins.watch=false`: only explicit reload requests swap builds), a streaming client
/// and a control client.
final class PluginLab {
    let broker: MosquittoBroker
    let plugins: TempDirectory
    let scratch: TempDirectory
    let daemon: DaemonUnderTest
    /// Sends the echo stream and receives its answers.
    let client: TestClient
    /// Sends reload/health requests and receives their answers (kept apart so polling it is cheap).
    let control: BridgeRequester
    var base: String { daemon.base }
    var echoTopic: String { "\(base)/bridge/request/plugin/\(logSpeakerID)/echo" }
    var echoResponseTopic: String { "\(base)/bridge/response/plugin/\(logSpeakerID)/echo" }

    init() throws {
        broker = try MosquittoBroker(extraConfig: quietBrokerLog)
        try broker.start()
        plugins = try TempDirectory(prefix: "sbbench-plugins")
        scratch = try TempDirectory(prefix: "sbbench-pscratch")
        // The daemon refuses a plugin folder writable by group/others; owned by us (root), 0755.
        guard chmod(plugins.path, 0o755) == 0 else { throw LabError("chmod \(plugins.path) failed") }
        let build = scratch.file("log-speaker.so")
        try PluginBuild.logSpeaker(to: build)
        try PluginBuild.install(build, as: plugins.file("log-speaker.so"))
        try writeJSON(["log": scratch.file("log.txt")], to: plugins.file("log-speaker.json"))
        daemon = try benchDaemon(brokerPort: broker.port, settings: ["plugins.path": plugins.path, "plugins.watch": "false"])
        client = try TestClient(maxInflight: 100)
        try client.connect(port: broker.port)
        let controlClient = try TestClient()
        try controlClient.connect(port: broker.port)
        control = BridgeRequester(client: controlClient, base: daemon.base, transactionPrefix: "ctl")
        try client.subscribe(echoResponseTopic)
        try controlClient.subscribe("\(daemon.base)/bridge/response/#")
        try daemon.start()
        try daemon.waitUntilConnected()
        // The router holds requests until the plugins are loaded: this answer means they are. "connected"
        // is logged before the daemon's SUBSCRIBE, so a request sent that early can reach nobody: ask
        // again every 2 s.
        var answered: BridgeExchange?
        for attempt in 1...10 where answered == nil {
            do { answered = try request("plugins", timeout: 2) } catch where attempt < 10 {}
        }
        guard let info = answered else { throw LabError("no answer to plugins\n\(logExcerpt(daemon))") }
        let loaded = ((info.json["data"] as? [String: Any])?["loaded"] as? [[String: Any]]) ?? []
        guard loaded.contains(where: { $0["id"] as? String == logSpeakerID }) else {
            throw LabError("log-speaker not loaded: \(info.json)\n\(logExcerpt(daemon))")
        }
    }

    func stop() {
        client.disconnect()
        control.client.disconnect()
        daemon.stopAndRemoveState()
        broker.kill9()
        plugins.remove()
        scratch.remove()
    }

    /// Sends a bridge request and waits for its answer.
    @discardableResult
    func request(_ name: String, _ fields: [String: Any] = [:], timeout: Double = 20) throws -> BridgeExchange {
        do {
            return try control.request(name, fields, timeout: timeout, interval: 0.001)
        } catch {
            throw LabError("\(error)\n\(logExcerpt(daemon))")
        }
    }

    /// One reload of the log-speaker through the MQTT request; throws unless it says "reloaded".
    func reload(timeout: Double = 20) throws -> (sentAt: ContinuousClock.Instant, answeredAt: ContinuousClock.Instant, generation: Int) {
        let r = try request("plugins/reload", ["id": logSpeakerID], timeout: timeout)
        return (r.sentAt, r.answeredAt, try PluginLab.checkReload(r.json))
    }

    static func checkReload(_ json: [String: Any]) throws -> Int {
        guard json["status"] as? String == "ok", let first = (json["data"] as? [[String: Any]])?.first,
              first["outcome"] as? String == "reloaded", let g = first["generation"] as? Int else {
            throw LabError("reload failed: \(json)")
        }
        return g
    }
}

// MARK: 5. commands in flight during a swap

struct StreamRun {
    var sentAt: [ContinuousClock.Instant] = []
    /// Swap windows: reload request published .. its answer received.
    var windows: [(start: ContinuousClock.Instant, end: ContinuousClock.Instant)] = []
    var generations: [Int] = []
    var duration: Double = 0
}

/// Streams `echo` commands at `rate`/s for `duration` s (transactions "`tag`-i"). With `reloads` > 0,
/// reload requests are sent meanwhile, the first at `lead` s, then one every `spacing` s (start to
/// start, never before the previous one was answered), each at a random phase within the stream's
/// tick so the windows sample the stream evenly; the stream goes on until the last one was answered
/// and `tail` s more.
func runStream(_ lab: PluginLab, tag: String, rate: Double, duration: Double,
               reloads: Int = 0, lead: Double = 1, spacing: Double = 0.2, tail: Double = 1) throws -> StreamRun {
    var run = StreamRun()
    let interval = 1 / rate
    let t0 = ContinuousClock.now
    func at(_ s: Double) -> ContinuousClock.Instant { t0 + .nanoseconds(Int64(s * 1e9)) }
    var nextEcho = t0
    var nextReload = at(lead + Double.random(in: 0..<interval))
    var outstanding: (transaction: String, at: ContinuousClock.Instant)?
    var end = at(duration)
    let hardEnd = at(duration + 120)
    var i = 0
    while true {
        let reloadDue = outstanding == nil && run.windows.count < reloads
        let now = ContinuousClock.now
        if now >= end && !reloadDue && outstanding == nil && run.windows.count >= reloads { break }
        if now > hardEnd { throw LabError("\(tag): reloads did not finish within \(duration + 120) s (\(run.windows.count) of \(reloads))") }
        if reloadDue && nextReload < nextEcho {
            sleepUntil(nextReload)
            outstanding = try lab.control.send("plugins/reload", ["id": logSpeakerID])
            continue
        }
        sleepUntil(nextEcho)
        if ContinuousClock.now < end {
            let payload = Array("{\"text\":\"n\(i)\",\"transaction\":\"\(tag)-\(i)\"}".utf8)
            run.sentAt.append(.now)
            try lab.client.publish(topic: lab.echoTopic, payload: payload, qos: 1)
            i += 1
        }
        nextEcho += .nanoseconds(Int64(interval * 1e9))
        if let o = outstanding, let answer = lab.control.answer("plugins/reload", o.transaction) {
            run.windows.append((o.at, answer.receivedAt))
            run.generations.append(try PluginLab.checkReload(json(answer)))
            outstanding = nil
            nextReload = max(nextReload + .nanoseconds(Int64(spacing * 1e9)), answer.receivedAt)
            if run.windows.count == reloads { end = max(end, answer.receivedAt + .nanoseconds(Int64(tail * 1e9))) }
        }
    }
    run.duration = seconds(ContinuousClock.now - t0)
    return run
}

struct Answers {
    /// Latency (s) of the first answer per transaction index; nil when unanswered.
    var latency: [Double?]
    var answeredOnce = 0
    var missing = 0
    var duplicated = 0
    var errors: [String] = []
    var generations: Set<Int> = []
    var stray = 0
}

/// Waits until every echo of `run` was answered (or `timeout`), then 0.5 s more to catch duplicates.
func collectAnswers(_ lab: PluginLab, tag: String, _ run: StreamRun, timeout: Double = 30) -> Answers {
    let n = run.sentAt.count
    let prefix = "\(tag)-"
    func tally() -> [Int: [ReceivedMessage]] {
        var byIndex: [Int: [ReceivedMessage]] = [:]
        for m in lab.client.messages(on: lab.echoResponseTopic) {
            guard let t = json(m)["transaction"] as? String, t.hasPrefix(prefix), let i = Int(t.dropFirst(prefix.count)) else { continue }
            byIndex[i, default: []].append(m)
        }
        return byIndex
    }
    _ = waitUntil(timeout: timeout, interval: 0.05) { tally().count >= n }
    Thread.sleep(forTimeInterval: 0.5)
    let byIndex = tally()
    var a = Answers(latency: Array(repeating: nil, count: n))
    for (i, ms) in byIndex {
        guard i < n else { a.stray += ms.count; continue }
        if ms.count == 1 { a.answeredOnce += 1 } else { a.duplicated += 1 }
        let first = ms.min { $0.receivedAt < $1.receivedAt }!
        a.latency[i] = seconds(first.receivedAt - run.sentAt[i])
        for m in ms {
            let j = json(m)
            if let g = j["generation"] as? Int { a.generations.insert(g) }
            if j["status"] as? String != "ok" { a.errors.append(m.text) }
        }
    }
    a.missing = n - byIndex.keys.filter { $0 < n }.count
    return a
}

func msText(_ xs: [Double]) -> String {
    xs.isEmpty ? "no samples" : "p50 \(fmt(percentile(xs, 50) * 1000, 2)) ms, p99 \(fmt(percentile(xs, 99) * 1000, 2)) ms (n=\(xs.count))"
}

@MainActor func benchSwap(reloads: Int, rate: Double) throws {
    let spacing = 0.2, lead = 1.0, tail = 1.0
    let duration = lead + Double(reloads) * spacing + tail
    progress("swap: log-speaker daemon, echo stream \(Int(rate))/s; baseline \(fmt(duration, 0)) s without reloads, then \(reloads) reloads every \(Int(spacing * 1000)) ms")
    let lab = try PluginLab()
    defer { lab.stop() }
    // Warm-up: the first commands and reloads (code paths, caches, allocator) are not measured.
    let warm = try runStream(lab, tag: "w", rate: rate, duration: 1.5, reloads: 3, lead: 0.2, spacing: 0.2, tail: 0.3)
    _ = collectAnswers(lab, tag: "w", warm)
    lab.client.clearMessages()

    progress("swap: baseline stream")
    let baseRun = try runStream(lab, tag: "b", rate: rate, duration: duration)
    let base = collectAnswers(lab, tag: "b", baseRun)
    lab.client.clearMessages()
    progress("swap: stream with \(reloads) reloads")
    let swapRun = try runStream(lab, tag: "r", rate: rate, duration: duration, reloads: reloads, lead: lead, spacing: spacing, tail: tail)
    let swap = collectAnswers(lab, tag: "r", swapRun)

    var inSwap: [Double] = [], outside: [Double] = []
    var windowsWithCommands = 0
    var hit = Array(repeating: false, count: swapRun.windows.count)
    for (i, t) in swapRun.sentAt.enumerated() {
        guard let l = swap.latency[i] else { continue }
        if let w = swapRun.windows.firstIndex(where: { t >= $0.start && t <= $0.end }) {
            inSwap.append(l)
            hit[w] = true
        } else {
            outside.append(l)
        }
    }
    windowsWithCommands = hit.filter { $0 }.count
    let all = swap.latency.compactMap { $0 }
    let baseAll = base.latency.compactMap { $0 }
    let windowMs = swapRun.windows.map { seconds($0.end - $0.start) * 1000 }
    let starts = swapRun.windows.map(\.start)
    let gaps = zip(starts.dropFirst(), starts).map { seconds($0 - $1) * 1000 }

    rows.append(Row(metric: "Echo latency, commands in flight during a swap (\(reloads) reloads)", value: msText(inSwap),
                    baseline: "no reloads: " + msText(baseAll), target: "none", verdict: "n/a"))
    rows.append(Row(metric: "Echo latency, all commands of the reload run", value: msText(all),
                    baseline: "no reloads: " + msText(baseAll), target: "none", verdict: "n/a"))
    rows.append(Row(metric: "Reload request round trip (swap window)",
                    value: "p50 \(fmt(percentile(windowMs, 50), 2)) ms, p99 \(fmt(percentile(windowMs, 99), 2)) ms, max \(fmt(windowMs.max()!, 2)) ms",
                    baseline: "echo without reloads: p50 \(fmt(percentile(baseAll, 50) * 1000, 2)) ms", target: "none", verdict: "n/a"))
    func countText(_ a: Answers, _ n: Int) -> String {
        "\(a.answeredOnce) of \(n) exactly once (missing \(a.missing), duplicated \(a.duplicated), errors \(a.errors.count))"
    }
    rows.append(Row(metric: "Echo answers during reloads", value: countText(swap, swapRun.sentAt.count),
                    baseline: "no reloads: " + countText(base, baseRun.sentAt.count), target: "all exactly once",
                    verdict: verdict(swap.answeredOnce == swapRun.sentAt.count && swap.errors.isEmpty
                                     && base.answeredOnce == baseRun.sentAt.count && base.errors.isEmpty)))
    for (name, a, n) in [("baseline", base, baseRun.sentAt.count), ("reload run", swap, swapRun.sentAt.count)]
    where a.answeredOnce != n || !a.errors.isEmpty || a.stray > 0 {
        warnings.append("swap \(name): \(a.answeredOnce) of \(n) echo commands answered exactly once; missing \(a.missing), "
            + "duplicated \(a.duplicated), error answers \(a.errors.count)\(a.errors.first.map { " (first: \($0))" } ?? ""), stray \(a.stray)")
    }
    notes.append("swap: echo (log-speaker, built with cc -O1) published QoS 1 at \(Int(rate))/s from one client; latency = publish call .. "
        + "answer received (libmosquitto network thread timestamp). \"In flight during a swap\" = published between a reload request "
        + "and the receipt of its answer: \(inSwap.count) commands in \(windowsWithCommands) of \(swapRun.windows.count) windows "
        + "(reload phase placed at a random point within the 5 ms stream tick); outside the windows: \(msText(outside)). "
        + "Reload start-to-start spacing: median \(fmt(gaps.isEmpty ? 0 : median(gaps), 0)) ms; stream durations: baseline \(fmt(baseRun.duration, 1)) s, "
        + "reload run \(fmt(swapRun.duration, 1)) s; generations answering during the reload run: \(swap.generations.count) "
        + "(reload answers reported generations \(swapRun.generations.first ?? 0)..\(swapRun.generations.last ?? 0)). "
        + "Swap windows (ms): \(windowMs.map { fmt($0, 1) }.joined(separator: " "))")
}

// MARK: 6. typed-command dispatch through libffi

/// libc's memset found at run time, so the optimizer cannot see that the zeroed bytes are never read
/// (a plain memset loop on a buffer nobody reads is deleted outright).
let opaqueMemset: @convention(c) (UnsafeMutableRawPointer?, Int32, Int) -> UnsafeMutableRawPointer? = {
    guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "memset") else { fatalError("no memset") }
    return unsafeBitCast(sym, to: (@convention(c) (UnsafeMutableRawPointer?, Int32, Int) -> UnsafeMutableRawPointer?).self)
}()

@MainActor func benchFFI(quick: Bool) throws {
    let directN = 1_000_000, invokerN = quick ? 50_000 : 200_000, reps = quick ? 3 : 7
    progress("ffi: fx_direct_loop(\(directN)) vs CommandInvoker.call on fx_bench_volume (n=\(invokerN)), \(reps) rounds")
    guard let command = fx_command("bench_volume")?.pointee, let function = command.function else {
        throw LabError("fx_command(\"bench_volume\") not found")
    }
    let invoker = try CommandInvoker(signature: CommandSignature.parse(String(cString: command.signature)),
                                     function: unsafeBitCast(function, to: UnsafeRawPointer.self))
    let arguments = try invoker.signature.bind(["speaker": "kitchen", "level": 50])
    let json: [String: JSONValue] = ["speaker": "kitchen", "level": 50]

    /// ns per call of `body` run `n` times; checks that the fixture saw exactly `n` calls.
    func time(_ name: String, _ n: Int, _ body: (Int) throws -> Int32) throws -> Double {
        fx_reset()
        var bad = 0
        let t0 = ContinuousClock.now
        for _ in 0..<n {
            if try body(n) != 0 { bad += 1 }
        }
        let dt = seconds(ContinuousClock.now - t0)
        guard bad == 0, fx_last().pointee.calls == UInt64(n) else {
            throw LabError("\(name): \(fx_last().pointee.calls) fixture calls for \(n), \(bad) not SB_OK")
        }
        return dt * 1e9 / Double(n)
    }
    var direct: [Double] = [], pre4096: [Double] = [], pre256: [Double] = [], bind4096: [Double] = [], bind256: [Double] = [], zero: [Double] = []
    let zeroBuffer = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 16)
    defer { zeroBuffer.deallocate() }
    for round in 0...reps {  // round 0 warms up and is discarded
        fx_reset()
        let t0 = ContinuousClock.now
        let ok = fx_direct_loop(UInt64(directN))
        let dt = seconds(ContinuousClock.now - t0)
        guard ok == directN, fx_last().pointee.calls == UInt64(directN) else { throw LabError("fx_direct_loop: \(ok) of \(directN)") }
        let d = dt * 1e9 / Double(directN)
        let p4 = try time("prebound 4096", invokerN) { _ in invoker.call(instance: nil, arguments: arguments, replyCapacity: 4096).status }
        let p2 = try time("prebound 256", invokerN) { _ in invoker.call(instance: nil, arguments: arguments, replyCapacity: 256).status }
        let b4 = try time("bind 4096", invokerN) { _ in try invoker.call(instance: nil, json: json, replyCapacity: 4096).status }
        let b2 = try time("bind 256", invokerN) { _ in try invoker.call(instance: nil, json: json, replyCapacity: 256).status }
        let z0 = ContinuousClock.now
        for _ in 0..<directN { _ = opaqueMemset(zeroBuffer, 0, 4096) }
        let z = seconds(ContinuousClock.now - z0) * 1e9 / Double(directN)
        if round > 0 {
            direct.append(d); pre4096.append(p4); pre256.append(p2); bind4096.append(b4); bind256.append(b2); zero.append(z)
        }
    }
    func ns(_ xs: [Double]) -> String { "\(fmt(median(xs), 1)) ns/call (min \(fmt(xs.min()!, 1)))" }
    let directText = "direct C call (fx_direct_loop, n=\(directN)): " + ns(direct)
    rows.append(Row(metric: "Typed command via libffi, pre-bound args, reply 4096 B", value: ns(pre4096) + ", \(fmt(median(pre4096) / median(direct), 0)) x direct",
                    baseline: directText, target: "none", verdict: "n/a"))
    rows.append(Row(metric: "Typed command via libffi, pre-bound args, reply 256 B", value: ns(pre256) + ", \(fmt(median(pre256) / median(direct), 0)) x direct",
                    baseline: directText, target: "none", verdict: "n/a"))
    rows.append(Row(metric: "Typed command via libffi, bind from JSON + call, reply 4096 B", value: ns(bind4096),
                    baseline: directText, target: "none", verdict: "n/a"))
    rows.append(Row(metric: "Typed command via libffi, bind from JSON + call, reply 256 B", value: ns(bind256),
                    baseline: directText, target: "none", verdict: "n/a"))
    notes.append("ffi: in-process, fx_bench_volume(\"kitchen\", 50, ramp default) (records the level, writes no reply). medians of \(reps) rounds "
        + "(plus one discarded warm-up), variants interleaved per round; invoker n=\(invokerN), direct n=\(directN). Reply buffers differ: "
        + "fx_direct_loop reuses one 4096 B stack buffer and clears only reply[0] per call; CommandInvoker.call zeroes the whole "
        + "replyCapacity per call (plus a temporary block for argument slots and the string copy), scans it for the NUL and builds a String. "
        + "memset of 4096 B alone on this machine: \(fmt(median(zero), 1)) ns (median of \(reps) x \(directN)). "
        + "Bind from JSON = signature.bind on a prebuilt [String: JSONValue] (no JSON text parsing).")
}

// MARK: 7. resident memory per reload

@MainActor func benchReloadRSS(rounds: Int) throws {
    progress("reload-rss: \(rounds) health requests, then \(rounds) reloads, each waited for")
    let lab = try PluginLab()
    defer { lab.stop() }
    guard let pid = lab.daemon.process.pid else { throw LabError("daemon has no pid") }
    func rssKB() throws -> (rss: Double, anon: Double) {
        let s = try ProcSample.take(pid: pid)
        return (s.rssMB * 1024, s.anonMB * 1024)
    }
    func fds() -> Int { ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count }
    func mappedCopies() -> Int {
        // Read to the end by hand: /proc files report size 0.
        let maps = FileHandle(forReadingAtPath: "/proc/\(pid)/maps").map { String(decoding: $0.readDataToEndOfFile(), as: UTF8.self) } ?? ""
        return Set(maps.split(separator: "\n").compactMap { line -> Substring? in
            guard let slash = line.firstIndex(of: "/") else { return nil }
            let path = line[slash...]
            // Loaded copies live in the plugin cache under the daemon's state directory.
            return path.hasPrefix(lab.daemon.state.path) ? path : nil
        }).count
    }
    // Warm-up: commands, reloads and health requests once each way, so one-time allocations are behind us.
    for i in 0..<100 {
        try lab.client.publish(topic: lab.echoTopic, payload: "{\"text\":\"w\(i)\",\"transaction\":\"w-\(i)\"}", qos: 1)
    }
    _ = try lab.client.waitForCount(lab.echoResponseTopic, count: 100, timeout: 20)
    for _ in 0..<5 { _ = try lab.reload(); try lab.request("health") }
    Thread.sleep(forTimeInterval: 0.5)

    let h0 = try rssKB()
    var healthMs: [Double] = [], reloadMs: [Double] = []
    for _ in 0..<rounds {
        let r = try lab.request("health")
        healthMs.append(seconds(r.answeredAt - r.sentAt) * 1000)
    }
    Thread.sleep(forTimeInterval: 0.5)
    let h1 = try rssKB()

    let fd0 = fds(), maps0 = mappedCopies()
    let r0 = try rssKB()
    var trace: [String] = []
    var lastGeneration = 0
    for i in 1...rounds {
        let r = try lab.reload()
        lastGeneration = r.generation
        reloadMs.append(seconds(r.answeredAt - r.sentAt) * 1000)
        if i % 10 == 0 { trace.append("\(i): \(Int(try rssKB().rss - r0.rss)) KB") }
    }
    Thread.sleep(forTimeInterval: 0.5)
    let r1 = try rssKB()
    let fd1 = fds(), maps1 = mappedCopies()
    let n = Double(rounds)
    rows.append(Row(metric: "RSS growth per reload (\(rounds) reloads)",
                    value: "\(fmt((r1.rss - r0.rss) / n, 1)) KB/reload (VmRSS \(Int(r0.rss)) -> \(Int(r1.rss)) KB; RssAnon \(fmt((r1.anon - r0.anon) / n, 1)) KB/reload)",
                    baseline: "\(rounds) health requests: \(fmt((h1.rss - h0.rss) / n, 1)) KB/request (VmRSS \(Int(h0.rss)) -> \(Int(h1.rss)) KB; RssAnon \(fmt((h1.anon - h0.anon) / n, 1)))",
                    target: "none", verdict: "n/a"))
    notes.append("reload-rss: VmRSS/RssAnon from /proc/<pid>/status, 0.5 s after each batch; warm-up 100 echo commands + 5 reloads + 5 health. "
        + "Growth during the reloads, cumulative: \(trace.joined(separator: ", ")); generation at the end \(lastGeneration). "
        + "Open fds \(fd0) -> \(fd1); plugin copies mapped from the cache \(maps0) -> \(maps1). Round trips, one at a time: health p50 "
        + "\(fmt(percentile(healthMs, 50), 2)) ms (max \(fmt(healthMs.max()!, 2))), reload p50 \(fmt(percentile(reloadMs, 50), 2)) ms (max \(fmt(reloadMs.max()!, 2))).")
}

import Foundation
import LabKit
#if canImport(Glibc)
import Glibc
#endif

// MARK: 11. plugin isolation: process mode beside inline mode (issue 13)

// What running each plugin in a plugin host process of its own costs, measured in the same run with
// `plugins.isolation=inline` (the baseline) and `plugins.isolation=process` (the value): one daemon per
// mode and lab, inline first, then process, same plugins, same counts.
//
//   Typed command: the log speaker's `echo`, sequential (the next request is published once the
//     previous answer is in), publish call .. answer received (the client's network thread timestamp).
//     In process mode the call crosses the daemon's socket to the plugin host and back.
//   Announcement: AnnounceBench's method (TTS plugin + log speaker, the bench GETs each clip): publish ..
//     speaker's GET sent, fresh (synthesised) and cached. In process mode synthesize and play cross the
//     socket and the clip's bytes come back in a memfd. Target: process adds <= 0.5 ms to the p99.
//   Reload: SwapBench's stream (echo at 200/s) with reloads; the window = reload request .. its answer.
//     In process mode a reload starts a new plugin host and creates the plugin there before the old one stops.
//   RSS: VmRSS of the daemon and of each of its `plugin-host` children, named by plugin.

private let isolationModes = ["inline", "process"]

/// One plugin host process of a daemon.
struct PluginHostChild {
    var pid: Int32
    /// The plugin id from the `plugins` answer's `pid`, else the plugin file mapped by the process.
    var plugin: String
    var rssMB: Double
    var pssMB: Double
}

/// Proportional set size (MB) from /proc/PID/smaps_rollup: a plugin host maps the daemon's own binary
/// and libraries, whose pages RSS counts in full in every process; PSS splits them between the
/// processes sharing them, so the daemon's and its hosts' PSS add up to what they use together.
func pssMB(pid: Int32) -> Double? {
    guard let text = FileHandle(forReadingAtPath: "/proc/\(pid)/smaps_rollup").map({ String(decoding: $0.readDataToEndOfFile(), as: UTF8.self) }),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Pss:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
    return kb / 1024
}

/// The daemon's `plugin-host` children: the processes whose parent is the daemon and whose command line
/// names the subcommand. `loaded` is the `plugins` answer's list, whose entries carry the host's `pid`
/// in process mode.
func pluginHostChildren(of daemon: DaemonUnderTest, loaded: [[String: Any]]) throws -> [PluginHostChild] {
    guard let daemonPID = daemon.process.pid else { throw LabError("daemon has no pid") }
    var byPID: [Int32: String] = [:]
    for p in loaded {
        if let id = p["id"] as? String, let pid = p["pid"] as? Int { byPID[Int32(pid)] = id }
    }
    var found: [PluginHostChild] = []
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { continue }
        // Fields after the command name's closing paren: state, ppid, ...
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 1, Int32(fields[1]) == daemonPID else { continue }
        let cmdline = (FileHandle(forReadingAtPath: "/proc/\(pid)/cmdline")?.readDataToEndOfFile()).map {
            String(decoding: $0, as: UTF8.self).split(separator: "\0").map(String.init)
        } ?? []
        guard cmdline.contains("plugin-host"), let sample = try? ProcSample.take(pid: pid) else { continue }
        found.append(PluginHostChild(pid: pid, plugin: byPID[pid] ?? mappedPlugin(pid: pid, under: daemon.state.path) ?? "pid \(pid)",
                                     rssMB: sample.rssMB, pssMB: pssMB(pid: pid) ?? .nan))
    }
    return found.sorted { $0.plugin < $1.plugin }
}

/// The plugin file a process maps from the daemon's plugin cache (under its state directory).
private func mappedPlugin(pid: Int32, under state: String) -> String? {
    let maps = FileHandle(forReadingAtPath: "/proc/\(pid)/maps").map { String(decoding: $0.readDataToEndOfFile(), as: UTF8.self) } ?? ""
    for line in maps.split(separator: "\n") {
        guard let slash = line.firstIndex(of: "/"), line[slash...].hasPrefix(state) else { continue }
        return (String(line[slash...]) as NSString).lastPathComponent
    }
    return nil
}

/// The `plugins` answer's loaded list; in process mode, checks that every plugin says so (when the
/// answer names the mode) so a mode the daemon ignored is never measured as the other.
func loadedPlugins(_ answer: [String: Any], mode: String) throws -> [[String: Any]] {
    let loaded = ((answer["data"] as? [String: Any])?["loaded"] as? [[String: Any]]) ?? []
    for p in loaded {
        if let m = p["isolation"] as? String, m != mode {
            throw LabError("plugin \(p["id"] ?? "?") runs \(m), asked for \(mode): \(p)")
        }
    }
    return loaded
}

/// Memory of one daemon and its plugin hosts.
struct IsolationMemory {
    var daemonMB: Double
    var daemonPSSMB: Double
    var hosts: [PluginHostChild]

    /// "daemon 50.1 MB + log-speaker 20.3 MB = 70.4 MB; PSS 40.2 + 8.1 = 48.3 MB"
    var text: String {
        func sum(_ own: Double, _ each: (PluginHostChild) -> Double) -> String {
            hosts.isEmpty ? "" : " + " + hosts.map { fmt(each($0), 1) }.joined(separator: " + ") + " = \(fmt(own + hosts.map(each).reduce(0, +), 1))"
        }
        let names = hosts.map { " + \(shortPluginName($0.plugin))" }.joined()
        return "RSS daemon\(names): \(fmt(daemonMB, 1))\(sum(daemonMB, \.rssMB)) MB; PSS \(fmt(daemonPSSMB, 1))\(sum(daemonPSSMB, \.pssMB)) MB"
    }
}

/// "org.speakerbridge.tts.espeak-ng" -> "espeak-ng": the table cells stay readable.
private func shortPluginName(_ id: String) -> String {
    id.split(separator: ".").last.map(String.init) ?? id
}

func isolationMemory(_ daemon: DaemonUnderTest, loaded: [[String: Any]], mode: String) throws -> IsolationMemory {
    guard let pid = daemon.process.pid else { throw LabError("daemon has no pid") }
    let hosts = try pluginHostChildren(of: daemon, loaded: loaded)
    if mode == "process" && hosts.isEmpty {
        throw LabError("plugins.isolation=process, but the daemon has no plugin-host child\n\(logExcerpt(daemon))")
    }
    if mode == "inline" && !hosts.isEmpty {
        throw LabError("plugins.isolation=inline, but the daemon has plugin-host children: \(hosts.map(\.plugin))")
    }
    return IsolationMemory(daemonMB: try ProcSample.take(pid: pid).rssMB, daemonPSSMB: pssMB(pid: pid) ?? .nan, hosts: hosts)
}

/// Sequential echo commands: each published once the previous answer is in. Returns the round trips (s).
func echoRoundTrips(_ lab: PluginLab, tag: String, n: Int) throws -> [Double] {
    var out: [Double] = []
    out.reserveCapacity(n)
    for i in 0..<n {
        // Nothing else arrives on this client between two requests: clearing keeps each poll short.
        lab.client.clearMessages()
        let transaction = "\(tag)-\(i)"
        let payload = Array("{\"text\":\"n\(i)\",\"transaction\":\"\(transaction)\"}".utf8)
        let t0 = ContinuousClock.now
        try lab.client.publish(topic: lab.echoTopic, payload: payload, qos: 1)
        var answer: ReceivedMessage?
        guard waitUntil(timeout: 10, interval: 0.0002, { answer = lab.client.messages(on: lab.echoResponseTopic).first; return answer != nil }),
              let answer else {
            throw LabError("echo \(transaction): no answer within 10 s\n\(logExcerpt(lab.daemon))")
        }
        let j = json(answer)
        guard j["transaction"] as? String == transaction, j["status"] as? String == "ok" else {
            throw LabError("echo \(transaction): unexpected answer \(answer.text)")
        }
        out.append(seconds(answer.receivedAt - t0))
    }
    return out
}

/// What the swap lab measured in one mode.
private struct SwapLabRun {
    var echo: [Double] = []
    var windowsMs: [Double] = []
    var answers: Answers
    var sent = 0
    var memory: IsolationMemory
    /// Plugin host processes left after the reloads (process mode: exactly one expected).
    var hostsAfterReloads = 0
}

@MainActor private func swapLabRun(mode: String, echoes: Int, reloads: Int) throws -> SwapLabRun {
    progress("isolation (\(mode)): log-speaker daemon; \(echoes) sequential echo commands, then \(reloads) reloads under a 200/s echo stream")
    let lab = try PluginLab(settings: ["plugins.isolation": mode])
    defer { lab.stop() }
    _ = try loadedPlugins(lab.request("plugins").json, mode: mode)
    // Warm-up: the first commands and reloads (code paths, caches, allocator) are not measured.
    _ = try echoRoundTrips(lab, tag: "w", n: 200)
    let warm = try runStream(lab, tag: "ws", rate: 200, duration: 1.0, reloads: 3, lead: 0.2, spacing: 0.2, tail: 0.3)
    _ = collectAnswers(lab, tag: "ws", warm)
    lab.client.clearMessages()

    let echo = try echoRoundTrips(lab, tag: "e", n: echoes)
    lab.client.clearMessages()
    let loaded = try loadedPlugins(lab.request("plugins").json, mode: mode)
    let memory = try isolationMemory(lab.daemon, loaded: loaded, mode: mode)

    let spacing = 0.2, lead = 0.5, tail = 0.5
    let stream = try runStream(lab, tag: "r", rate: 200, duration: lead + Double(reloads) * spacing + tail,
                               reloads: reloads, lead: lead, spacing: spacing, tail: tail)
    let answers = collectAnswers(lab, tag: "r", stream)
    // The old generations' hosts exit once they are destroyed: give them a moment.
    var left: [PluginHostChild] = []
    _ = waitUntil(timeout: 3, interval: 0.05) {
        left = (try? pluginHostChildren(of: lab.daemon, loaded: [])) ?? []
        return left.count <= 1
    }
    return SwapLabRun(echo: echo, windowsMs: stream.windows.map { seconds($0.end - $0.start) * 1000 }, answers: answers,
                      sent: stream.sentAt.count, memory: memory, hostsAfterReloads: left.count)
}

/// The modes in round `round`: inline first in even rounds, process first in odd ones, so a machine that
/// gets busier or quieter during the run (other builds) weighs on both modes alike.
private func modeOrder(_ round: Int) -> [String] {
    round % 2 == 0 ? isolationModes : isolationModes.reversed()
}

@MainActor func benchIsolation(quick: Bool) throws {
    let rounds = quick ? 1 : 2
    let echoes = quick ? 1000 : 1500          // per round and mode
    let reloads = quick ? 10 : 15             // per round and mode
    let sentences = announceSentences(quick ? 8 : 20)
    // Cached passes over the sentences per daemon: cached announcements are cheap, and with 200 per mode
    // the p99 is the 2nd slowest rather than the slowest.
    let cachedRounds = quick ? 2 : 5

    // 1 and 3: the log speaker's lab; 2 and 4: the announce lab (memory read once the cached phase is
    // over). One daemon per mode, lab and round.
    var swap: [String: [SwapLabRun]] = [:]
    var announce: [String: [AnnounceRun]] = [:]
    var memory: [String: IsolationMemory] = [:]
    for round in 0..<rounds {
        for mode in modeOrder(round) {
            swap[mode, default: []].append(try swapLabRun(mode: mode, echoes: echoes, reloads: reloads))
        }
        for mode in modeOrder(round) {
            let label = "isolation (\(mode))"
            progress("\(label): announce daemon (TTS + log speaker); \(sentences.count) fresh, then \(sentences.count * cachedRounds) cached")
            let run = try runAnnouncements(sentences, cachedRounds: cachedRounds, label: label,
                                           settings: ["plugins.isolation": mode]) { daemon, request in
                if memory[mode] == nil {
                    memory[mode] = try isolationMemory(daemon, loaded: loadedPlugins(request("plugins"), mode: mode), mode: mode)
                }
            }
            announceWarnings(run, label: label)
            announce[mode, default: []].append(run)
        }
    }

    func ms(_ x: Double) -> String { fmt(x * 1000, 2) }
    func p(_ xs: [Double]) -> String { "p50 \(ms(percentile(xs, 50))) ms, p99 \(ms(percentile(xs, 99))) ms" }
    /// "+0.12 ms" / "-0.05 ms": process minus inline.
    func delta(_ x: Double) -> String { (x >= 0 ? "+" : "") + fmt(x * 1000, 2) + " ms" }
    let inlineSwap = swap["inline"]!, processSwap = swap["process"]!

    // 1. typed command round trip.
    let e0 = inlineSwap.flatMap(\.echo), e1 = processSwap.flatMap(\.echo)
    rows.append(Row(metric: "Isolation: typed command round trip (echo, sequential, N=\(e1.count))",
                    value: "process: \(p(e1)) (p50 \(delta(percentile(e1, 50) - percentile(e0, 50))), p99 \(delta(percentile(e1, 99) - percentile(e0, 99))))",
                    baseline: "inline: \(p(e0))", target: "none (reported)", verdict: "n/a"))

    // 2. announcement publish -> GET sent, fresh and cached.
    let a0 = announce["inline"]!, a1 = announce["process"]!
    func getSent(_ xs: [AnnounceSample]) -> [Double] { xs.map { seconds($0.fetch.sentAt! - $0.publishedAt) } }
    var pairNotes: [String] = []
    for (phase, x0, x1) in [("fresh", getSent(a0.flatMap(\.fresh)), getSent(a1.flatMap(\.fresh))),
                            ("cached", getSent(a0.flatMap(\.cached)), getSent(a1.flatMap(\.cached)))] {
        let added = percentile(x1, 99) - percentile(x0, 99)
        rows.append(Row(metric: "Isolation: announce, \(phase) phrase: publish -> speaker's GET sent (N=\(x1.count))",
                        value: "process: \(p(x1)) (p50 \(delta(percentile(x1, 50) - percentile(x0, 50))), p99 \(delta(added)))",
                        baseline: "inline: \(p(x0))",
                        target: "process p99 <= inline p99 + 0.5 ms", verdict: verdict(added <= 0.0005)))
        // The same texts in the same order in both modes: the per-announcement difference leaves out
        // what differs between sentences (the synthesis of a longer text).
        let pairs = zip(x1, x0).map { $0 - $1 }
        let fromTop = x1.count - Int((0.99 * Double(x1.count)).rounded(.up)) + 1
        let ordinal = fromTop == 1 ? "" : fromTop == 2 ? "2nd " : fromTop == 3 ? "3rd " : "\(fromTop)th "
        pairNotes.append("\(phase) (N=\(x1.count), p99 = the \(ordinal)slowest): "
            + "median \(delta(median(pairs))), p90 \(delta(percentile(pairs, 90)))")
    }

    // 3. reload swap window.
    let w0 = inlineSwap.flatMap(\.windowsMs), w1 = processSwap.flatMap(\.windowsMs)
    func windows(_ w: [Double]) -> String { "p50 \(fmt(percentile(w, 50), 2)) ms, p99 \(fmt(percentile(w, 99), 2)) ms, max \(fmt(w.max()!, 2)) ms" }
    rows.append(Row(metric: "Isolation: reload request round trip (swap window, \(w1.count) reloads under 200/s echo)",
                    value: "process: \(windows(w1))", baseline: "inline: \(windows(w0))", target: "none (reported)", verdict: "n/a"))
    func exactlyOnce(_ rs: [SwapLabRun]) -> Bool { rs.allSatisfy { $0.answers.answeredOnce == $0.sent && $0.answers.errors.isEmpty } }
    func countText(_ rs: [SwapLabRun]) -> String {
        func sum(_ f: (SwapLabRun) -> Int) -> Int { rs.map(f).reduce(0, +) }
        return "\(sum { $0.answers.answeredOnce }) of \(sum(\.sent)) exactly once (missing \(sum { $0.answers.missing }), "
            + "duplicated \(sum { $0.answers.duplicated }), errors \(sum { $0.answers.errors.count }))"
    }
    rows.append(Row(metric: "Isolation: echo answers during the reloads", value: "process: " + countText(processSwap),
                    baseline: "inline: " + countText(inlineSwap), target: "all exactly once",
                    verdict: verdict(exactlyOnce(inlineSwap) && exactlyOnce(processSwap))))
    for (mode, rs) in swap {
        if let e = rs.flatMap(\.answers.errors).first { warnings.append("isolation (\(mode)): echo error answers during the reloads, first: \(e)") }
    }
    let hostsLeft = processSwap.map(\.hostsAfterReloads)
    if hostsLeft.contains(where: { $0 != 1 }) {
        warnings.append("isolation (process): plugin-host processes 3 s after the reloads of the one plugin: \(hostsLeft) (expected 1)")
    }

    // 4. memory (the first daemon of each mode).
    let m0 = memory["inline"]!, m1 = memory["process"]!
    rows.append(Row(metric: "Isolation: memory, TTS + log speaker (after the announcements)", value: "process: \(m1.text)",
                    baseline: "inline: \(m0.text)", target: "none (reported)", verdict: "n/a"))
    rows.append(Row(metric: "Isolation: memory, log speaker (after \(echoes) echo commands)", value: "process: \(processSwap[0].memory.text)",
                    baseline: "inline: \(inlineSwap[0].memory.text)", target: "none (reported)", verdict: "n/a"))

    let whereTheTimeGoes = [("inline", a0), ("process", a1)].map { mode, runs in
        "\(mode) fresh: \(announceBreakdown(runs.flatMap(\.fresh))); \(mode) cached: \(announceBreakdown(runs.flatMap(\.cached)))"
    }.joined(separator: "; ")
    notes.append("isolation: each figure with plugins.isolation=inline (baseline) and =process (value), one daemon per mode, lab and round; "
        + "\(rounds) round(s), \(rounds > 1 ? "inline first in the first round, process first in the second, samples pooled" : "inline first"); "
        + "same plugins (log speaker built with cc -O1; espeak-ng TTS with its Makefile, cache on), same counts. "
        + "Typed command: the log speaker's echo, published QoS 1 once the previous answer was in, after 200 unmeasured per daemon; latency = publish "
        + "call .. answer received. Announce: AnnounceBench's method, \(sentences.count) sentences fresh then \(cachedRounds) x cached per daemon; "
        + "per announcement, process minus inline for the same text: \(pairNotes.joined(separator: "; ")). The fresh path is dominated by "
        + "the synthesis, so its p99 difference is mostly the machine's noise. "
        + "Where the time goes (medians): \(whereTheTimeGoes). "
        + "Reload: SwapBench's stream (echo 200/s, reloads every 200 ms, each after the previous answer), after 3 unmeasured; windows (ms) "
        + "inline \(w0.map { fmt($0, 1) }.joined(separator: " ")); process \(w1.map { fmt($0, 1) }.joined(separator: " ")). "
        + "Memory: VmRSS and PSS (smaps_rollup: shared pages split between the processes mapping them, so the sum is what they use "
        + "together) of the daemon and of each plugin-host child (parent = the daemon), named by the plugins answer's pid; "
        + "plugin-host processes after the reloads: \(hostsLeft.map(String.init).joined(separator: ", ")).")
}

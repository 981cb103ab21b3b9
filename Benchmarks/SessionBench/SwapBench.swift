import Foundation
import LabKit

// MARK: 5. commands in flight during a swap

/// Sleeps until `instant` (no-op when it has passed).
func sleepUntil(_ instant: ContinuousClock.Instant) {
    let left = instant - .now
    if left > .zero { Thread.sleep(forTimeInterval: seconds(left)) }
}

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

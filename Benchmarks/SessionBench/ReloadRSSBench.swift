import Foundation
import LabKit

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

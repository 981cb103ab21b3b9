import Foundation
import LabKit
#if canImport(Glibc)
import Glibc
#endif

// MARK: 3. idle RSS and CPU

@MainActor func benchIdle(window: Double) throws {
    progress("idle: \(fmt(window, 0)) s window")
    let broker = try MosquittoBroker(extraConfig: quietBrokerLog)
    try broker.start()
    defer { broker.kill9() }
    let daemon = try benchDaemon(brokerPort: broker.port)
    defer { daemon.stopAndRemoveState() }
    try daemon.start()
    try daemon.waitUntilConnected()
    let id = "sbbench-idle-\(UInt32.random(in: 0...UInt32.max))"
    let sub = try MosquittoTool("mosquitto_sub", port: broker.port, clientID: id, ["-q", "1", "-t", "sbbench/idle/#"])
    defer { sub.stop() }
    try waitForBrokerClient(broker, id: id)
    Thread.sleep(forTimeInterval: 1)  // let start-up work settle
    guard let pid = daemon.process.pid else { throw LabError("daemon has no pid") }
    let d0 = try ProcSample.take(pid: pid), s0 = try ProcSample.take(pid: sub.pid)
    Thread.sleep(forTimeInterval: window)
    let d1 = try ProcSample.take(pid: pid), s1 = try ProcSample.take(pid: sub.pid)
    guard daemon.process.isRunning else { throw LabError("daemon exited during the idle window") }
    rows.append(Row(metric: "Idle RSS (connected, \(fmt(window, 0)) s idle)", value: "\(fmt(d1.rssMB, 1)) MB (RssAnon \(fmt(d1.anonMB, 1)) MB)",
                    baseline: "idle mosquitto_sub: \(fmt(s1.rssMB, 1)) MB (RssAnon \(fmt(s1.anonMB, 1)) MB)", target: "< 25 MB", verdict: verdict(d1.rssMB < 25)))
    rows.append(Row(metric: "Idle CPU (same window)", value: "\(fmt(ProcSample.cpuPercent(d0, d1), 2)) % of a core",
                    baseline: "idle mosquitto_sub: \(fmt(ProcSample.cpuPercent(s0, s1), 2)) %", target: "none (reported)", verdict: "n/a"))
    notes.append("idle: VmRSS (target applies to it) at the end of the window, RssAnon = VmRSS minus file-backed pages (shared libraries); CPU = utime+stime delta (\(Int(sysconf(Int32(_SC_CLK_TCK)))) ticks/s) over the window")
}

import Foundation
import LabKit

/// Broker logging for benchmarks: `log_type all` (LabKit's default) writes and flushes a line
/// per PUBLISH/PUBACK, which would slow the broker in the throughput runs. Connection lines
/// ("New client connected ... as ID", information level) are still logged: the bare baselines
/// are detected through them.
let quietBrokerLog = ["log_type none", "log_type error", "log_type warning", "log_type notice", "log_type information"]

/// Waits until the broker log shows that client `id` connected (`count` times in total).
func waitForBrokerClient(_ broker: MosquittoBroker, id: String, count: Int = 1, timeout: Double = 10) throws {
    let marker = " as \(id) ("
    guard waitUntil(timeout: timeout, interval: 0.005, {
        ((try? String(contentsOfFile: broker.logPath, encoding: .utf8)) ?? "").components(separatedBy: marker).count - 1 >= count
    }) else {
        throw LabError("broker log shows no connection of \(id) within \(timeout) s")
    }
}

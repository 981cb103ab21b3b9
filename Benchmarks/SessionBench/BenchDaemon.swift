import Foundation
import LabKit

/// LabKit's daemon as the benchmarks run it: none of the tests' fast-reconnect settings, so what is
/// measured is the daemon as configured out of the box plus `settings`.
/// `moreBrokers` make it a list (`mqtt.brokers`): `host:port` entries tried after the first.
func benchDaemon(brokerHost: String = "127.0.0.1", brokerPort: Int, moreBrokers: [String] = [], settings: [String: String] = [:],
                 netns: String? = nil) throws -> DaemonUnderTest {
    try DaemonUnderTest(brokerHost: brokerHost, brokerPort: brokerPort, moreBrokers: moreBrokers, settings: settings,
                        defaults: [:], netns: netns,
                        stateDirectory: TempDirectory(prefix: "sbbench"), base: "sbbench\(UInt32.random(in: 0...UInt32.max))")
}

/// The last lines of the daemon's log, for an error message.
func logExcerpt(_ daemon: DaemonUnderTest, lines: Int = 15) -> String {
    "--- \(daemon.logPath):\n" + tail(of: daemon.logPath, lines: lines)
}

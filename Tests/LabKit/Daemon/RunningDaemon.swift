import Foundation

/// A broker, a daemon connected to it, and a watcher of `filters` (bridge/state always included).
public func runningDaemon(settings: [String: String] = [:], watching filters: [String] = []) throws
    -> (broker: MosquittoBroker, daemon: DaemonUnderTest, watch: TestClient)
{
    let broker = try MosquittoBroker()
    try broker.start()
    let daemon = try DaemonUnderTest(brokerPort: broker.port, settings: settings)
    let watch = try watcher(port: broker.port, [daemon.topics.state] + filters)
    try daemon.start()
    try waitForOnline(watch, daemon)
    return (broker, daemon, watch)
}

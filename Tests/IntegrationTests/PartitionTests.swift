import Foundation
import LabKit
import XCTest

/// A network partition between the daemon and its broker, in a two-host netns lab.
final class PartitionTests: XCTestCase {
    func testPartitionIsDetectedWithinKeepaliveAndTheSessionResumes() throws {
        try requireRoot("network partition test")
        let lab = try NetnsLab(hosts: 2)
        defer { lab.destroy() }
        let (brokerHost, daemonHost) = (lab.hosts[0], lab.hosts[1])
        let broker = try MosquittoBroker(bindAddress: brokerHost.address, netns: brokerHost.name)
        try broker.start()
        let keepalive = 5.0
        let daemon = try DaemonUnderTest(brokerHost: brokerHost.address, brokerPort: broker.port, settings: [
            "mqtt.keepalive": "\(Int(keepalive))", "mqtt.reconnect.max_delay": "2", "mqtt.reconnect.connect_timeout": "2",
        ], netns: daemonHost.name)
        try daemon.start()
        try daemon.process.waitForLog(containing: "mqtt: connected to", timeout: 20)

        // The outside world lives next to the broker: it keeps publishing while the daemon is cut off.
        let events = try lab.background(host: brokerHost, ["mosquitto_sub", "-h", brokerHost.address, "-p", "\(broker.port)",
                                                           "-q", "1", "-v", "-t", daemon.topics.events, "-t", daemon.topics.state])
        defer { events.stop() }
        Thread.sleep(forTimeInterval: 0.5)

        try lab.linkDown(host: daemonHost)
        let cut = Date()
        for i in 0..<20 {
            try lab.exec(host: brokerHost, ["mosquitto_pub", "-h", brokerHost.address, "-p", "\(broker.port)", "-q", "1",
                                            "-t", daemon.topics.speak, "-m", #"{"id":"p\#(i)","text":"while cut off"}"#])
        }
        XCTAssertTrue(waitUntil(timeout: 1.5 * keepalive + 3) { daemon.log().contains("MOSQ_ERR_KEEPALIVE") },
                      "loss not detected within 1.5 x keepalive + 3 s:\n\(daemon.log())")
        let detected = Date().timeIntervalSince(cut)
        print("partition detected after \(String(format: "%.1f", detected)) s (keepalive \(keepalive) s)")
        XCTAssertLessThanOrEqual(detected, 1.5 * keepalive + 3)
        let remaining = 2 * keepalive - Date().timeIntervalSince(cut)
        if remaining > 0 { Thread.sleep(forTimeInterval: remaining) }

        try lab.linkUp(host: daemonHost)
        XCTAssertTrue(waitUntil(timeout: 30) { daemon.count("mqtt: connected to") >= 2 }, daemon.log())
        XCTAssertTrue(daemon.log().contains("session resumed"), "the broker kept our session:\n\(daemon.log())")
        XCTAssertTrue(waitUntil(timeout: 20) { (0..<20).allSatisfy { events.output().contains(#""id":"p\#($0)""#) } },
                      "requests published during the partition are processed:\n\(events.output().suffix(2000))")
        XCTAssertTrue(events.output().contains(#""state":"offline""#), "the broker fired our Will during the partition")
    }
}

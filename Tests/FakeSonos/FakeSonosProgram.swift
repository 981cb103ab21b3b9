import Foundation
import LabKit

/// The `fake-sonos` program running inside a lab host: how tests get a household that answers
/// SSDP (which the in-process library cannot do from the test runner's own namespace).
public final class FakeSonosProgram: Sendable {
    /// One player as the program printed it.
    public struct Player: Sendable, Equatable {
        public let name: String
        public let uuid: String
        public let location: String
        /// "<host>:1400"
        public var address: String { URL(string: location).map { "\($0.host ?? ""):\($0.port ?? 0)" } ?? "" }
    }

    public let householdID: String
    public let players: [Player]
    private let command: BackgroundCommand

    private init(householdID: String, players: [Player], command: BackgroundCommand) {
        self.householdID = householdID
        self.players = players
        self.command = command
    }

    /// `fake-sonos` next to the daemon binary (both built by `swift build`).
    public static func binaryPath() throws -> String {
        let path = URL(fileURLWithPath: try DaemonProcess.binaryPath()).deletingLastPathComponent()
            .appendingPathComponent("fake-sonos").path
        guard FileManager.default.isExecutableFile(atPath: path) else { throw LabError("fake-sonos not built at \(path)") }
        return path
    }

    /// Starts `fake-sonos` in `host` with `arguments` (e.g. `["--players", "2", "--prefix", lab.subnet,
    /// "--ssdp-interface", host.interface]`) and waits until it says it is ready.
    public static func start(in lab: NetnsLab, host: LabHost, arguments: [String], timeout: TimeInterval = 15) async throws
        -> FakeSonosProgram {
        let command = try lab.background(host: host, [try binaryPath()] + arguments)
        let deadline = Date().addingTimeInterval(timeout)
        var output = command.output()
        while !output.contains("\nready"), Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
            output = command.output()
        }
        guard output.contains("\nready") else {
            command.stop()
            throw LabError("fake-sonos in \(host) did not get ready within \(timeout) s: \(output)")
        }
        var household = ""
        var players: [Player] = []
        for line in output.split(separator: "\n") {
            if line.hasPrefix("household ") { household = String(line.dropFirst("household ".count)) }
            let fields = line.split(separator: "\t").map(String.init)
            if fields.count == 3 {
                players.append(Player(name: fields[0], uuid: fields[1], location: String(fields[2].split(separator: " ")[0])))
            }
        }
        return FakeSonosProgram(householdID: household, players: players, command: command)
    }

    /// Everything the program printed so far (stdout and stderr).
    public var output: String { command.output() }

    /// SIGTERM (byebye sent, servers closed), then gone.
    public func stop() { command.stop() }
}

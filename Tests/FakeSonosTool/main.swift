import ArgumentParser
import FakeSonos
import Foundation
import Synchronization

/// A Sonos household you can run: N players, each on its own loopback address at port 1400 as
/// real players listen, behaving as real players do (`--quirks real`, the default), until SIGINT
/// or SIGTERM. SSDP only inside a network namespace (see SSDPResponder).
@main
struct FakeSonosTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fake-sonos",
        abstract: "Runs a simulated Sonos household (UPnP/SOAP/GENA on loopback; SSDP only inside a network namespace).")

    @Option(name: .long, help: "How many players.")
    var players: Int = 2

    @Option(name: .long, help: "Player N listens on <prefix>.N:1400 (default: a random 127.x.y prefix).")
    var prefix: String?

    @Option(name: .long, help: """
        real (every quirk, default), kind (none), or a comma list of: partialEvents, memberReportsCoordinator, \
        realFaultCodes, zoneGroupStateLimit[=N], audioClipSubscribeBeforeEvents, audioClipOutlivesSocket.
        """)
    var quirks: String = "real"

    @Option(name: .long, help: "Answer SSDP and send NOTIFY on this interface (refused outside a network namespace).")
    var ssdpInterface: String?

    @Option(name: .long, help: "Comma-separated room names (default: Living Room, Kitchen, …).")
    var names: String?

    @Flag(name: .long, help: "Serve the audioClip local API (TLS WebSocket) on every player, at <prefix>.N:1443.")
    var audioClip = false

    static let rooms = ["Living Room", "Kitchen", "Bedroom", "Office", "Bathroom", "Dining Room", "Study", "Hallway",
                        "Patio", "Garage", "Nursery", "Guest Room"]

    func validate() throws {
        guard (1...250).contains(players) else { throw ValidationError("--players must be 1...250") }
        if let prefix {
            let octets = prefix.split(separator: ".", omittingEmptySubsequences: false)
            guard octets.count == 3, octets.allSatisfy({ UInt8($0) != nil }) else {
                throw ValidationError("--prefix must be three octets, e.g. 127.42.7")
            }
        }
        _ = try Self.parseQuirks(quirks)
    }

    static func parseQuirks(_ text: String) throws -> FakeSonosQuirks {
        switch text {
        case "real": return .real
        case "kind", "none", "": return .kind
        default: break
        }
        var q = FakeSonosQuirks.kind
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            switch parts[0] {
            case "partialEvents": q.partialEvents = true
            case "memberReportsCoordinator": q.memberReportsCoordinator = true
            case "realFaultCodes": q.realFaultCodes = true
            case "zoneGroupStateLimit":
                guard let n = Int(parts.count > 1 ? parts[1] : "20"), n >= 0 else {
                    throw ValidationError("zoneGroupStateLimit=N needs a number")
                }
                q.zoneGroupStateLimit = n
            case "audioClipSubscribeBeforeEvents": q.audioClipSubscribeBeforeEvents = true
            case "audioClipOutlivesSocket": q.audioClipOutlivesSocket = true
            default: throw ValidationError("unknown quirk \(parts[0]) (see --help)")
            }
        }
        return q
    }

    func run() async throws {
        let given = names?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
        let roomNames = (0..<players).map { k in
            k < given.count ? given[k] : (k < Self.rooms.count ? Self.rooms[k] : "Room \(k + 1)")
        }
        let addressing: FakeSonosAddressing = prefix.map { .loopback(prefix: $0) } ?? .randomLoopback()
        let household = try await FakeSonosHousehold.start(
            players: roomNames.map { FakeSonosPlayerOptions(name: $0, audioClip: audioClip) },
            quirks: try Self.parseQuirks(quirks), addressing: addressing)
        var ssdp: SSDPResponder?
        do {
            if let ssdpInterface { ssdp = try await SSDPResponder.start(household: household, interface: ssdpInterface) }
        } catch {
            await household.stop()
            throw error
        }
        // Written at once and unbuffered: whoever started the program waits for "ready".
        var lines = ["household \(household.householdID)"]
        for p in household.players {
            let clip = p.audioClipPort.map { " audioclip=\(p.host):\($0)" } ?? ""
            lines.append("\(p.name)\t\(p.uuid)\t\(p.location)\(clip)")
        }
        lines.append(ssdp == nil ? "ready (no SSDP)" : "ready (SSDP on \(ssdpInterface!))")
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        await Self.waitForTermination()
        await ssdp?.stop()
        await household.stop()
    }

    /// Returns on SIGINT or SIGTERM.
    static func waitForTermination() async {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let queue = DispatchQueue(label: "fake-sonos.signals")
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let once = OnceFlag()
            let sources = [SIGINT, SIGTERM].map { DispatchSource.makeSignalSource(signal: $0, queue: queue) }
            for source in sources {
                source.setEventHandler {
                    if once.take() {
                        sources.forEach { $0.cancel() }
                        done.resume()
                    }
                }
                source.resume()
            }
        }
    }
}

/// True exactly once, for the first signal (both may arrive).
final class OnceFlag: Sendable {
    private let taken = Mutex(false)
    func take() -> Bool { taken.withLock { t in defer { t = true }; return !t } }
}

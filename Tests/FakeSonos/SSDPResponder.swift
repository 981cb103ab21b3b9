import Foundation
import NIOCore
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// SSDP for a fake household, as Sonos players do it: unicast answers to M-SEARCH (ssdp:all,
/// upnp:rootdevice, uuid:<udn>, ZonePlayer:1, MediaRenderer:1) with the Sonos headers
/// (X-RINCON-HOUSEHOLD, X-RINCON-BOOTSEQ, HOUSEHOLD.SMARTSPEAKER.AUDIO, …) and NOTIFY
/// ssdp:alive on start, ssdp:byebye on stop. The header set is the one of svrooij/node-sonos-ts,
/// src/tests/test-helpers.ts (emitSsdpMessage) and of real answers recorded in the driver's
/// tests/test_basics.c.
///
/// Network safety (hard rule): it multicasts, so it refuses to start in the machine's initial
/// network namespace, and only on an interface of the namespace it runs in. Run it inside a lab
/// namespace (`ip netns exec <ns> fake-sonos … --ssdp-interface lab0`).
public final class SSDPResponder: Sendable {
    public static let multicastAddress = "239.255.255.250"
    public static let port = 1900

    public struct Refused: Error, CustomStringConvertible {
        public let description: String
    }

    private let channel: Channel
    private let group: MultiThreadedEventLoopGroup
    private let household: FakeSonosHousehold
    private let answers = Mutex<[String]>([])

    /// Why SSDP must not run here, or nil when this process runs in a network namespace other
    /// than the machine's initial one: compared with pid 1's when that is readable, else (pid 1's
    /// namespace is hidden in containers, even from root) this must be a namespace made with
    /// `ip netns add` (one of /run/netns).
    public static func refusal() -> String? {
        func identity(_ path: String) -> String? {
            var st = stat()
            guard stat(path, &st) == 0 else { return nil }
            return "\(st.st_dev):\(st.st_ino)"
        }
        guard let own = identity("/proc/self/ns/net") else { return "cannot stat /proc/self/ns/net" }
        if let initial = identity("/proc/1/ns/net") {
            return own == initial
                ? "this process runs in the machine's initial network namespace: SSDP would reach the real network; "
                    + "run it inside a lab namespace (ip netns exec …)"
                : nil
        }
        let named = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        if named.contains(where: { identity("/run/netns/" + $0) == own }) { return nil }
        return "this process does not run inside a namespace made with `ip netns add` (and /proc/1/ns/net is "
            + "unreadable, so it may be the machine's initial network namespace): SSDP would reach the real network"
    }

    /// Starts answering on `interface` (which must exist in this namespace and have an IPv4 address)
    /// and sends NOTIFY ssdp:alive for every player.
    public static func start(household: FakeSonosHousehold, interface: String) async throws -> SSDPResponder {
        if let reason = refusal() { throw Refused(description: "SSDP refused: \(reason)") }
        guard let device = try System.enumerateDevices().first(where: {
            $0.name == interface && $0.address?.protocol == .inet
        }), case .v4(let v4)? = device.address else {
            throw Refused(description: "SSDP refused: no interface \(interface) with an IPv4 address in this namespace")
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let handler = SearchHandler()
        do {
            let channel = try await DatagramBootstrap(group: group)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelInitializer { $0.pipeline.addHandler(handler) }
                .bind(host: "0.0.0.0", port: port).get()
            let multicastGroup = try SocketAddress(ipAddress: multicastAddress, port: port)
            try await (channel as! MulticastChannel).joinGroup(multicastGroup, device: device).get()
            // Multicast leaves through the given interface only, never by the routing table.
            guard let options = channel as? SocketOptionProvider else { throw Refused(description: "no socket options") }
            try await options.setIPMulticastIF(v4.address.sin_addr).get()
            try await options.setIPMulticastTTL(2).get()
            let responder = SSDPResponder(channel: channel, group: group, household: household)
            handler.responder.withLock { $0 = responder }
            try await responder.notify("ssdp:alive")
            return responder
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private init(channel: Channel, group: MultiThreadedEventLoopGroup, household: FakeSonosHousehold) {
        self.channel = channel
        self.group = group
        self.household = household
    }

    /// The search targets answered so far, in order (one entry per answer sent).
    public var answered: [String] { answers.withLock { $0 } }

    /// Sends NOTIFY ssdp:alive for every player that is online again (real players repeat it
    /// every few minutes and after a reboot; the responder only when asked).
    public func announce() async throws {
        try await notify("ssdp:alive")
    }

    /// Sends NOTIFY ssdp:byebye for every player and stops.
    public func stop() async {
        try? await notify("ssdp:byebye")
        try? await channel.close()
        try? await group.shutdownGracefully()
    }

    // MARK: Messages

    struct Target {
        let st: String
        let usn: String
    }

    struct Device {
        let uuid: String
        let location: String
        let server: String
        let audio: Bool
        let bootSeq: Int
    }

    private var devices: [Device] {
        household.core.read { m in
            m.players.indices.filter { m.players[$0].online }.map { i in
                Device(uuid: m.players[i].uuid, location: m.location(of: i), server: m.players[i].model.serverHeader,
                       audio: !m.players[i].model.isZoneBridge, bootSeq: m.players[i].bootSeq)
            }
        }
    }

    /// What a device announces: root device, its UDN, ZonePlayer:1 and (players with audio) the
    /// MediaRenderer:1 of its embedded `_MR` device.
    static func targets(of d: Device) -> [Target] {
        var t = [Target(st: "upnp:rootdevice", usn: "uuid:\(d.uuid)::upnp:rootdevice"),
                 Target(st: "uuid:\(d.uuid)", usn: "uuid:\(d.uuid)"),
                 Target(st: "urn:schemas-upnp-org:device:ZonePlayer:1",
                        usn: "uuid:\(d.uuid)::urn:schemas-upnp-org:device:ZonePlayer:1")]
        if d.audio {
            t.append(Target(st: "urn:schemas-upnp-org:device:MediaRenderer:1",
                            usn: "uuid:\(d.uuid)_MR::urn:schemas-upnp-org:device:MediaRenderer:1"))
        }
        return t
    }

    /// The Sonos headers every answer and NOTIFY carries.
    private func sonosHeaders(_ d: Device) -> [String] {
        let household = self.household.householdID
        return ["X-RINCON-HOUSEHOLD: \(household)", "X-RINCON-BOOTSEQ: \(d.bootSeq)", "BOOTID.UPNP.ORG: \(d.bootSeq)",
                "X-RINCON-WIFIMODE: 0", "X-RINCON-VARIANT: 2",
                "HOUSEHOLD.SMARTSPEAKER.AUDIO: \(household).\(d.uuid.dropFirst("RINCON_".count).prefix(12))",
                "X-RINCON-REGISTRATIONSTATE: 3"]
    }

    func answers(to st: String) -> [String] {
        var out: [String] = []
        for d in devices {
            for t in Self.targets(of: d) where st == "ssdp:all" || st == t.st {
                let lines = ["HTTP/1.1 200 OK", "CACHE-CONTROL: max-age = 1800", "EXT:", "LOCATION: \(d.location)",
                             "SERVER: \(d.server)", "ST: \(t.st)", "USN: \(t.usn)"] + sonosHeaders(d)
                out.append(lines.joined(separator: "\r\n") + "\r\n\r\n")
                answers.withLock { $0.append(t.st) }
            }
        }
        return out
    }

    private func notify(_ nts: String) async throws {
        let to = try SocketAddress(ipAddress: Self.multicastAddress, port: Self.port)
        for d in devices {
            for t in Self.targets(of: d) {
                var lines = ["NOTIFY * HTTP/1.1", "HOST: \(Self.multicastAddress):\(Self.port)"]
                if nts == "ssdp:alive" { lines += ["CACHE-CONTROL: max-age = 1800", "LOCATION: \(d.location)", "SERVER: \(d.server)"] }
                lines += ["NT: \(t.st)", "NTS: \(nts)", "USN: \(t.usn)"] + sonosHeaders(d)
                let text = lines.joined(separator: "\r\n") + "\r\n\r\n"
                try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: to, data: ByteBuffer(string: text))).get()
            }
        }
    }

    func reply(_ texts: [String], to peer: SocketAddress) {
        for text in texts {
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: peer, data: ByteBuffer(string: text)), promise: nil)
        }
    }
}

/// Reads M-SEARCH requests and hands them to the responder (set once it exists).
private final class SearchHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let responder = Mutex<SSDPResponder?>(nil)

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let text = String(buffer: envelope.data)
        var lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = lines.first, first.uppercased().hasPrefix("M-SEARCH * HTTP/1.1") else { return }
        lines.removeFirst()
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].trimmingCharacters(in: .whitespaces).uppercased()] =
                line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        // UPnP 1.1: a search must say MAN: "ssdp:discover"; anything else is not a search.
        guard headers["MAN"] == "\"ssdp:discover\"", let st = headers["ST"], let responder = responder.withLock({ $0 }) else {
            return
        }
        responder.reply(responder.answers(to: st), to: envelope.remoteAddress)
    }
}

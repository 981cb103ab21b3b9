import Foundation
import Logging
import NIOCore
import NIOPosix
import PluginAPI
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// UDP sockets for plugins (SB_HOST_EXT_UDP): SSDP discovery and anything else datagram-shaped.
///
/// One per instance. Each socket is a SwiftNIO datagram channel bound to one interface; datagrams
/// go to the plugin's `receive` on its serial executor. Outgoing multicast leaves only on the
/// socket's interface (IP_MULTICAST_IF), with TTL 2 and without looping back. Every socket of a
/// generation is closed when it is unloaded (`closeAll`).
///
/// Bounds, so a flood cannot take the daemon's memory: a datagram is read into at most 64 KiB,
/// at most `maxPending` datagrams per socket wait for the plugin's executor (later ones are dropped
/// and counted in the log), and an instance has at most `maxSockets` sockets.
final class PluginUDP: Sendable {
    /// The plugin's `receive` and its `user`, handed back to the plugin on its own executor only.
    struct Receive: @unchecked Sendable {
        // @unchecked: plugin-owned pointers we never dereference; they are only passed back to
        // the plugin's function on the plugin's serial executor.
        let fn: sb_udp_receive_fn
        let user: UnsafeMutableRawPointer?
    }

    static let maxSockets = 32
    static let maxPending = 256
    static let readBuffer = 64 << 10
    /// The largest UDP payload over IPv4.
    static let maxDatagram = 65_507
    /// UPnP asks for a small TTL on SSDP; 2 leaves room for one router, as the UDA spec suggests.
    static let multicastTTL: CUnsignedChar = 2

    private final class Socket: Sendable {
        let channel: (any Channel)?
        let description: String
        let pending = Atomic<Int>(0)
        let dropped = Atomic<Int>(0)
        init(channel: (any Channel)?, description: String) {
            self.channel = channel
            self.description = description
        }
    }

    private let label: String
    private let logger: Logger
    private let executor: PluginExecutor
    private let defaultInterface: String
    private let offline: Bool
    private let sockets = Mutex<[UInt64: Socket]>([:])
    /// Ids handed out while their socket is being set up; they count against `maxSockets`.
    private let opening = Mutex<Set<UInt64>>([])
    private let nextID = Atomic<UInt64>(1)
    private let closed = Atomic<Bool>(false)

    /// `offline` (for `plugin check`): sockets are handed out but nothing is bound or sent, so an
    /// offline check never puts a packet on the network.
    init(label: String, logger: Logger, executor: PluginExecutor, defaultInterface: String, offline: Bool) {
        self.label = label
        self.logger = logger
        self.executor = executor
        self.defaultInterface = defaultInterface
        self.offline = offline
    }

    // MARK: open

    /// Opens a socket on `interface` ("" = the configured default), `port` (0 = any), joining
    /// `group` when given. Blocks the caller for the few milliseconds binding takes.
    func open(interface spec: String, port: UInt16, group: String?, receive: Receive) throws(HostServiceProblem) -> UInt64 {
        if let group, !Self.isMulticastIPv4(group) {
            throw HostServiceProblem(status: SB_ERR_INVALID, description: "\(group) is not an IPv4 multicast group (224.0.0.0/4)")
        }
        let interface: IPv4Interface
        do throws(NetworkInterfaces.Problem) {
            interface = try NetworkInterfaces.resolve(spec, defaultInterface: defaultInterface)
        } catch {
            throw HostServiceProblem(status: SB_ERR_INVALID, description: error.description)
        }
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let admitted = opening.withLock { opening in
            guard !closed.load(ordering: .acquiring), opening.count + sockets.withLock({ $0.count }) < Self.maxSockets else { return false }
            opening.insert(id)
            return true
        }
        guard admitted else {
            throw HostServiceProblem(status: SB_ERR_BUSY, description: closed.load(ordering: .acquiring)
                ? "the plugin is being unloaded" : "too many UDP sockets (at most \(Self.maxSockets) per plugin)")
        }
        defer { opening.withLock { _ = $0.remove(id) } }
        let bindHost = group == nil ? interface.address : "0.0.0.0"
        let description = "\(bindHost):\(port) on \(interface.name)" + (group.map { " in \($0)" } ?? "")
        let channel: (any Channel)?
        if offline {
            channel = nil
        } else {
            if MultiThreadedEventLoopGroup.currentEventLoop != nil {
                throw HostServiceProblem(status: SB_ERR_FAILED, description: "a socket cannot be opened from a SwiftNIO event loop thread")
            }
            channel = try Self.bind(host: bindHost, port: port, interface: interface, group: group,
                                    receiver: DatagramReceiver(owner: self, id: id, receive: receive))
        }
        let socket = Socket(channel: channel, description: description)
        // An unload that ran while we were binding has not seen this socket: close it ourselves.
        let kept = opening.withLock { _ in
            guard !closed.load(ordering: .acquiring) else { return false }
            sockets.withLock { $0[id] = socket }
            return true
        }
        guard kept else {
            channel?.close(promise: nil)
            throw HostServiceProblem(status: SB_ERR_BUSY, description: "the plugin is being unloaded")
        }
        let local = channel?.localAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "(offline check)"
        logger.debug("plugin \(label): UDP socket \(id) open: \(description), bound to \(local)")
        return id
    }

    private static func bind(host: String, port: UInt16, interface: IPv4Interface, group: String?,
                             receiver: DatagramReceiver) throws(HostServiceProblem) -> any Channel {
        let bootstrap = DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: readBuffer))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(receiver) }
            }
        let channel: any Channel
        do {
            channel = try bootstrap.bind(host: host, port: Int(port)).wait()
        } catch {
            throw HostServiceProblem(status: SB_ERR_FAILED, description: "cannot bind \(host):\(port): \(Self.explain(error))")
        }
        do {
            guard let options = channel as? any SocketOptionProvider else {
                throw HostServiceProblem(status: SB_ERR_FAILED, description: "the datagram channel has no socket options")
            }
            // Outgoing multicast (M-SEARCH) leaves on the chosen interface only, close by, and is
            // not looped back to our own sockets.
            try options.setIPMulticastIF(interface.inAddress).wait()
            try options.setIPMulticastTTL(multicastTTL).wait()
            try options.setIPMulticastLoop(0).wait()
            #if os(Linux)
            // Linux delivers to a 0.0.0.0-bound socket the groups joined by ANY socket of the host
            // unless IP_MULTICAST_ALL is off: receive only what this socket joined.
            let ipMulticastAll = NIOBSDSocket.Option(rawValue: 49)
            try options.unsafeSetSocketOption(level: .ip, name: ipMulticastAll, value: CInt(0)).wait()
            #endif
            if let group {
                guard let multicast = channel as? any MulticastChannel else {
                    throw HostServiceProblem(status: SB_ERR_FAILED, description: "the datagram channel cannot join groups")
                }
                let devices = (try? System.enumerateDevices()) ?? []
                guard let device = devices.first(where: { $0.name == interface.name && $0.address?.ipAddress == interface.address }) else {
                    throw HostServiceProblem(status: SB_ERR_FAILED, description: "interface \(interface.name) is not in SwiftNIO's device list")
                }
                try multicast.joinGroup(try SocketAddress(ipAddress: group, port: 0), device: device).wait()
            }
        } catch let problem as HostServiceProblem {
            channel.close(promise: nil)
            throw problem
        } catch {
            channel.close(promise: nil)
            let what = group.map { "cannot join \($0) on \(interface.name)" } ?? "cannot set up the socket on \(interface.name)"
            throw HostServiceProblem(status: SB_ERR_FAILED, description: "\(what): \(Self.explain(error))")
        }
        return channel
    }

    private static func explain(_ error: any Error) -> String {
        guard let io = error as? IOError else { return "\(error)" }
        switch io.errnoCode {
        case EADDRINUSE: return "address in use"
        case EACCES: return "permission denied"
        case EADDRNOTAVAIL: return "address not available"
        case ENODEV: return "no such device"
        default: return String(cString: strerror(io.errnoCode))
        }
    }

    static func isMulticastIPv4(_ text: String) -> Bool {
        var a = in_addr()
        guard inet_pton(AF_INET, text, &a) == 1 else { return false }
        return (UInt32(bigEndian: a.s_addr) >> 28) == 0xE
    }

    // MARK: send, close

    /// Sends one datagram to an IPv4 address. Waits (at most 2 s) until the kernel took it, so a
    /// plugin learns about an unreachable network.
    func send(_ id: UInt64, address: String, port: UInt16, bytes: [UInt8]) -> Int32 {
        guard let socket = sockets.withLock({ $0[id] }) else { return SB_ERR_NOT_FOUND }
        guard NetworkInterfaces.isIPv4(address), port != 0, bytes.count <= Self.maxDatagram,
              let remote = try? SocketAddress(ipAddress: address, port: Int(port)) else { return SB_ERR_INVALID }
        guard let channel = socket.channel else { return SB_OK }
        let written = channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: ByteBuffer(bytes: bytes)))
        // Never block an event loop (a plugin has no business calling from one, but be safe).
        if MultiThreadedEventLoopGroup.currentEventLoop != nil { return SB_OK }
        let done = DispatchSemaphore(value: 0)
        let failure = Mutex<(any Error)?>(nil)
        written.whenComplete { result in
            if case .failure(let error) = result { failure.withLock { $0 = error } }
            done.signal()
        }
        guard done.wait(timeout: .now() + 2) == .success else { return SB_OK }
        if let error = failure.withLock({ $0 }) {
            logger.debug("plugin \(label): UDP socket \(id): send to \(address):\(port) failed: \(Self.explain(error))")
            return SB_ERR_FAILED
        }
        return SB_OK
    }

    func close(_ id: UInt64) {
        guard let socket = sockets.withLock({ $0.removeValue(forKey: id) }) else { return }
        socket.channel?.close(promise: nil)
        logger.debug("plugin \(label): UDP socket \(id) closed (\(socket.description))")
    }

    /// Closes every socket; later `open`s fail. Datagrams already queued for the plugin are dropped.
    func closeAll() {
        let all = opening.withLock { _ in
            closed.store(true, ordering: .releasing)
            return sockets.withLock { s in defer { s.removeAll() }; return Array(s.values) }
        }
        for socket in all { socket.channel?.close(promise: nil) }
    }

    // MARK: receiving

    fileprivate func received(_ id: UInt64, from: SocketAddress, bytes: [UInt8], receive: Receive) {
        guard let socket = sockets.withLock({ $0[id] }) else { return }
        guard socket.pending.wrappingAdd(1, ordering: .relaxed).oldValue < Self.maxPending else {
            socket.pending.wrappingSubtract(1, ordering: .relaxed)
            let dropped = socket.dropped.wrappingAdd(1, ordering: .relaxed).newValue
            if dropped == 1 || dropped % 1000 == 0 {
                logger.warning("plugin \(label): UDP socket \(id) (\(socket.description)): \(dropped) datagrams dropped so far: the plugin does not keep up (\(Self.maxPending) waiting)")
            }
            return
        }
        let address = from.ipAddress ?? "", port = UInt16(clamping: from.port ?? 0)
        executor.async { [weak self] in
            socket.pending.wrappingSubtract(1, ordering: .relaxed)
            // Closed (or unloaded) meanwhile: the plugin must not hear from it any more.
            guard let self, self.sockets.withLock({ $0[id] === socket }) else { return }
            address.withCString { from in
                bytes.withUnsafeBytes { data in receive.fn(receive.user, from, port, data.baseAddress, data.count) }
            }
        }
    }
}

/// Hands each datagram of one socket to its `PluginUDP`.
private final class DatagramReceiver: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let id: UInt64
    private let receive: PluginUDP.Receive
    // Weak: the channel (and this handler) may outlive the instance's UDP service by a moment.
    private weak let owner: PluginUDP?

    init(owner: PluginUDP, id: UInt64, receive: PluginUDP.Receive) {
        self.owner = owner
        self.id = id
        self.receive = receive
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        owner?.received(id, from: envelope.remoteAddress, bytes: Array(envelope.data.readableBytesView), receive: receive)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A datagram socket carries on after a failed read (e.g. ICMP errors); nothing to do.
    }
}

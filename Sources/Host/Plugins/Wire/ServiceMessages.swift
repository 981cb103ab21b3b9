import Foundation

/// The host services' messages of the plugin host protocol (WireMethod 100…299): one struct per
/// message, encoded and decoded here only, so the plugin host (which sends the requests and reads
/// the events) and the daemon (which serves them) cannot disagree on a field's order.
///
/// Ids that cross (`id` of an HTTP request, UDP socket, route or WebSocket) are the CHILD's: the
/// plugin host hands the plugin its own ids and the daemon maps them to its services' ids, so an
/// event can be routed before the daemon's answer to the request that made it has arrived.
/// docs/plugins.md, "The host services across the socket", lists every message.

/// A message both ends encode and decode with the same code.
protocol WireMessage: Sendable {
    func encode() -> [UInt8]
    init(decoding bytes: [UInt8]) throws(WireReader.Truncated)
}

extension WireMessage {
    /// Runs `read` over `bytes` and insists that nothing is left over (a longer message is a
    /// different version of the protocol, not something to ignore).
    static func reading(_ bytes: [UInt8], _ read: (inout WireReader) throws(WireReader.Truncated) -> Self) throws(WireReader.Truncated) -> Self {
        var reader = WireReader(bytes)
        let value = try read(&reader)
        guard reader.isAtEnd else { throw WireReader.Truncated(description: "\(Self.self) has bytes left over") }
        return value
    }

    static func writing(_ write: (inout WireWriter) -> Void) -> [UInt8] {
        var writer = WireWriter()
        write(&writer)
        return writer.bytes
    }
}

// MARK: replies shared by several calls

/// The answer of a call whose C function returns only an sb_status (publish, UDP send, WebSocket
/// open and send, HTTP request, a route request's HTTP status).
struct ServiceStatusReply: WireMessage, Equatable {
    var status: Int32

    init(status: Int32) { self.status = status }
    func encode() -> [UInt8] { Self.writing { $0.i32(status) } }
    init(decoding bytes: [UInt8]) throws(WireReader.Truncated) {
        self = try Self.reading(bytes) { r throws(WireReader.Truncated) in Self(status: try r.i32()) }
    }
}

/// A status and a text: the URL of a media put or a route, the `err` text of a UDP open.
struct ServiceStatusTextReply: WireMessage, Equatable {
    var status: Int32
    var text: String

    init(status: Int32, text: String) {
        self.status = status
        self.text = text
    }
    func encode() -> [UInt8] { Self.writing { $0.i32(status); $0.string(text) } }
    init(decoding bytes: [UInt8]) throws(WireReader.Truncated) {
        self = try Self.reading(bytes) { r throws(WireReader.Truncated) in Self(status: try r.i32(), text: try r.string()) }
    }
}

/// The child's id of a request, socket or route: HTTP cancel, UDP close, route remove and
/// WebSocket close (notes; each has no effect on an unknown id).
struct ServiceIDNote: WireMessage, Equatable {
    var id: UInt64

    init(id: UInt64) { self.id = id }
    func encode() -> [UInt8] { Self.writing { $0.u64(id) } }
    init(decoding bytes: [UInt8]) throws(WireReader.Truncated) {
        self = try Self.reading(bytes) { r throws(WireReader.Truncated) in Self(id: try r.u64()) }
    }
}

// MARK: log, publish, operations (100…104)

/// `log` (note): a plugin's line, or the plugin host's own, for the daemon's log.
struct LogNote: WireMessage, Equatable {
    var level: Int32
    var text: String

    init(level: Int32, text: String) {
        self.level = level
        self.text = text
    }
    func encode() -> [UInt8] { Self.writing { $0.i32(level); $0.string(text) } }
    init(decoding bytes: [UInt8]) throws(WireReader.Truncated) {
        self = try Self.reading(bytes) { r throws(WireReader.Truncated) in Self(level: try r.i32(), text: try r.string()) }
    }
}

/// `publishState` (call → ServiceStatusReply).
struct PublishStateRequest: WireMessage, Equatable {
    var speaker: String
    var json: String

    init(speaker: String, json: String) {
        self.speaker = speaker
        self.json = json
    }
    func encode() -> [UInt8] { Self.writing { $0.string(speaker); $0.string(json) } }
    init(decoding bytes: [UInt8]) throws(WireReader.Truncated) {
        self = try Self.reading(bytes) { r throws(WireReader.Truncated) in Self(speaker: try r.string(), json: try r.string()) }
    }
}

/// `publishAvailability` (call → ServiceStatusReply).
struct PublishAvailabilityRequest: WireMessage, Equatable {
    var speaker: String
    var online: Bool

    init(speaker: String, online: Bool) {
        self.speaker = speaker
        self.online = online
    }
    func encode() -> [UInt8] { Self.writing { $0.string(speaker); $0.bool(online) } }
    init(decoding bytes: [UInt8]) throws(WireReader.Truncated) {
        self = try Self.reading(bytes) { r throws(WireReader.Truncated) in Self(speaker: try r.string(), online: try r.bool()) }
    }
}

/// `publishEvent` (call → ServiceStatusReply).
struct PublishEventRequest: WireMessage, Equatable {
    var name: String
    var json: String

    init(name: String, json: String) {
        self.name = name
        self.json = json
    }
    func encode() -> [UInt8] { Self.writing { $0.string(name); $0.string(json) } }
    init(decoding bytes: [UInt8]) throws(WireReader.Truncated) {
        self = try Self.reading(bytes) { r throws(WireReader.Truncated) in Self(name: try r.string(), json: try r.string()) }
    }
}

/// `complete` (note): the end of an operation the daemon started. A note, not a call: the plugin
/// needs no answer, and the socket keeps it in order with everything else the plugin sent.
struct CompleteNote: WireMessage, Equatable {
    var operationID: UInt64
    var status: Int32
    var detail: String?

    init(operationID: UInt64, status: Int32, detail: String?) {
        self.operationID = operationID
        self.status = status
        self.detail = detail
    }
    func encode() -> [UInt8] { Self.writing { $0.u64(operationID); $0.i32(status); $0.optionalString(detail) } }
    init(decoding bytes: [UInt8]) throws(WireReader.Truncated) {
        self = try Self.reading(bytes) { r throws(WireReader.Truncated) in
            Self(operationID: try r.u64(), status: try r.i32(), detail: try r.optionalString())
        }
    }
}

// MARK: media (105)

/// `mediaPut` (call → ServiceStatusTextReply with the URL): the clip's bytes are NOT in the frame
/// but in the memfd passed with it (`size` bytes from offset 0).
struct MediaPutRequest: WireMessage, Equatable {
    var size: UInt64
    var mime: String?
    var ttlSeconds: UInt32
    /// The plugin's `url_size`: the URL must be shorter.
    var urlCapacity: UInt64

    init(size: UInt64, mime: String?, ttlSeconds: UInt32, urlCapacity: UInt64) {
        self.size = size
        self.mime = mime
        self.ttlSeconds = ttlSeconds
        self.urlCapacity = urlCapacity
    }
    func encode() -> [UInt8] { Self.writing { $0.u64(size); $0.optionalString(mime); $0.u32(ttlSeconds); $0.u64(urlCapacity) } }
    init(decoding bytes: [UInt8]) throws(WireReader.Truncated) {
        self = try Self.reading(bytes) { r throws(WireReader.Truncated) in
            Self(size: try r.u64(), mime: try r.optionalString(), ttlSeconds: try r.u32(), urlCapacity: try r.u64())
        }
    }
}

// MARK: HTTP (110, 111, 200)

/// `httpRequest` (call → ServiceStatusReply). `flags` is 0 when the plugin's struct predates it.
struct HTTPRequestCall: WireMessage, Equatable {
    var id: UInt64
    var method: String
    var url: String
    var headers: [HeaderPair]
    var body: [UInt8]
    var timeoutMs: UInt32
    var maxResponseSize: UInt64
    var flags: UInt32

    init(id: UInt64, method: String, url: String, headers: [HeaderPair], body: [UInt8], timeoutMs: UInt32,
         maxResponseSize: UInt64, flags: UInt32) {
        self.id = id
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeoutMs = timeoutMs
        self.maxResponseSize = maxResponseSize
        self.flags = flags
    }
    func encode() -> [UInt8] {
        Self.writing { w in
            w.u64(id); w.string(method); w.string(url); w.pairs(headers.map { ($0.name, $0.value) }); w.data(body)
            w.u32(timeoutMs); w.u64(maxResponseSize); w.u32(flags)
        }
    }
    init(decoding bytes: [UInt8]) throws(WireReader.Truncated) {
        self = try Self.reading(bytes) { r throws(WireReader.Truncated) in
            Self(id: try r.u64(), method: try r.string(), url: try r.string(), headers: try HeaderPair.read(&r), body: try r.data(),
                 timeoutMs: try r.u32(), maxResponseSize: try r.u64(), flags: try r.u32())
        }
    }
}

/// `httpDone` (note, daemon → plugin host): the `sb_http_response` of request `id`.
struct HTTPDoneNote: WireMessage, Equatable {
    var id: UInt64
    var status: Int32
    var httpStatus: Int32
    var headers: [HeaderPair]
    var body: [UInt8]
    var error: String?

    init(id: UInt64, status: Int32, httpStatus: Int32, headers: [HeaderPair], body: [UInt8], error: String?) {
        self.id = id
        self.status = status
        self.httpStatus = httpStatus
        self.headers = headers
        self.body = body
        self.error = error
    }
    func encode() -> [UInt8] {
        Self.writing { w in
            w.u64(id); w.i32(status); w.i32(httpStatus); w.pairs(headers.map { ($0.name, $0.value) }); w.data(body)
            w.optionalString(error)
        }
    }
    init(decoding bytes: [UInt8]) throws(WireReader.Truncated) {
        self = try Self.reading(bytes) { r throws(WireReader.Truncated) in
            Self(id: try r.u64(), status: try r.i32(), httpStatus: try r.i32(), headers: try HeaderPair.read(&r),
                 body: try r.data(), error: try r.optionalString())
        }
    }
}

/// A header of an HTTP request, response, route request or WebSocket handshake. (Equatable,
/// unlike the tuples WireWriter takes, so messages compare in tests.)
struct HeaderPair: Sendable, Equatable {
    var name: String
    var value: String

    init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    static func read(_ r: inout WireReader) throws(WireReader.Truncated) -> [HeaderPair] {
        try r.pairs().map { HeaderPair($0.0, $0.1) }
    }
}

// MARK: UDP (120…122, 201)

/// `udpOpen` (call → ServiceStatusTextReply: the status and the `err` text). `interface` nil is
/// a NULL from the plugin (the default, as "").
struct UDPOpenRequest: WireMessage, Equatable {
    var id: UInt64
    var interface: String?
    var port: UInt16
    var group: String?

    init(id: UInt64, interface: String?, port: UInt16, group: String?) {
        self.id = id
        self.interface = interface
        self.port = port
        self.group = group
    }
    func encode() -> [UInt8] { Self.writing { $0.u64(id); $0.optionalString(interface); $0.u16(port); $0.optionalString(group) } }
    init(decoding bytes: [UInt8]) throws(WireReader.Truncated) {
        self = try Self.reading(bytes) { r throws(WireReader.Truncated) in
            Self(id: try r.u64(), interface: try r.optionalString(), port: try r.u16(), group: try r.optionalString())
        }
    }
}

/// `udpSend` (call → ServiceStatusReply).
struct UDPSendRequest: WireMessage, Equatable {
    var id: UInt64
    var address: String
    var port: UInt16
    var data: [UInt8]

    init(id: UInt64, address: String, port: UInt16, data: [UInt8]) {
        self.id = id
        self.address = address
        self.port = port
        self.data = data
    }
    func encode() -> [UInt8] { Self.writing { $0.u64(id); $0.string(address); $0.u16(port); $0.data(data) } }
    init(decoding bytes: [UInt8]) throws(WireReader.Truncated) {
        self = try Self.reading(bytes) { r throws(WireReader.Truncated) in
            Self(id: try r.u64(), address: try r.string(), port: try r.u16(), data: try r.data())
        }
    }
}

/// `udpReceive` (note, daemon → plugin host): a datagram for socket `id`.
struct UDPReceiveNote: WireMessage, Equatable {
    var id: UInt64
    var address: String
    var port: UInt16
    var data: [UInt8]

    init(id: UInt64, address: String, port: UInt16, data: [UInt8]) {
        self.id = id
        self.address = address
        self.port = port
        self.data = data
    }
    func encode() -> [UInt8] { Self.writing { $0.u64(id); $0.string(address); $0.u16(port); $0.data(data) } }
    init(decoding bytes: [UInt8]) throws(WireReader.Truncated) {
        self = try Self.reading(bytes) { r throws(WireReader.Truncated) in
            Self(id: try r.u64(), address: try r.string(), port: try r.u16(), data: try r.data())
        }
    }
}

// MARK: routes (130, 131, 202)

/// `routeAdd` (call → ServiceStatusTextReply with the callback URL).
struct RouteAddRequest: WireMessage, Equatable {
    var id: UInt64
    var path: String
    /// The plugin's `url_size`: the URL must be shorter.
    var urlCapacity: UInt64

    init(id: UInt64, path: String, urlCapacity: UInt64) {
        self.id = id
        self.path = path
        self.urlCapacity = urlCapacity
    }
    func encode() -> [UInt8] { Self.writing { $0.u64(id); $0.string(path); $0.u64(urlCapacity) } }
    init(decoding bytes: [UInt8]) throws(WireReader.Truncated) {
        self = try Self.reading(bytes) { r throws(WireReader.Truncated) in
            Self(id: try r.u64(), path: try r.string(), urlCapacity: try r.u64())
        }
    }
}

/// `routeRequest` (call, daemon → plugin host → ServiceStatusReply with the HTTP status): a
/// request to route `id`. `deadline` is CLOCK_MONOTONIC nanoseconds (the same clock in both
/// processes): a request the plugin's executor reaches later is not handed to the plugin (the
/// daemon has answered 503 by then).
struct RouteRequestCall: WireMessage, Equatable {
    /// CLOCK_MONOTONIC now, in nanoseconds: the clock `deadline` is on.
    static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    var id: UInt64
    var method: String
    var path: String
    var headers: [HeaderPair]
    var body: [UInt8]
    var remoteAddress: String?
    var deadline: UInt64

    init(id: UInt64, method: String, path: String, headers: [HeaderPair], body: [UInt8], remoteAddress: String?, deadline: UInt64) {
        self.id = id
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
        self.deadline = deadline
    }
    func encode() -> [UInt8] {
        Self.writing { w in
            w.u64(id); w.string(method); w.string(path); w.pairs(headers.map { ($0.name, $0.value) }); w.data(body)
            w.optionalString(remoteAddress); w.u64(deadline)
        }
    }
    init(decoding bytes: [UInt8]) throws(WireReader.Truncated) {
        self = try Self.reading(bytes) { r throws(WireReader.Truncated) in
            Self(id: try r.u64(), method: try r.string(), path: try r.string(), headers: try HeaderPair.read(&r), body: try r.data(),
                 remoteAddress: try r.optionalString(), deadline: try r.u64())
        }
    }
}

// MARK: WebSocket (140…142, 203)

/// `wsOpen` (call → ServiceStatusReply).
struct WebSocketOpenRequest: WireMessage, Equatable {
    var id: UInt64
    var url: String
    var headers: [HeaderPair]
    var subprotocol: String?
    var flags: UInt32
    var timeoutMs: UInt32
    var maxMessageSize: UInt64

    init(id: UInt64, url: String, headers: [HeaderPair], subprotocol: String?, flags: UInt32, timeoutMs: UInt32, maxMessageSize: UInt64) {
        self.id = id
        self.url = url
        self.headers = headers
        self.subprotocol = subprotocol
        self.flags = flags
        self.timeoutMs = timeoutMs
        self.maxMessageSize = maxMessageSize
    }
    func encode() -> [UInt8] {
        Self.writing { w in
            w.u64(id); w.string(url); w.pairs(headers.map { ($0.name, $0.value) }); w.optionalString(subprotocol)
            w.u32(flags); w.u32(timeoutMs); w.u64(maxMessageSize)
        }
    }
    init(decoding bytes: [UInt8]) throws(WireReader.Truncated) {
        self = try Self.reading(bytes) { r throws(WireReader.Truncated) in
            Self(id: try r.u64(), url: try r.string(), headers: try HeaderPair.read(&r), subprotocol: try r.optionalString(),
                 flags: try r.u32(), timeoutMs: try r.u32(), maxMessageSize: try r.u64())
        }
    }
}

/// `wsSend` (call → ServiceStatusReply): a text message's bytes (checked as UTF-8 by the daemon).
struct WebSocketSendRequest: WireMessage, Equatable {
    var id: UInt64
    var text: [UInt8]

    init(id: UInt64, text: [UInt8]) {
        self.id = id
        self.text = text
    }
    func encode() -> [UInt8] { Self.writing { $0.u64(id); $0.data(text) } }
    init(decoding bytes: [UInt8]) throws(WireReader.Truncated) {
        self = try Self.reading(bytes) { r throws(WireReader.Truncated) in Self(id: try r.u64(), text: try r.data()) }
    }
}

/// `wsEvent` (note, daemon → plugin host): SB_WS_OPEN / SB_WS_TEXT / SB_WS_CLOSED for socket `id`.
struct WebSocketEventNote: WireMessage, Equatable {
    var id: UInt64
    var event: Int32
    var data: [UInt8]

    init(id: UInt64, event: Int32, data: [UInt8]) {
        self.id = id
        self.event = event
        self.data = data
    }
    func encode() -> [UInt8] { Self.writing { $0.u64(id); $0.i32(event); $0.data(data) } }
    init(decoding bytes: [UInt8]) throws(WireReader.Truncated) {
        self = try Self.reading(bytes) { r throws(WireReader.Truncated) in
            Self(id: try r.u64(), event: try r.i32(), data: try r.data())
        }
    }
}

// MARK: the services offered (106)

/// The answer to `hostServices` (a call with no fields): the SB_HOST_EXT_* ids the daemon serves
/// this instance, so `get_extension` in the plugin host offers exactly what inline would.
struct HostServicesReply: WireMessage, Equatable {
    var ids: [String]

    init(ids: [String]) { self.ids = ids }
    func encode() -> [UInt8] { Self.writing { $0.strings(ids) } }
    init(decoding bytes: [UInt8]) throws(WireReader.Truncated) {
        self = try Self.reading(bytes) { r throws(WireReader.Truncated) in Self(ids: try r.strings()) }
    }
}

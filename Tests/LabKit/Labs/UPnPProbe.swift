import Foundation

/// One answer to an SSDP M-SEARCH: who answered and its headers (names upper-cased).
public struct SSDPReply: Sendable, CustomStringConvertible {
    public let from: String
    public let headers: [String: String]
    public var location: String? { headers["LOCATION"] }
    public var searchTarget: String? { headers["ST"] }
    public var usn: String? { headers["USN"] }
    public var description: String { "\(from) \(usn ?? "?") at \(location ?? "?")" }
}

/// UPnP as a control point sees it, always from INSIDE a lab host (`ip netns exec`), so not one
/// packet can reach the machine's real interfaces: SSDP search, SOAP actions, plain GETs.
extension NetnsLab {
    /// Sends one M-SEARCH for `searchTarget` from `host` (bound to its lab address, multicast out of
    /// its lab interface) and collects the unicast answers for `wait` seconds, or until `expecting`
    /// answers came (0: always wait). Devices answer within MX = 1 s.
    public func mSearch(from host: LabHost, searchTarget: String = GMediaRenderer.deviceType, wait: Double = 2,
                        expecting: Int = 0) throws -> [SSDPReply] {
        let result = try exec(host: host, ["/usr/bin/python3", "-c", NetnsLab.mSearchScript, host.address, searchTarget,
                                           "\(wait)", "\(expecting)"])
        guard result.status == 0 else { throw LabError("M-SEARCH from \(host) failed: \(result.err)") }
        return result.out.components(separatedBy: "\u{1e}").compactMap { block in
            // Character.isNewline: "\r\n" is ONE Character in Swift, splitting on "\n" misses it.
            var lines = block.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            guard let first = lines.first, first.hasPrefix("FROM ") else { return nil }
            lines.removeFirst()
            var headers: [String: String] = [:]
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].uppercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            return SSDPReply(from: String(first.dropFirst(5)), headers: headers)
        }
    }

    /// POSTs a SOAP action with curl from `host`. Returns the HTTP status and body (UPnP errors are
    /// 500 with a UPnPError in the body). `arguments` in order, values XML-escaped here.
    public func soap(from host: LabHost, controlURL: String, service: String = "AVTransport", action: String,
                     arguments: KeyValuePairs<String, String> = [:], timeout: Double = 5) throws -> (status: Int, body: String) {
        let urn = "urn:schemas-upnp-org:service:\(service):1"
        let args = arguments.map { "<\($0.key)>\(xmlEscape($0.value))</\($0.key)>" }.joined()
        let envelope = #"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" "#
            + #"s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>"#
            + "<u:\(action) xmlns:u=\"\(urn)\">\(args)</u:\(action)></s:Body></s:Envelope>"
        let result = try exec(host: host, ["curl", "-s", "-m", "\(timeout)", "-X", "POST", controlURL,
                                           "-H", #"Content-Type: text/xml; charset="utf-8""#,
                                           "-H", "SOAPACTION: \"\(urn)#\(action)\"",
                                           "--data-binary", "@-", "-w", "\n%{http_code}"], input: envelope)
        guard result.status == 0 else { throw LabError("SOAP \(action) to \(controlURL) from \(host): curl exited \(result.status) \(result.err)") }
        return splitStatus(result.out)
    }

    /// SetAVTransportURI then Play on a renderer: what a control point does to play `uri`.
    public func play(_ uri: String, on renderer: GMediaRenderer, from host: LabHost, metadata: String = "") throws {
        let set = try soap(from: host, controlURL: renderer.avTransportControlURL, action: "SetAVTransportURI",
                           arguments: ["InstanceID": "0", "CurrentURI": uri, "CurrentURIMetaData": metadata])
        guard set.status == 200 else { throw LabError("SetAVTransportURI on \(renderer.name): HTTP \(set.status) \(set.body)") }
        let play = try soap(from: host, controlURL: renderer.avTransportControlURL, action: "Play",
                            arguments: ["InstanceID": "0", "Speed": "1"])
        guard play.status == 200 else { throw LabError("Play on \(renderer.name): HTTP \(play.status) \(play.body)") }
    }

    /// The renderer's CurrentTransportState (PLAYING, STOPPED, TRANSITIONING, …) via GetTransportInfo.
    public func transportState(of renderer: GMediaRenderer, from host: LabHost) throws -> String {
        let info = try soap(from: host, controlURL: renderer.avTransportControlURL, action: "GetTransportInfo",
                            arguments: ["InstanceID": "0"])
        guard info.status == 200, let state = xmlValue("CurrentTransportState", in: info.body) else {
            throw LabError("GetTransportInfo on \(renderer.name): HTTP \(info.status) \(info.body)")
        }
        return state
    }

    /// A plain HTTP GET with curl from `host`: status and body.
    public func httpGet(from host: LabHost, _ url: String, timeout: Double = 5) throws -> (status: Int, body: String) {
        let result = try exec(host: host, ["curl", "-s", "-m", "\(timeout)", "-w", "\n%{http_code}", url])
        return splitStatus(result.out)
    }

    /// curl's output with `-w "\n%{http_code}"` appended: (status, body). Byte-wise, because a body
    /// ending in "\r" would merge with our "\n" into one Character.
    private func splitStatus(_ output: String) -> (status: Int, body: String) {
        let bytes = Array(output.utf8)
        guard let cut = bytes.lastIndex(of: UInt8(ascii: "\n")) else { return (Int(output) ?? 0, "") }
        return (Int(String(decoding: bytes[(cut + 1)...], as: UTF8.self)) ?? 0, String(decoding: bytes[..<cut], as: UTF8.self))
    }

    /// M-SEARCH in Python (python3 is in Debian's base): bound to the lab address, multicast
    /// interface and TTL set explicitly; replies separated by an ASCII record separator.
    static let mSearchScript = #"""
    import socket, sys, time
    addr, st, wait, expecting = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(addr))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
    s.bind((addr, 0))
    msg = "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: %s\r\n\r\n" % st
    s.sendto(msg.encode(), ("239.255.255.250", 1900))
    s.settimeout(0.1)
    end = time.time() + wait
    got = 0
    while time.time() < end and (expecting == 0 or got < expecting):
        try:
            data, peer = s.recvfrom(65535)
        except socket.timeout:
            continue
        got += 1
        sys.stdout.write("FROM %s:%d\n%s\x1e" % (peer[0], peer[1], data.decode("utf-8", "replace")))
        sys.stdout.flush()
    """#
}

func xmlEscape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}

/// The text of the first `<name>…</name>` element (no unescaping).
public func xmlValue(_ name: String, in xml: String) -> String? {
    guard let open = xml.range(of: "<\(name)>"), let close = xml.range(of: "</\(name)>", range: open.upperBound..<xml.endIndex) else { return nil }
    return String(xml[open.upperBound..<close.lowerBound])
}

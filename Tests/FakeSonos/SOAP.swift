import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A parsed SOAP control request: the action element inside s:Body and its argument texts.
struct SOAPRequest {
    let action: String
    let namespace: String?
    let args: [String: String]
}

/// A UPnP error a service answers with (HTTP 500 + UPnPError).
struct UPnPError: Error {
    let code: Int
    /// Set when the call is something a controller must not do (recorded as a Violation).
    var violation: String?

    init(_ code: Int, violation: String? = nil) {
        self.code = code
        self.violation = violation
    }
}

enum SOAP {
    static let envelopeOpen = "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
        + "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>"
    static let envelopeClose = "</s:Body></s:Envelope>"

    /// `<u:PlayResponse xmlns:u="…">…</u:PlayResponse>` in an envelope; values XML-escaped, in order.
    static func response(service: UPnPService, action: String, _ out: [(String, String)]) -> String {
        let args = out.map { "<\($0.0)>\(xmlEscape($0.1))</\($0.0)>" }.joined()
        return envelopeOpen + "<u:\(action)Response xmlns:u=\"\(service.serviceType)\">\(args)</u:\(action)Response>"
            + envelopeClose
    }

    /// The fault body exactly as Sonos sends it.
    static func fault(code: Int) -> String {
        envelopeOpen + "<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>"
            + "<UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>\(code)</errorCode></UPnPError>"
            + "</detail></s:Fault>" + envelopeClose
    }

    /// Splits a SOAPACTION header value (`"urn:…:AVTransport:1#Play"`, quotes optional).
    static func parseSOAPAction(_ header: String?) -> (serviceType: String, action: String)? {
        guard var v = header?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
        if v.hasPrefix("\""), v.hasSuffix("\""), v.count >= 2 { v = String(v.dropFirst().dropLast()) }
        guard let hash = v.lastIndex(of: "#") else { return nil }
        let type = String(v[..<hash]), action = String(v[v.index(after: hash)...])
        return type.isEmpty || action.isEmpty ? nil : (type, action)
    }

    static func parse(_ body: Data) -> SOAPRequest? {
        let delegate = EnvelopeParser()
        let parser = XMLParser(data: body)
        parser.shouldProcessNamespaces = true
        parser.delegate = delegate
        guard parser.parse(), let action = delegate.action else { return nil }
        return SOAPRequest(action: action, namespace: delegate.actionNamespace, args: delegate.args)
    }
}

/// Collects Envelope/Body/<action>/<arg>text</arg>. Used synchronously on one thread.
private final class EnvelopeParser: NSObject, XMLParserDelegate {
    var depth = 0
    var inBody = false
    var action: String?
    var actionNamespace: String?
    var args: [String: String] = [:]
    private var currentArg: String?
    private var text = ""

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        depth += 1
        if depth == 2, name == "Body" { inBody = true }
        else if inBody, depth == 3, action == nil { action = name; actionNamespace = namespaceURI }
        else if inBody, depth == 4 { currentArg = name; text = "" }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if currentArg != nil { text += string }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if depth == 4, let arg = currentArg { args[arg] = text; currentArg = nil }
        if depth == 2, name == "Body" { inBody = false }
        depth -= 1
    }
}

/// Argument access with the UPnP error codes real players use for bad input (402 Invalid Args,
/// 718 Invalid InstanceID).
struct ActionArgs {
    let args: [String: String]

    func string(_ name: String) throws -> String {
        guard let v = args[name] else { throw UPnPError(402) }
        return v
    }

    func int(_ name: String, in range: ClosedRange<Int>? = nil) throws -> Int {
        guard let v = Int(try string(name).trimmingCharacters(in: .whitespaces)) else { throw UPnPError(402) }
        if let range, !range.contains(v) { throw UPnPError(402) }
        return v
    }

    func bool(_ name: String) throws -> Bool {
        switch try string(name).trimmingCharacters(in: .whitespaces).lowercased() {
        case "1", "true", "yes": return true
        case "0", "false", "no": return false
        default: throw UPnPError(402)
        }
    }

    func instanceZero() throws {
        guard try int("InstanceID") == 0 else { throw UPnPError(718) }
    }

    func masterChannel() throws {
        guard ["Master", "LF", "RF"].contains(try string("Channel")) else { throw UPnPError(402) }
    }
}

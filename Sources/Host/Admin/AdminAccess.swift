import Foundation
import HTTPTypes

/// Who may use the status page and its API: the admin token (`admin.token_file`), compared in
/// constant time, from the `speakerbridge_admin` cookie or an `Authorization: Bearer` header; and
/// the rules that keep a web page the user happens to visit from using the listener through the
/// user's browser.
///
/// - Origin: a POST (any method but GET and HEAD) must come from the page itself
///   (`Origin: http://<Host>`, or `https://<Host>` behind a TLS proxy) or from no page at all (curl
///   sends no Origin). Another site's form or script is refused, token or not, and so is
///   `Origin: null` (a sandboxed frame).
/// - Content-Type: an API POST must be `application/json`, which a page on another site can only
///   send after a CORS preflight, and the listener never answers one.
/// - Host: without a token (only allowed on a loopback bind), the page and API answer only to a
///   request naming a loopback Host. A site that points its own name at 127.0.0.1 (DNS rebinding)
///   is same-origin with the listener in the browser, but its requests carry its own name.
public struct AdminAccess: Sendable {
    /// The token's bytes; nil: none configured.
    private let token: [UInt8]?

    /// nil: no token configured (allowed only on a loopback bind).
    public init(token: Secret?) {
        self.token = token.map { Array($0.value.utf8) }
    }

    var requiresToken: Bool { token != nil }

    enum Verdict: Equatable {
        case allowed
        case refused(HTTPResponse.Status, String)
    }

    /// The verdict for a request to a route of `area`; the method has been checked already.
    func check(_ request: HTTPRequest, area: AdminRoute.Area) -> Verdict {
        if area == .open { return .allowed }
        if token == nil, area != .metrics, !Self.namesLoopback(request) {
            let host = request.authority.map { String(reflecting: String($0.prefix(100))) } ?? "none"
            return .refused(.forbidden, "forbidden: without admin.token_file the status page answers only to a loopback "
                + "Host (127.0.0.1, localhost, [::1]), and this request's Host is \(host)")
        }
        // POST, and any other method that is not a read (the API answers those 405 itself).
        let changes = request.method != .get && request.method != .head
        if changes, let problem = Self.originProblem(request) {
            return .refused(.forbidden, problem)
        }
        if changes, area == .api, !Self.isJSON(request.headerFields[.contentType]) {
            return .refused(.unsupportedMediaType, "unsupported media type: send the request body as application/json")
        }
        if area == .login || admits(request.headerFields) { return .allowed }
        return .refused(.unauthorized, "unauthorized: this listener needs the admin token, as the "
            + "\(AdminCredentials.cookieName) cookie (sign in at /login) or an Authorization: Bearer header")
    }

    /// The request carries the token (any request, when none is configured). Every credential
    /// presented is compared in full, even after one has matched.
    func admits(_ fields: HTTPFields) -> Bool {
        guard token != nil else { return true }
        var presented = AdminCredentials.cookieValues(in: fields[values: .cookie])
        if let bearer = AdminCredentials.bearerToken(in: fields[.authorization]) { presented.append(bearer) }
        return presented.reduce(false) { matched, candidate in matches(candidate) || matched }
    }

    /// The request carries a cookie or a bearer token, right or wrong: a refused one is a wrong
    /// token (the sign-in throttle counts it), a request with none is a first visit.
    static func presentsCredential(_ fields: HTTPFields) -> Bool {
        !AdminCredentials.cookieValues(in: fields[values: .cookie]).isEmpty
            || AdminCredentials.bearerToken(in: fields[.authorization]) != nil
    }

    /// `candidate` is the token (constant time over the longer of the two).
    func matches(_ candidate: [UInt8]) -> Bool {
        guard let token else { return false }
        return ConstantTimeComparison.equal(candidate, token)
    }

    /// The Host names loopback, and only one Host was sent (a second would be a second opinion
    /// a proxy in front might follow).
    static func namesLoopback(_ request: HTTPRequest) -> Bool {
        guard let authority = request.authority, request.headerFields[values: hostField].isEmpty else { return false }
        return LoopbackName.containsHost(ofHeader: authority)
    }

    /// Why a POST's Origin is not the listener's own, or nil when it is or when there is none.
    /// `https://<Host>` is the listener's own too: a browser sends it only from a page it loaded
    /// from that very host over TLS, which is this page behind a reverse proxy that terminates TLS
    /// and passes the Host on (the listener itself speaks plain HTTP).
    static func originProblem(_ request: HTTPRequest) -> String? {
        guard let origin = request.headerFields[.origin] else { return nil }
        if let host = request.authority?.lowercased(), ["http://" + host, "https://" + host].contains(origin.lowercased()) { return nil }
        return "forbidden: a \(request.method.rawValue) must come from this listener's own page (Origin http://\(request.authority ?? "<Host>"), "
            + "or https:// behind a TLS proxy) "
            + "or carry no Origin; this one's Origin is \(String(reflecting: String(origin.prefix(100))))"
    }

    /// `application/json`, with or without parameters (`; charset=utf-8`).
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let type = contentType.split(separator: ";", maxSplits: 1).first ?? ""
        return type.trimmingCharacters(in: .whitespaces).lowercased() == "application/json"
    }

    /// A Host header beyond the first (the first is the request's authority).
    private static let hostField = HTTPField.Name("Host")!
}

import Hummingbird
import HummingbirdCore
import HTTPTypes

/// The admin listener's answers as HTTP responses: plain text (metrics, health, errors), JSON
/// errors for the API, and the page's files with the headers a browser needs to keep them safe.
enum AdminResponses {
    /// No inline script or style, nothing from elsewhere, not inside a frame: what a page can do
    /// if something it shows (a speaker's title, a plugin's error) ever got interpreted as markup.
    static let contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        + "connect-src 'self'; frame-ancestors 'none'"

    static func text(_ status: HTTPResponse.Status, _ body: String, contentType: String = "text/plain; charset=utf-8") -> Response {
        bytes(status, Array(body.utf8), contentType: contentType)
    }

    static func text(_ status: HTTPResponse.Status, _ body: [UInt8], contentType: String) -> Response {
        bytes(status, body, contentType: contentType)
    }

    static func bytes(_ status: HTTPResponse.Status, _ bytes: [UInt8], contentType: String,
                      cacheControl: String = "no-store") -> Response {
        var fields = HTTPFields()
        fields[.contentType] = contentType
        fields[.contentLength] = String(bytes.count)
        fields[.cacheControl] = cacheControl
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// `{"status":"error","error":"…"}`, the MQTT contract's error shape, made as the page's API
    /// makes its own errors, so a refusal before the API and an error from it read alike.
    static func jsonError(_ status: HTTPResponse.Status, _ message: String) -> Response {
        secured(PageAPI.error(status, message))
    }

    /// An HTML page or a page file: the browser-safety headers on top.
    static func page(_ status: HTTPResponse.Status, _ body: [UInt8], contentType: String, cacheControl: String = "no-store") -> Response {
        secured(bytes(status, body, contentType: contentType, cacheControl: cacheControl))
    }

    static func redirect(to location: String, setCookie: String? = nil) -> Response {
        var response = secured(bytes(.seeOther, [], contentType: "text/plain; charset=utf-8"))
        response.headers[.location] = location
        if let setCookie { response.headers[.setCookie] = setCookie }
        return response
    }

    /// Adds the browser-safety headers a response does not set itself (an API answer may have its
    /// own Cache-Control, as the event stream does). Referrer-Policy is same-origin, not no-referrer:
    /// under no-referrer a browser sends `Origin: null` with a form's POST, which the Origin rule
    /// refuses, and same-origin still tells other sites nothing.
    static func secured(_ response: Response) -> Response {
        var response = response
        let defaults: [(HTTPField.Name, String)] = [
            (.contentSecurityPolicy, contentSecurityPolicy), (xFrameOptions, "DENY"),
            (referrerPolicy, "same-origin"), (.xContentTypeOptions, "nosniff"), (.cacheControl, "no-store"),
        ]
        for (name, value) in defaults where response.headers[name] == nil { response.headers[name] = value }
        return response
    }

    /// Not among HTTPTypes' common names.
    private static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    private static let referrerPolicy = HTTPField.Name("Referrer-Policy")!

    /// 401 asks for the token the way RFC 6750 says.
    static func unauthorized(_ response: Response) -> Response {
        var response = response
        response.headers[.wwwAuthenticate] = #"Bearer realm="speakerbridge""#
        return response
    }

    /// The same head without a body, for HEAD.
    static func headOnly(_ response: Response) -> Response {
        Response(status: response.status, headers: response.headers, body: ResponseBody())
    }
}

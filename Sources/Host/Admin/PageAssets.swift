import Foundation

/// The status page's files (Admin/Page), compiled into the daemon's binary by SwiftPM
/// (`.embedInCode`): the page always matches the daemon that serves it, and nothing is read from
/// disk, so no path a request names can reach a file outside this table.
enum PageAssets {
    struct Asset: Equatable {
        let name: String
        let bytes: [UInt8]
        let contentType: String
    }

    static let index = Asset(name: "index.html", bytes: PackageResources.index_html, contentType: "text/html; charset=utf-8")
    static let login = Asset(name: "login.html", bytes: PackageResources.login_html, contentType: "text/html; charset=utf-8")

    /// What `/assets/<name>` serves, by exact name. The two HTML pages are not among them: they
    /// are served at `/` (behind the token) and `/login`, with their own rules.
    static let files: [String: Asset] = Dictionary(uniqueKeysWithValues: [
        Asset(name: "style.css", bytes: PackageResources.style_css, contentType: "text/css; charset=utf-8"),
        Asset(name: "app.js", bytes: PackageResources.app_js, contentType: "text/javascript; charset=utf-8"),
        Asset(name: "feed.js", bytes: PackageResources.feed_js, contentType: "text/javascript; charset=utf-8"),
        Asset(name: "speakers.js", bytes: PackageResources.speakers_js, contentType: "text/javascript; charset=utf-8"),
        Asset(name: "say.js", bytes: PackageResources.say_js, contentType: "text/javascript; charset=utf-8"),
        Asset(name: "announcements.js", bytes: PackageResources.announcements_js, contentType: "text/javascript; charset=utf-8"),
        Asset(name: "plugins.js", bytes: PackageResources.plugins_js, contentType: "text/javascript; charset=utf-8"),
        Asset(name: "health.js", bytes: PackageResources.health_js, contentType: "text/javascript; charset=utf-8"),
        Asset(name: "icon.svg", bytes: PackageResources.icon_svg, contentType: "image/svg+xml"),
    ].map { ($0.name, $0) })

    static func asset(named name: Substring) -> Asset? { files[String(name)] }

    /// The login page, with `message` (HTML-escaped) in place of its `<!--message-->` placeholder.
    static func loginPage(message: String?) -> [UInt8] {
        guard let message else { return login.bytes }
        let escaped = message.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        let page = String(decoding: login.bytes, as: UTF8.self)
        return Array(page.replacingOccurrences(of: "<!--message-->", with: escaped).utf8)
    }
}

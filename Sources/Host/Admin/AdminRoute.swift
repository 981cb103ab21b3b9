import HTTPTypes

/// What a path on the admin listener is, compared as raw bytes (a query string is ignored, no
/// decoding, no normalizing): anything that is not exactly one of these is 404.
enum AdminRoute: Equatable {
    /// `/` and `/index.html`: the status page.
    case page
    /// `/login`: the form (GET), the token check (POST).
    case login
    /// `POST /logout`: forgets the cookie.
    case logout
    /// `/assets/<file>`: the page's styles, scripts and icon.
    case asset(PageAssets.Asset)
    /// `/api/...`: the page's API (`PageAPI`), the path as requested.
    case api(Substring)
    case metrics
    case healthz

    /// Who may use a route (see `AdminAccess`).
    enum Area: Equatable {
        /// Anyone who reaches the listener: health checks, and files that hold nothing private.
        case open
        /// The sign-in form: no token needed, but browser-safe.
        case login
        /// The page and `/logout`: token, browser-safe.
        case page
        /// The page's API: token, browser-safe, JSON bodies only.
        case api
        /// `/metrics`: token (Prometheus sends it as a bearer), nothing for browsers.
        case metrics
    }

    init?(path: Substring) {
        switch path {
        case "/", "/index.html": self = .page
        case "/login": self = .login
        case "/logout": self = .logout
        case "/metrics": self = .metrics
        case "/healthz": self = .healthz
        default:
            if path.hasPrefix("/api/") {
                self = .api(path)
            } else if path.hasPrefix("/assets/"), let asset = PageAssets.asset(named: path.dropFirst("/assets/".count)) {
                self = .asset(asset)
            } else {
                return nil
            }
        }
    }

    /// The target without its query string.
    static func path(of target: String) -> Substring {
        target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }

    var area: Area {
        switch self {
        case .page, .logout: .page
        case .login: .login
        case .api: .api
        case .metrics: .metrics
        case .asset, .healthz: .open
        }
    }

    /// The methods answered; nil for the API, whose paths say for themselves.
    var allowedMethods: [HTTPRequest.Method]? {
        switch self {
        case .page, .asset, .metrics, .healthz: [.get, .head]
        case .login: [.get, .head, .post]
        case .logout: [.post]
        case .api: nil
        }
    }
}

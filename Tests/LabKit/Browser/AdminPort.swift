import Foundation

extension DaemonUnderTest {
    /// The admin listener's port on `host` (an `admin.bind` other than 127.0.0.1, which
    /// AdminEndpoint.of reads), from the daemon's "admin: listening on http://HOST:PORT" line.
    public func adminPort(host: String, timeout: Double = 15) throws -> Int {
        let marker = "admin: listening on http://\(host):"
        var port: Int?
        _ = waitUntil(timeout: timeout, interval: 0.05) {
            port = log().split(separator: "\n").last { $0.contains(marker) }
                .flatMap { Int($0.components(separatedBy: marker)[1].prefix { $0.isNumber }) }
            return port != nil
        }
        guard let port else { throw LabError("no \"\(marker)…\" in the daemon's log after \(timeout) s\n\(tail(of: logPath))") }
        return port
    }
}

import Foundation
import Synchronization

/// One GENA NOTIFY a listener received.
public struct GENAEvent: Sendable, CustomStringConvertible {
    public let time: Date
    public let sid: String
    public let seq: Int
    /// Callback path the renderer posted to (one per subscription: "/<n>").
    public let path: String
    /// State variables, flattened: the LastChange children (`TransportState` → `PLAYING`; for
    /// RenderingControl `Volume` → "30", per channel last one wins) or the plain properties.
    public let variables: [String: String]
    public var description: String {
        "#\(seq) " + variables.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}

/// A UPnP event subscriber inside a lab host: SUBSCRIBEs to renderers' event URLs and records
/// every NOTIFY, so a test can see what a driver would see (TransportState changes and their times),
/// independent of any driver.
public final class GENAListener: Sendable {
    public let host: LabHost
    public let port: Int
    private let directory: TempDirectory
    private let child = Mutex<ChildProcess?>(nil)
    private let subscriptions = Mutex(0)
    private var logPath: String { directory.file("events.log") }

    public init(host: LabHost, port: Int = 8090) throws {
        self.host = host
        self.port = port
        directory = try TempDirectory(prefix: "labkit-gena")
    }

    deinit {
        child.withLock { $0?.kill9() }
        directory.remove()
    }

    public func start() throws {
        let script = directory.file("gena.py")
        try GENAListener.script.write(toFile: script, atomically: true, encoding: .utf8)
        try child.withLock { current in
            if current?.isRunning == true { return }
            current = try ChildProcess(["/usr/sbin/ip", "netns", "exec", host.name, "/usr/bin/python3", "-u", script,
                                        host.address, "\(port)"], outputPath: logPath)
        }
        let ready = waitUntil(timeout: 10, interval: 0.05) { (try? String(contentsOfFile: logPath, encoding: .utf8))?.contains("listening") == true }
        guard ready else { throw LabError("GENA listener on \(host) did not start\n\(tail(of: logPath))") }
    }

    public func stop() { child.withLock { _ = $0?.terminate(timeout: 2) } }

    /// SUBSCRIBEs (from inside the lab) to `eventURL`; returns the SID. The renderer sends the
    /// initial event (every variable) right after.
    @discardableResult
    public func subscribe(_ eventURL: String, seconds: Int = 300) throws -> String {
        let n = subscriptions.withLock { $0 += 1; return $0 }
        let result = try Shell.run(["ip", "netns", "exec", host.name, "curl", "-s", "-m", "5", "-i", "-X", "SUBSCRIBE", eventURL,
                                    "-H", "CALLBACK: <http://\(host.address):\(port)/\(n)>", "-H", "NT: upnp:event",
                                    "-H", "TIMEOUT: Second-\(seconds)"])
        guard result.status == 0,
              let line = result.out.split(whereSeparator: \.isNewline).first(where: { $0.lowercased().hasPrefix("sid:") }) else {
            throw LabError("SUBSCRIBE \(eventURL) failed: \(result.status) \(result.out) \(result.err)")
        }
        return line.dropFirst(4).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Every NOTIFY so far, in arrival order.
    public func events() -> [GENAEvent] {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("{"),
                  let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let t = object["t"] as? Double, let sid = object["sid"] as? String, let path = object["path"] as? String,
                  let variables = object["vars"] as? [String: String] else { return nil }
            return GENAEvent(time: Date(timeIntervalSince1970: t), sid: sid, seq: Int(object["seq"] as? String ?? "") ?? -1,
                             path: path, variables: variables)
        }
    }

    /// The first event (optionally of subscription `sid`) after `after` that satisfies `match`.
    public func waitForEvent(sid: String? = nil, after: Date = .distantPast, timeout: Double,
                             _ match: (GENAEvent) -> Bool) -> GENAEvent? {
        var found: GENAEvent?
        waitUntil(timeout: timeout, interval: 0.01) {
            found = events().first { $0.time > after && (sid == nil || $0.sid == sid) && match($0) }
            return found != nil
        }
        return found
    }

    static let script = #"""
    import html, http.server, json, re, sys, time
    bind, port = sys.argv[1], int(sys.argv[2])
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args): pass
        def do_NOTIFY(self):
            t = time.time()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
            variables = {}
            last = re.search(r"<LastChange>(.*?)</LastChange>", body, re.S)
            if last:
                for name, value in re.findall(r'<(\w+) [^>]*?val="([^"]*)"', html.unescape(last.group(1))):
                    variables[name] = html.unescape(value)
            else:
                for name, value in re.findall(r"<e:property>\s*<(\w+)>(.*?)</\1>", body, re.S):
                    variables[name] = html.unescape(value)
            print(json.dumps({"t": t, "sid": self.headers.get("SID", ""), "seq": self.headers.get("SEQ", ""),
                              "path": self.path, "vars": variables}), flush=True)
            self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    server = http.server.ThreadingHTTPServer((bind, port), Handler)
    print("listening", flush=True)
    server.serve_forever()
    """#
}

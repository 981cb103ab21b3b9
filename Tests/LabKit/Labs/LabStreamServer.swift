import Foundation
import Synchronization

/// One request the stream server answered.
public struct StreamRequest: Sendable, CustomStringConvertible {
    public let time: Date
    public let client: String
    public let method: String
    public let path: String
    public let status: Int
    /// The Range header, nil without one.
    public let range: String?
    public var description: String { "\(method) \(path) \(status)\(range.map { " range=\($0)" } ?? "") from \(client)" }
}

/// An HTTP file server inside a lab host: the "radio station" a speaker was playing before an
/// announcement (a long WAV), or any clip a test wants a renderer to fetch. Serves the files of its
/// directory with an exact Content-Length, HEAD and single byte ranges (206/416) — gmediarender
/// seeks with Range — and logs every request, so a test can prove a stream was fetched again after
/// an announcement. python3's http.server underneath (no Range support of its own).
public final class LabStreamServer: Sendable {
    public let host: LabHost
    public let port: Int
    public let directory: TempDirectory
    private let child = Mutex<ChildProcess?>(nil)
    private var logPath: String { directory.path + "/.requests.log" }
    private var scriptPath: String { directory.path + "/.server.py" }

    public init(host: LabHost, port: Int = 8000) throws {
        self.host = host
        self.port = port
        directory = try TempDirectory(prefix: "labkit-stream")
    }

    deinit {
        child.withLock { $0?.kill9() }
        directory.remove()
    }

    /// The URL a lab host fetches `file` at.
    public func url(_ file: String) -> String { "http://\(host.address):\(port)/\(file)" }

    /// Starts the server and returns once it answers from inside its namespace.
    public func start() throws {
        try LabStreamServer.script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        try child.withLock { current in
            if current?.isRunning == true { return }
            current = try ChildProcess(["/usr/sbin/ip", "netns", "exec", host.name, "/usr/bin/python3", "-u", scriptPath,
                                        host.address, "\(port)", directory.path], outputPath: logPath)
        }
        let ready = waitUntil(timeout: 10, interval: 0.05) {
            (try? Shell.run(["ip", "netns", "exec", host.name, "curl", "-s", "-m", "1", "-o", "/dev/null", "http://\(host.address):\(port)/"]))?.status == 0
        }
        guard ready else { throw LabError("stream server on \(host) not answering\n\(tail(of: logPath))") }
    }

    public func stop() { child.withLock { _ = $0?.terminate(timeout: 2) } }

    /// Every request so far, oldest first.
    public func requests() -> [StreamRequest] {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.count == 6, let t = Double(f[0]), let status = Int(f[4]), f[5].hasPrefix("range=") else { return nil }
            let range = String(f[5].dropFirst(6))
            return StreamRequest(time: Date(timeIntervalSince1970: t), client: String(f[1]), method: String(f[2]),
                                 path: String(f[3]), status: status, range: range == "-" ? nil : range.replacingOccurrences(of: "\u{1f}", with: " "))
        }
    }

    /// GETs of `/file` so far.
    public func gets(of file: String) -> [StreamRequest] {
        requests().filter { $0.method == "GET" && $0.path.split(separator: "?").first.map(String.init) == "/" + file }
    }

    /// A sine tone WAV (16-bit, 44.1 kHz stereo like a CD stream) made by sox; returns its URL.
    @discardableResult
    public func addTone(_ file: String, seconds: Double, frequency: Int = 440, volume: Double = 0.5) throws -> String {
        try Shell.runChecked(["sox", "-n", "-r", "44100", "-c", "2", "-b", "16", directory.file(file),
                              "synth", "\(seconds)", "sine", "\(frequency)", "vol", "\(volume)"])
        return url(file)
    }

    /// Speech by espeak-ng as a WAV (22,050 Hz mono); returns its URL and its length in seconds.
    @discardableResult
    public func addSpeech(_ file: String, text: String) throws -> (url: String, seconds: Double) {
        try Shell.runChecked(["espeak-ng", "-w", directory.file(file), text])
        return (url(file), try AudioStats.of(file: directory.file(file)).duration)
    }

    /// Copies a file in; returns its URL.
    @discardableResult
    public func add(_ file: String, from path: String) throws -> String {
        try? FileManager.default.removeItem(atPath: directory.file(file))
        try FileManager.default.copyItem(atPath: path, toPath: directory.file(file))
        return url(file)
    }

    static let script = #"""
    # LabKit stream server: the files of one directory, exact Content-Length, HEAD, single byte
    # ranges; one log line per request: "<unix time> <client> <METHOD> <path> <status> range=<Range|->".
    import http.server, os, re, sys, time
    bind, port, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *args): pass
        def record(self, status):
            rng = (self.headers.get("Range") or "-").replace(" ", "\x1f")
            print("%.3f %s %s %s %d range=%s" % (time.time(), self.client_address[0], self.command,
                  self.path.replace(" ", "%20"), status, rng), flush=True)
        def do_HEAD(self): self.serve(False)
        def do_GET(self): self.serve(True)
        def empty(self, status, extra=()):
            self.record(status); self.send_response(status)
            for k, v in extra: self.send_header(k, v)
            self.send_header("Content-Length", "0"); self.end_headers()
        def serve(self, body):
            name = os.path.basename(self.path.split("?", 1)[0])
            path = os.path.join(root, name)
            if not name:
                return self.empty(200)  # readiness probe
            if name.startswith(".") or not os.path.isfile(path):
                return self.empty(404)
            size = os.path.getsize(path)
            start, end, status = 0, size - 1, 200
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", (self.headers.get("Range") or "").strip())
            if m and (m.group(1) or m.group(2)):
                if m.group(1):
                    start = int(m.group(1))
                    end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
                else:
                    start = max(0, size - int(m.group(2)))
                if start >= size or start > end:
                    return self.empty(416, [("Content-Range", "bytes */%d" % size)])
                status = 206
            self.record(status)
            self.send_response(status)
            ctype = {"wav": "audio/wav", "mp3": "audio/mpeg", "ogg": "audio/ogg", "flac": "audio/flac"}.get(
                name.rsplit(".", 1)[-1], "application/octet-stream")
            self.send_header("Content-Type", ctype)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(end - start + 1))
            if status == 206:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
            self.end_headers()
            if not body:
                return
            try:
                with open(path, "rb") as f:
                    f.seek(start)
                    left = end - start + 1
                    while left > 0:
                        chunk = f.read(min(65536, left))
                        if not chunk:
                            break
                        self.wfile.write(chunk)
                        left -= len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the renderer stopped, switched or seeked: it just closes the connection

    http.server.ThreadingHTTPServer.daemon_threads = True
    http.server.ThreadingHTTPServer((bind, port), Handler).serve_forever()
    """#
}

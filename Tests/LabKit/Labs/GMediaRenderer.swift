import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A real UPnP MediaRenderer, Debian's `gmediarender`, running in one lab host's namespace.
///
/// It answers SSDP M-SEARCH for `urn:schemas-upnp-org:device:MediaRenderer:1` (and sends
/// ssdp:alive on start, ssdp:byebye on SIGTERM, nothing on SIGKILL), serves its description at
/// `descriptionURL` (`/description.xml`), speaks AVTransport / RenderingControl / ConnectionManager
/// (control URLs `/upnp/control/rendertransport1`, `…/rendercontrol1`, `…/renderconnmgr1`; event
/// URLs `/upnp/event/…`) with GENA events, fetches the URI it is given over HTTP and writes what it
/// plays to `recording`.
///
/// Timing (real-time mode, the default): the sink is `filesink sync=true`, so the pipeline runs on
/// the clock like a loudspeaker — the recording grows at `AudioRecording.bytesPerSecond` and the
/// STOPPED event for a clip arrives ~20-60 ms after the clip's real length. With `realTime: false`
/// the clip is consumed as fast as it downloads (a 2.6 s clip is STOPPED ~0.1 s after Play).
///
/// gmediarender quirks a driver meets here (seen with 0.1 / libupnp 1.8.4 / GStreamer 1.22):
/// - SetAVTransportURI while PLAYING switches to the new URI at once and keeps PLAYING (Play is
///   then a no-op; no STOPPED in between).
/// - At the end of a track it sends STOPPED together with `AVTransportURI=""` and
///   `CurrentTrackURI=""`: it forgets the URI (a snapshot must be taken before the announcement).
/// - Every Play fetches the URI again (sometimes twice: a probe, then the real GET); Seek on a
///   server with Range support fetches from the byte offset (206).
/// - libupnp answers HTTP/1.1 without `Connection: close` and then closes the connection anyway:
///   a client that reuses pooled connections gets "connection closed" on the next request.
/// - After a restart it may listen on a higher port (libupnp binds without SO_REUSEADDR): `port`
///   is read from its log each time it starts.
public final class GMediaRenderer: Sendable {
    public let name: String
    /// Without "uuid:"; stays the same across restarts (the speaker's identity).
    public let uuid: String
    public let host: LabHost
    public let requestedPort: Int
    public let realTime: Bool
    public let recording: AudioRecording
    /// gmediarender's own log (`--logfile`): startup, every action, every event it sends.
    public let logPath: String
    /// stdout/stderr of the process.
    public let outputPath: String
    private let child = Mutex<ChildProcess?>(nil)
    private let actualPort = Mutex<Int?>(nil)

    public static let avTransportControlPath = "/upnp/control/rendertransport1"
    public static let renderingControlPath = "/upnp/control/rendercontrol1"
    public static let avTransportEventPath = "/upnp/event/rendertransport1"
    public static let renderingControlEventPath = "/upnp/event/rendercontrol1"
    public static let deviceType = "urn:schemas-upnp-org:device:MediaRenderer:1"

    /// Nothing starts until `start()`. Files go into `directory` (named after the renderer).
    public init(name: String, host: LabHost, directory: String, port: Int = 49_494, uuid: String = UUID().uuidString.lowercased(),
                realTime: Bool = true) {
        self.name = name
        self.host = host
        self.uuid = uuid
        requestedPort = port
        self.realTime = realTime
        let file = name.lowercased().map { $0.isLetter || $0.isNumber ? String($0) : "-" }.joined()
        recording = AudioRecording(path: "\(directory)/\(file).raw")
        logPath = "\(directory)/\(file).gmediarender.log"
        outputPath = "\(directory)/\(file).gmediarender.out"
    }

    deinit { child.withLock { $0?.kill9() } }

    /// The gst-launch pipeline gmediarender plays into: everything converted to the recording's
    /// format and appended to its file, unbuffered (the file size is the play position), on the
    /// clock when `realTime`.
    public var audioPipeline: String {
        "audioconvert ! audioresample ! \(AudioRecording.caps) ! filesink location=\(recording.path) append=true "
            + "buffer-mode=unbuffered sync=\(realTime)"
    }

    public var arguments: [String] {
        ["gmediarender", "-I", host.interface, "-f", name, "-u", uuid, "-p", "\(requestedPort)",
         "--logfile", logPath, "--gstout-audiopipe", audioPipeline]
    }

    public var isRunning: Bool { child.withLock { $0?.isRunning ?? false } }
    public var pid: Int32? { child.withLock { $0?.pid } }

    /// The port it listens on now (from its log), else the one it was asked for.
    public var port: Int { actualPort.withLock { $0 } ?? requestedPort }
    public var baseURL: String { "http://\(host.address):\(port)" }
    public var descriptionURL: String { "\(baseURL)/description.xml" }
    public var avTransportControlURL: String { baseURL + GMediaRenderer.avTransportControlPath }
    public var renderingControlURL: String { baseURL + GMediaRenderer.renderingControlPath }

    /// Starts the renderer and returns once its description answers (`timeout` seconds).
    public func start(timeout: Double = 10) throws {
        let logSize = (try? FileManager.default.attributesOfItem(atPath: logPath)[.size] as? NSNumber)?.intValue ?? 0
        // IPv4 only on the speaker's interface: libupnp also binds the IPv6 link-local address, which
        // is still "tentative" (duplicate address detection) for ~2 s after the link comes up, and
        // then fails with UPNP_E_SOCKET_BIND and retries once a second. The drivers speak IPv4.
        try Shell.runChecked(["ip", "netns", "exec", host.name, "sysctl", "-qw", "net.ipv6.conf.\(host.interface).disable_ipv6=1"])
        try child.withLock { current in
            if current?.isRunning == true { throw LabError("\(name) already running (pid \(current!.pid))") }
            actualPort.withLock { $0 = nil }
            // `ip netns exec` execs the command directly: the pid we hold is gmediarender's.
            current = try ChildProcess(["/usr/sbin/ip", "netns", "exec", host.name] + arguments, outputPath: outputPath)
        }
        // "Registered IP=10.231.7.2 port=49494" once libupnp listens; only this run's part of the log.
        let registered = waitUntil(timeout: timeout, interval: 0.02) {
            guard let port = registeredPort(after: logSize) else { return !isRunning }
            actualPort.withLock { $0 = port }
            return true
        }
        guard registered, isRunning else {
            kill9()
            throw LabError("gmediarender \(name) \(isRunning ? "did not register in \(timeout) s" : "exited during startup")"
                + "\n--- output:\n\(tail(of: outputPath))\n--- log:\n\(tail(of: logPath))")
        }
        try waitUntilAnswering(timeout: timeout)
    }

    /// Polls its description with curl from inside its namespace until it answers with its UDN.
    public func waitUntilAnswering(timeout: Double = 10) throws {
        var last = ""
        let ok = waitUntil(timeout: timeout, interval: 0.05) {
            guard isRunning else { return false }
            let got = try? Shell.run(["ip", "netns", "exec", host.name, "curl", "-s", "-m", "2", descriptionURL])
            last = got.map { "\($0.status) \($0.out.prefix(200))\($0.err)" } ?? "curl failed to start"
            return got?.status == 0 && got?.out.contains("uuid:\(uuid)") == true
        }
        guard ok else {
            throw LabError("gmediarender \(name) not answering at \(descriptionURL) after \(timeout) s (running: \(isRunning)); "
                + "last: \(last)\n--- log:\n\(tail(of: logPath))")
        }
    }

    /// SIGTERM: gmediarender says ssdp:byebye and exits.
    public func stop() { child.withLock { _ = $0?.terminate(timeout: 5) } }

    /// SIGKILL: the speaker vanishes without a word (power cut).
    public func kill9() { child.withLock { $0?.kill9() } }

    /// Stop (SIGTERM) if running, then start again with the same name, uuid and recording.
    public func restart(timeout: Double = 10) throws {
        stop()
        try start(timeout: timeout)
    }

    private func registeredPort(after offset: Int) -> Int? {
        guard let handle = FileHandle(forReadingAtPath: logPath) else { return nil }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: UInt64(offset))) != nil, let data = try? handle.readToEnd() else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        guard let range = text.range(of: "Registered IP=\(host.address) port=") else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }
}

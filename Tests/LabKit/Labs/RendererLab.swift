import Foundation

/// A lab LAN with real UPnP speakers: `helpers` plain hosts (for the daemon, a broker, a stream
/// server, a control point) followed by one host per renderer, each running its own `gmediarender`.
/// Built in network namespaces (see NetnsLab): nothing it does reaches the machine's real
/// interfaces. Every renderer records what it plays (`renderer.recording`).
///
///     let lab = try RendererLab(renderers: ["Kitchen", "Office"])
///     defer { lab.destroy() }
///     let controller = lab.helpers[0]
///     try lab.lab.play(url, on: lab.renderers[0], from: controller)
///
/// Unplug a speaker with `lab.lab.linkDown(host: renderer.host)`, pull its power with
/// `renderer.kill9()`, bring it back with `renderer.start()`.
public final class RendererLab: Sendable {
    public let lab: NetnsLab
    /// Hosts without a renderer, in order (lab addresses .1, .2, …).
    public let helpers: [LabHost]
    public let renderers: [GMediaRenderer]
    /// Recordings and renderer logs; removed by `destroy()` unless `keepFiles`.
    public let directory: TempDirectory
    private let keepFiles: Bool

    /// Builds the LAN and starts every renderer, returning once all answer on HTTP.
    /// - realTime: play on the clock (STOPPED at the clip's real end); false plays as fast as the
    ///   clip downloads.
    public init(renderers names: [String], helpers: Int = 1, realTime: Bool = true, keepFiles: Bool = false) throws {
        precondition(!names.isEmpty && helpers >= 0, "a renderer lab needs at least one renderer")
        let lab = try NetnsLab(hosts: max(2, helpers + names.count))
        self.lab = lab
        self.helpers = Array(lab.hosts.prefix(helpers))
        self.keepFiles = keepFiles
        do {
            directory = try TempDirectory(prefix: "labkit-renderers")
        } catch {
            lab.destroy()
            throw error
        }
        let dir = directory.path
        renderers = names.enumerated().map { index, name in
            GMediaRenderer(name: name, host: lab.hosts[helpers + index], directory: dir, realTime: realTime)
        }
        do {
            for renderer in renderers { try renderer.start() }
        } catch {
            destroy()
            throw error
        }
    }

    deinit { destroy() }

    public func renderer(named name: String) -> GMediaRenderer? {
        renderers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }
    }

    /// Waits until every running renderer answers (after link or process games).
    public func waitUntilReady(timeout: Double = 10) throws {
        for renderer in renderers where renderer.isRunning { try renderer.waitUntilAnswering(timeout: timeout) }
    }

    /// Kills the renderers, removes the namespaces and (unless `keepFiles`) the recordings. Idempotent.
    public func destroy() {
        for renderer in renderers { renderer.kill9() }
        lab.destroy()
        if !keepFiles { directory.remove() }
    }

    /// nil when a renderer lab can run here; otherwise why not (tests skip with it).
    public static var unavailableReason: String? {
        if let reason = NetnsLab.unavailableReason { return reason }
        for tool in ["gmediarender", "sox", "curl", "espeak-ng"] where (try? Shell.run(["which", tool]))?.status != 0 {
            return "\(tool) not installed (scripts/install-deps.sh test)"
        }
        if !FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") { return "/usr/bin/python3 not installed" }
        return nil
    }
}

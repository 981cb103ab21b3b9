import Foundation
import PluginAPI

/// `speakerbridge plugin-host`: the process one isolated plugin runs in. The daemon starts it with
/// the socket on `--fd`; it caps its own memory and open files, closes anything it inherited
/// beyond its socket, and serves the daemon's calls until `destroy` or until the daemon is gone.
public enum PluginHostMain {
    struct Options {
        var fd: Int32 = 3
        var name = "plugin"
        var memoryLimitMB = 4096
        var openFilesLimit = 256
        var logLevel = SB_LOG_INFO
    }

    /// Serves until the end; returns only for bad arguments or a process that cannot start serving.
    public static func run(arguments: [String]) -> Int32 {
        let options: Options
        switch parse(arguments) {
        case .options(let o): options = o
        case .problem(let problem):
            FileHandle.standardError.write(Data("plugin-host: \(problem)\n".utf8))
            return 2
        }
        guard fcntl(options.fd, F_GETFD) >= 0 else {
            FileHandle.standardError.write(Data("plugin-host: descriptor \(options.fd) is not open (the daemon starts plugin-host with its socket there)\n".utf8))
            return 2
        }
        // As the daemon: a write to a socket the other end closed is an error, not the end.
        signal(SIGPIPE, SIG_IGN)
        // Its life is tied to its socket: the daemon ends it (destroy, or SIGKILL), and its end
        // of the socket closing ends it. A Ctrl-C in a terminal or a service manager's SIGTERM to
        // the whole group must not kill it before the daemon has stopped it in order (it would be
        // reported, and restarted, as a crash).
        for s in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] { signal(s, SIG_IGN) }
        closeInheritedDescriptors(keeping: options.fd)
        if let problem = applyLimits(options) {
            FileHandle.standardError.write(Data("plugin-host \(options.name): \(problem)\n".utf8))
            return 1
        }
        let channel = PluginChannel(fd: options.fd, label: "plugin-host.\(options.name)")
        let plugin = ChildPlugin(channel: channel, name: options.name, logLevel: options.logLevel)
        channel.start(onCall: { plugin.handleCall($0) }, onNote: { plugin.handleNote($0) },
                      onClose: { _ in
                          // The daemon is gone, closed the socket to end this process, or the
                          // plugin's own code closed it: nobody is left to serve. The status tells
                          // the daemon (when it did not close it) that the connection ended first.
                          exitNow(connectionLostStatus)
                      })
        // Everything happens on the channel's reader thread and the plugin's executor.
        while true { pause() }
    }

    /// The exit status of a plugin host whose connection ended without `destroy` (EX_TEMPFAIL). A
    /// plugin that calls `exit(75)` itself is reported as having closed its socket: both end its
    /// service the same way.
    static let connectionLostStatus: Int32 = 75

    /// Ends the process at once. Not `exit`: that would run the plugin's (and the runtime's)
    /// global destructors while the plugin's own threads may still be running inside them.
    static func exitNow(_ status: Int32) -> Never {
        fflush(nil)
        _exit(status)
    }

    // MARK: setup

    private enum Parsed {
        case options(Options)
        case problem(String)
    }

    private static func parse(_ arguments: [String]) -> Parsed {
        var o = Options()
        var i = 0
        while i < arguments.count {
            let key = arguments[i]
            guard i + 1 < arguments.count else { return .problem("\(key) needs a value") }
            let value = arguments[i + 1]
            switch key {
            case "--fd":
                guard let v = Int32(value), v >= 0 else { return .problem("--fd takes a descriptor number, got \(value)") }
                o.fd = v
            case "--name": o.name = value
            case "--memory-limit-mb":
                guard let v = Int(value), v > 0 else { return .problem("--memory-limit-mb takes MiB, got \(value)") }
                o.memoryLimitMB = v
            case "--open-files-limit":
                guard let v = Int(value), v > 0 else { return .problem("--open-files-limit takes a count, got \(value)") }
                o.openFilesLimit = v
            case "--log-level":
                // The daemon's levels onto the plugin log levels: the plugin host's own debug
                // messages only when the daemon logs at debug or trace.
                switch value {
                case "trace", "debug": o.logLevel = SB_LOG_DEBUG
                case "info", "notice": o.logLevel = SB_LOG_INFO
                case "warning": o.logLevel = SB_LOG_WARNING
                default: o.logLevel = SB_LOG_ERROR
                }
            default: return .problem("unknown option \(key)")
            }
            i += 2
        }
        return .options(o)
    }

    /// The caps apply before the plugin is mapped, so its constructors are held to them too.
    private static func applyLimits(_ o: Options) -> String? {
        var memory = rlimit(rlim_cur: rlim_t(o.memoryLimitMB) << 20, rlim_max: rlim_t(o.memoryLimitMB) << 20)
        guard setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &memory) == 0 else { return "setrlimit(RLIMIT_AS, \(o.memoryLimitMB) MiB): \(String(cString: strerror(errno)))" }
        var files = rlimit(rlim_cur: rlim_t(o.openFilesLimit), rlim_max: rlim_t(o.openFilesLimit))
        guard setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &files) == 0 else { return "setrlimit(RLIMIT_NOFILE, \(o.openFilesLimit)): \(String(cString: strerror(errno)))" }
        return nil
    }

    /// The daemon's spawn closed every descriptor beyond 0-3 already; this holds even for a plugin
    /// host started some other way. The runtime's own descriptors (the event loop's epoll and
    /// eventfd, opened before this runs) are anonymous inodes and stay.
    private static func closeInheritedDescriptors(keeping socket: Int32) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
        for fd in names.compactMap({ Int32($0) }) where fd > 2 && fd != socket {
            // nil: the directory listing's own descriptor, gone by now.
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)") else { continue }
            if target.hasPrefix("anon_inode:") { continue }
            close(fd)
        }
    }
}

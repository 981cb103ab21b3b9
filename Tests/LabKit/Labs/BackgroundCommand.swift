import Foundation

/// A command left running inside a lab host (a subscriber that records what it hears), its output
/// collected in a file the test reads while it runs.
public final class BackgroundCommand: Sendable {
    private let child: ChildProcess
    private let directory: TempDirectory
    private let outputPath: String

    init(_ arguments: [String]) throws {
        directory = try TempDirectory(prefix: "labcmd")
        outputPath = directory.file("output")
        child = try ChildProcess(arguments, outputPath: outputPath)
    }

    public func output() -> String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    public func stop() {
        child.terminate(timeout: 2)
        directory.remove()
    }
}

extension NetnsLab {
    /// Starts a command inside the host's namespace and returns at once.
    public func background(host: LabHost, _ args: [String]) throws -> BackgroundCommand {
        try BackgroundCommand(["/usr/sbin/ip", "netns", "exec", host.name] + args)
    }
}

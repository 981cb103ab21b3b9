import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs short-lived commands to completion (ip, openssl, mosquitto_pub, ...).
public enum Shell {
    /// True when running with effective uid 0 (needed for network namespaces).
    public static var isRoot: Bool { geteuid() == 0 }

    /// Runs `args[0]` (looked up in PATH) with the rest as arguments and returns its exit status
    /// and captured output. stdout and stderr are drained on separate threads: reading one pipe
    /// to the end while the child blocks writing a full other pipe would deadlock.
    @discardableResult
    public static func run(_ args: [String], input: String? = nil) throws -> (status: Int32, out: String, err: String) {
        precondition(!args.isEmpty, "Shell.run needs a command")
        _ = ignoreSIGPIPE
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = args
        let outPipe = Pipe(), errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        let inPipe: Pipe? = input == nil ? nil : Pipe()
        // Without an explicit stdin the child would share ours; /dev/null keeps tools like
        // mosquitto_sub from waiting on the test runner's terminal.
        process.standardInput = inPipe ?? FileHandle.nullDevice
        try process.run()

        let errData = Mutex<Data>(Data())
        let group = DispatchGroup()
        let errHandle = errPipe.fileHandleForReading
        DispatchQueue.global().async(group: group) {
            let data = errHandle.readDataToEndOfFile()
            errData.withLock { $0 = data }
        }
        if let inPipe, let input {
            let writer = inPipe.fileHandleForWriting
            let bytes = Data(input.utf8)
            DispatchQueue.global().async(group: group) {
                // A child that exits without reading gives EPIPE; SIGPIPE is ignored below.
                try? writer.write(contentsOf: bytes)
                try? writer.close()
            }
        }
        let outData = outPipe.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return (process.terminationStatus,
                String(decoding: outData, as: UTF8.self),
                String(decoding: errData.withLock { $0 }, as: UTF8.self))
    }

    /// Like `run`, but a non-zero exit throws with the command line and its stderr.
    @discardableResult
    public static func runChecked(_ args: [String], input: String? = nil) throws -> String {
        let result = try run(args, input: input)
        guard result.status == 0 else {
            throw LabError("`\(args.joined(separator: " "))` exited \(result.status): "
                + result.err.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return result.out
    }

    /// Writing to a pipe whose reader died must not kill the test process.
    static let ignoreSIGPIPE: Void = { signal(SIGPIPE, SIG_IGN); return () }()
}

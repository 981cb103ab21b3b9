import Foundation

/// The daemon's state directory: the installation's stable MQTT client id and the lock that keeps
/// two local instances from sharing it (two clients with one id kick each other off the broker forever).
public final class StateDirectory: Sendable {
    public struct LockedError: Error, CustomStringConvertible {
        public let description: String
    }

    public let path: String
    private let lockFD: Int32

    /// Creates the directory if needed and takes the exclusive lock, or throws with who holds it.
    public init(path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let lockPath = path + "/lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw LockedError(description: "cannot open \(lockPath): \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let holder = (try? String(contentsOfFile: lockPath, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            close(fd)
            let who = holder.flatMap { $0.isEmpty ? nil : "process \($0)" } ?? "another process"
            throw LockedError(description: "another speakerbridge (\(who)) is already using the state directory \(path); stop it, or give this instance its own state_dir (and so its own MQTT client id)")
        }
        ftruncate(fd, 0)
        let pid = "\(getpid())\n"
        _ = pid.withCString { write(fd, $0, strlen($0)) }
        lockFD = fd
    }

    deinit { close(lockFD) }

    /// The client id of this installation, generated on first use and kept forever after, so the
    /// broker resumes our session instead of leaking a new one per start.
    public func clientID() throws -> String {
        let file = path + "/client_id"
        if let existing = try? String(contentsOfFile: file, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines), !existing.isEmpty {
            return existing
        }
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count)
        let hostName = String(decoding: host.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self).filter { $0.isLetter || $0.isNumber || $0 == "-" }.prefix(24)
        let suffix = (0..<4).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let id = "speakerbridge-\(hostName.isEmpty ? "host" : String(hostName))-\(suffix)"
        try (id + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        return id
    }

    public var brokerDirectory: String { StateDirectory.brokerDirectory(of: path) }

    /// The embedded broker's files (configuration, password, persistence); the CLI finds the
    /// broker's password here without taking the lock.
    public static func brokerDirectory(of stateDirectory: String) -> String { stateDirectory + "/broker" }
}

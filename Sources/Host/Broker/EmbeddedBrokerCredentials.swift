import Foundation

/// The one login of the embedded broker: user `speakerbridge` and a random password kept in
/// `<state_dir>/broker/password` (mode 0600, created once). The daemon's session and the CLI
/// (`say`, `health`, `plugins`, ...) use it; anyone else needs it too, unless
/// `embedded_broker.allow_anonymous` is on. Reading the file is the permission check: whoever may
/// read the daemon's state directory may command the daemon.
public struct EmbeddedBrokerCredentials: Sendable, Equatable {
    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    public static let username = "speakerbridge"

    public let username: String
    public let password: Secret

    public static func passwordPath(stateDirectory: String) -> String {
        StateDirectory.brokerDirectory(of: stateDirectory) + "/password"
    }

    /// For the daemon: the password of this installation, generated on the first start.
    /// `brokerDirectory` must exist (the daemon creates it with mode 0700).
    static func loadOrCreate(brokerDirectory: String) throws(Unavailable) -> EmbeddedBrokerCredentials {
        let path = brokerDirectory + "/password"
        if let existing = try? read(path), !existing.isEmpty {
            // A copy restored from a backup may have lost its mode; the file is a key.
            chmod(path, 0o600)
            return .init(username: username, password: Secret(existing))
        }
        // Absent, or empty after a crash during the first write: (re)create it.
        unlink(path)
        var bytes = [UInt8](repeating: 0, count: 20)
        var generator = SystemRandomNumberGenerator()  // getrandom(2): fit for a secret
        for i in bytes.indices { bytes[i] = generator.next() }
        // Hex: no ':' (the separator in mosquitto's password file), no quoting needed anywhere.
        let password = bytes.map { String(format: "%02x", $0) }.joined()
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw Unavailable(description: "cannot create the embedded broker's password file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let line = Array((password + "\n").utf8)
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count, fsync(fd) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(path)
            throw Unavailable(description: "cannot write the embedded broker's password file \(path): \(reason)")
        }
        return .init(username: username, password: Secret(password))
    }

    /// For the CLI: the password the running daemon uses, or why it cannot be had.
    public static func load(stateDirectory: String) throws(Unavailable) -> EmbeddedBrokerCredentials {
        let path = passwordPath(stateDirectory: stateDirectory)
        do {
            let text = try read(path)
            guard !text.isEmpty else {
                throw Unavailable(description: "the embedded broker's password file \(path) is empty: start the daemon (speakerbridge run) once to create it")
            }
            return .init(username: username, password: Secret(text))
        } catch let error as Unavailable {
            throw error
        } catch let error as POSIXFailure where error.code == ENOENT {
            throw Unavailable(description: "no password for the embedded broker at \(path): start the daemon (speakerbridge run) with this state_dir first, or pass the daemon's --state-dir / --config")
        } catch let error as POSIXFailure where error.code == EACCES || error.code == EPERM {
            throw Unavailable(description: "cannot read the embedded broker's password at \(path) (permission denied): run as the daemon's user or root")
        } catch {
            throw Unavailable(description: "cannot read the embedded broker's password at \(path): \(error)")
        }
    }

    private struct POSIXFailure: Error, CustomStringConvertible {
        let code: Int32
        var description: String { String(cString: strerror(code)) }
    }

    /// The first line of a small file, with errno preserved (Foundation's errors blur EACCES and ENOENT).
    private static func read(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw POSIXFailure(code: errno) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
        guard n >= 0 else { throw POSIXFailure(code: errno) }
        let text = String(decoding: buffer.prefix(n), as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: false).first
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
    }
}

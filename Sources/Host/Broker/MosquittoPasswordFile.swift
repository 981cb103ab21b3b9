import Foundation

/// Writes the embedded broker's `password_file`. mosquitto 2.0 wants a hashed entry
/// (`user:$7$<iterations>$<salt>$<PBKDF2-SHA512>`); its own `mosquitto_passwd` (same package as the
/// broker, so present wherever the broker is) makes it. `-U` hashes a plain `user:password` file in
/// place, so the password never appears on a command line (visible to everyone in /proc) or a pipe.
enum MosquittoPasswordFile {
    /// Replaces `path` with a file admitting exactly `credentials`; `brokerExecutable` is where
    /// mosquitto was found (mosquitto_passwd is looked for beside it first).
    static func write(_ credentials: EmbeddedBrokerCredentials, to path: String, brokerExecutable: String) async throws(EmbeddedBrokerError) {
        let tool = try locateTool(near: brokerExecutable)
        let scratch = path + ".new"
        unlink(scratch)
        let fd = open(scratch, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw EmbeddedBrokerError(description: "cannot write \(scratch): \(String(cString: strerror(errno)))")
        }
        let line = Array("\(credentials.username):\(credentials.password.value)\n".utf8)
        let written = line.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == line.count else {
            unlink(scratch)
            throw EmbeddedBrokerError(description: "cannot write \(scratch): \(String(cString: strerror(errno)))")
        }
        let output = scratch + ".log"
        unlink(output)
        let code: Int32
        do {
            let child = try ChildProcess(executable: tool, arguments: ["-U", scratch], outputPath: output)
            code = await child.exitStatus()
        } catch {
            unlink(scratch)
            throw EmbeddedBrokerError(description: "embedded broker: cannot run \(tool): \(error)")
        }
        let said = (try? String(contentsOfFile: output, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        unlink(output)
        let hashed = (try? String(contentsOfFile: scratch, encoding: .utf8)) ?? ""
        // A plain entry left behind would be refused by mosquitto 2.0 or, worse, stored as is.
        guard code == 0, hashed.hasPrefix(credentials.username + ":$") else {
            unlink(scratch)
            throw EmbeddedBrokerError(description: "embedded broker: \(tool) -U could not hash the password (exit status \(code)\(said.isEmpty ? "" : ": \(said)"))")
        }
        guard rename(scratch, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(scratch)
            throw EmbeddedBrokerError(description: "cannot write \(path): \(reason)")
        }
    }

    private static func locateTool(near brokerExecutable: String) throws(EmbeddedBrokerError) -> String {
        let beside = (brokerExecutable as NSString).deletingLastPathComponent
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        // Debian puts the broker in /usr/sbin and mosquitto_passwd in /usr/bin.
        let folders = [beside] + path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"]
        for folder in folders where !folder.isEmpty {
            let candidate = folder + "/mosquitto_passwd"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw EmbeddedBrokerError(description: "embedded broker: mosquitto_passwd (package mosquitto) is needed to set up the broker's password and was not found beside \(brokerExecutable) or on PATH")
    }
}

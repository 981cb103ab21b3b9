import Foundation

/// A plain mosquitto command-line client (mosquitto_sub / mosquitto_pub) as a child process,
/// output discarded.
final class MosquittoTool {
    let process = Process()
    let clientID: String

    /// `tool` is "mosquitto_sub" or "mosquitto_pub"; host, port, MQTT 5 and a client id are added.
    init(_ tool: String, port: Int, clientID: String, _ arguments: [String]) throws {
        self.clientID = clientID
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool, "-h", "127.0.0.1", "-p", String(port), "-V", "mqttv5", "-i", clientID] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

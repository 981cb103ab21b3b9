import Foundation

/// What a broker's `log_type all` log says about its clients' connections, for tests that check how
/// a client connects rather than what it publishes.
extension MosquittoBroker {
    /// The log so far; `logText.count` is an offset for the `after:` parameters below, so a test can
    /// look only at what happened since a given moment (MosquittoBroker's own readiness probe, a
    /// bare TCP connect, is in the log of every start).
    public var logText: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// TCP connections that were never followed by a CONNECT: every "New connection from ADDR"
    /// line with no "New client connected from ADDR as" after it. A bare TCP probe shows up like
    /// that (mosquitto then logs "Client <unknown> closed its connection."). Call it once things
    /// have settled: a connection whose CONNECT is still on its way counts too.
    public func connectionsWithoutConnect(after offset: Int = 0) -> [String] {
        let lines = logText.dropFirst(offset).split(separator: "\n").map(String.init)
        var open: [String: String] = [:]  // address -> its "New connection" line
        for line in lines {
            if let address = Self.address(in: line, after: "New connection from ", upTo: " on port") {
                open[address] = line
            } else if let address = Self.address(in: line, after: "New client connected from ", upTo: " as ") {
                open[address] = nil
            }
        }
        return open.values.sorted()
    }

    /// How many SUBSCRIBE packets the client with this id sent (the log has "Received SUBSCRIBE from
    /// <id>" for each, then one line per filter).
    public func subscribes(of clientID: String, after offset: Int = 0) -> Int {
        logText.dropFirst(offset).split(separator: "\n").filter { $0.hasSuffix("Received SUBSCRIBE from \(clientID)") }.count
    }

    private static func address(in line: String, after marker: String, upTo end: String) -> String? {
        guard let start = line.range(of: marker), let stop = line.range(of: end, range: start.upperBound..<line.endIndex) else {
            return nil
        }
        return String(line[start.upperBound..<stop.lowerBound])
    }
}

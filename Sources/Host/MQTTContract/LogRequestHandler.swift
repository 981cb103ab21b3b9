/// `<base>/bridge/request/log`: the daemon's recent log lines at a chosen level.
/// SKELETON (#14): helper S2 fills this in.
public struct LogRequestHandler: BridgeRequestHandler {
    public let name = "log"
    public let isSlow = false
    let lines: LogLines

    public init(lines: LogLines) { self.lines = lines }

    public func handle(_ request: BridgeRequest) async throws(BridgeRequestError) -> JSONValue {
        throw BridgeRequestError("not built yet")
    }
}

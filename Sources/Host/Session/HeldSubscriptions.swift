import Foundation

/// The topic filters the broker's session for our client id holds, kept in the state directory.
///
/// A broker sends retained messages again when a filter is subscribed again, even on a resumed
/// session (MQTT 3.1.1 always; MQTT 5 unless retain handling says otherwise), and some brokers
/// (amqtt) replay a session's queued messages with the retain flag set. Knowing what the session
/// already holds lets the session subscribe only what is missing after a resume, so a retained
/// request can be told apart: one on a filter subscribed in this connection may be a
/// subscribe-time retained message and is ignored; any other is a replay and is processed.
///
/// The file is rewritten whole (write, rename); losing it costs only one round of re-subscribing.
/// Confined to the session thread.
final class HeldSubscriptions {
    private let path: String
    private(set) var filters: Set<String>

    init(stateDirectory: String) {
        path = stateDirectory + "/session-subscriptions"
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        filters = Set(text.split(separator: "\n").map(String.init).filter { !$0.isEmpty })
    }

    /// The broker started a new session: it holds nothing.
    func sessionIsNew() {
        guard !filters.isEmpty else { return }
        filters = []
        save()
    }

    func held(_ filter: String) {
        guard filters.insert(filter).inserted else { return }
        save()
    }

    func released(_ filter: String) {
        guard filters.remove(filter) != nil else { return }
        save()
    }

    private func save() {
        let tmp = path + ".tmp"
        let text = filters.sorted().map { $0 + "\n" }.joined()
        do {
            try text.write(toFile: tmp, atomically: false, encoding: .utf8)
            guard rename(tmp, path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            // Without the file the next resume subscribes everything again: retained messages
            // on those filters are then ignored as subscribe-time ones, nothing is lost.
            unlink(tmp)
        }
    }
}

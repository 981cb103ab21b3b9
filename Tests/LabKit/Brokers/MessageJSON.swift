import Foundation

/// The payload as a JSON object; empty when it is none (the daemon's answers and events all are).
public func json(_ m: ReceivedMessage) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(m.payload))) as? [String: Any] ?? [:]
}

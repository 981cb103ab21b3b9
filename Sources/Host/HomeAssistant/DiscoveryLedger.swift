import Foundation
import Logging

/// Which discovery topics this installation has published, and when each speaker was last seen,
/// kept in the state directory so a restart neither forgets configs it must clear one day nor
/// restarts a gone speaker's `remove_after` clock.
struct DiscoveryLedger: Equatable {
    struct Speaker: Equatable {
        var lastSeen: Double
        var topics: [String]
    }

    var bridgeTopics: [String] = []
    var speakers: [String: Speaker] = [:]

    /// A missing file is a first start; an unreadable one is logged and started afresh (its configs
    /// then stay until Home Assistant's user deletes them, never a crash).
    static func load(path: String, logger: Logger) -> DiscoveryLedger {
        guard let data = FileManager.default.contents(atPath: path) else { return DiscoveryLedger() }
        guard let root = try? JSONValue.parse(Array(data)), let object = root.objectValue else {
            logger.warning("homeassistant: \(path) is not a JSON object; starting a new discovery ledger")
            return DiscoveryLedger()
        }
        var ledger = DiscoveryLedger()
        ledger.bridgeTopics = (object["bridge"]?.arrayValue ?? []).compactMap(\.stringValue)
        for (id, entry) in object["speakers"]?.objectValue ?? [:] {
            guard let seen = entry["last_seen"]?.numberValue else { continue }
            ledger.speakers[id] = Speaker(lastSeen: seen, topics: (entry["topics"]?.arrayValue ?? []).compactMap(\.stringValue))
        }
        return ledger
    }

    var json: JSONValue {
        ["bridge": .array(bridgeTopics.map { .string($0) }),
         "speakers": .object(speakers.mapValues { ["last_seen": .number($0.lastSeen), "topics": .array($0.topics.map { .string($0) })] })]
    }

    /// Written beside and renamed over, so a crash leaves the old file or the new one.
    func save(path: String) throws {
        let temporary = path + ".tmp"
        try Data(json.serialized().utf8).write(to: URL(fileURLWithPath: temporary))
        if rename(temporary, path) != 0 {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, NSLocalizedDescriptionKey: String(cString: strerror(errno))])
        }
    }
}

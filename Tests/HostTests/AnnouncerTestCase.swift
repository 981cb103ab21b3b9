import Foundation
import Logging
import XCTest

@testable import SpeakerbridgeHost

/// A speech announcer with a real journal in a temporary folder, in-memory drivers and a recording
/// backend: the announcement tests without a daemon or plugins.
class AnnouncerTestCase: XCTestCase {
    var dir = ""
    let topics = Topics(base: "sb")

    override func setUp() {
        dir = NSTemporaryDirectory() + "announcer-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    struct Rig {
        let spool: Spool
        let announcer: SpeechAnnouncer
        let backend: RecordingBackend
        let topics: Topics

        /// Records `text` as a request (as the router does) and hands it to the announcer.
        func say(_ id: String, _ text: String, to speakers: [String] = [], priority: SpeakRequest.Priority = .normal,
                 interrupt: Bool = false, chime: String? = nil) async throws -> AnnouncementAcceptance {
            let seq = try XCTUnwrap(try spool.recordRequest(key: "speak:\(id)", topic: "sb/speak", payload: Array(text.utf8),
                                                           responseTopic: nil, correlationData: nil))
            var request = SpeakRequest(id: id, text: text, speakers: speakers)
            request.priority = priority
            request.interrupt = interrupt
            request.chime = chime
            return await announcer.accept(request, requestSeq: seq)
        }

        /// The announcement events published so far, as objects.
        var events: [[String: JSONValue]] {
            spool.outbound(after: 0, limit: 1000).compactMap { q in
                guard q.message.topic == topics.announcementEvents else { return nil }
                return (try? JSONValue.parse(q.message.payload))?.objectValue
            }
        }

        func states(of id: String) -> [String] {
            events.filter { $0["id"]?.stringValue == id }.compactMap { $0["state"]?.stringValue }
        }

        func final(_ id: String) async -> [String: JSONValue]? {
            _ = await eventually { states(of: id).contains { $0 == "done" || $0 == "failed" } }
            return events.last { $0["id"]?.stringValue == id && ["done", "failed"].contains($0["state"]?.stringValue ?? "") }
        }
    }

    func rig(_ speakers: [String: [SpeakerInfo]], backend: RecordingBackend = RecordingBackend(), maxQueue: Int = 100) async throws -> Rig {
        let spool = try Spool(directory: dir, durability: .process, maxOutbound: 1000, dedupWindow: 3600, logger: Logger(label: "test"))
        let directory = SpeakerDirectory(drivers: InMemoryDrivers(speakers))
        let announcer = SpeechAnnouncer(directory: directory, backend: backend, spool: spool, topics: topics,
                                        maxQueue: maxQueue, logger: Logger(label: "test"))
        return Rig(spool: spool, announcer: announcer, backend: backend, topics: topics)
    }
}

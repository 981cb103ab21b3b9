import PluginAPI
import XCTest

@testable import SpeakerbridgeHost

/// The entry-point messages of the plugin host protocol: every one survives a round trip, a cut or
/// padded one is refused, and a refusal crosses as the same `PluginRejection` (so its text is inline's).
final class EntryPointMessagesTests: XCTestCase {
    private func roundTrip<M: WireMessage & Equatable>(_ message: M, file: StaticString = #filePath, line: UInt = #line) {
        let bytes = message.encode()
        XCTAssertEqual(try M(decoding: bytes), message, file: file, line: line)
        if !bytes.isEmpty {
            XCTAssertThrowsError(try M(decoding: Array(bytes.dropLast())), "a cut \(M.self) is refused", file: file, line: line)
        }
        XCTAssertThrowsError(try M(decoding: bytes + [0]), "a padded \(M.self) is refused", file: file, line: line)
    }

    func testEveryEntryPointMessageRoundTrips() {
        roundTrip(EntryPoint.OpenRequest(source: "/plugins/sonos.so", loadAs: "/state/plugin-cache/sonos.3.77.so"))
        let info = PluginDescriptorInfo(id: "org.example.x", name: "X ✓", version: "1.2.3", vendor: "", description: "d",
                                        abiMajor: 1, abiMinor: 2)
        roundTrip(EntryPoint.OpenReply(.success(info.onTheWire)))
        roundTrip(EntryPoint.CreateRequest(settingsJSON: "{\"log\":\"/tmp/x\"}", generation: 7, callTimeout: 2.5))
        roundTrip(EntryPoint.CreateReply(status: SB_ERR_INVALID, error: "settings: log must be a string"))
        roundTrip(EntryPoint.CreateReply(status: SB_OK, error: "", extensions: [SB_EXT_SPEAKER, SB_EXT_COMMANDS],
                                         commands: [.init(name: "volume", signature: "speaker:str level:i32[0..100]", description: "")],
                                         badCommand: ("bad", "parameter 1: expected name:type")))
        roundTrip(EntryPoint.SpeakersReply([SpeakerInfo(id: "a", name: "Kitchen", model: "Log", group: nil, address: "192.0.2.7"),
                                            SpeakerInfo(id: "b", name: "Hall", model: "", group: "Down", address: nil)]))
        var clip = SpeakerClip(url: "http://192.0.2.1:8099/media/x.wav", mime: "audio/wav", durationMs: 850, volume: -1)
        roundTrip(EntryPoint.PlayClipRequest(operationID: .max, speakerID: "a", clip: clip))
        clip.announcementID = "ann-1"
        clip.onlyWhenPlaying = true
        clip.group = ["a", "b"]
        roundTrip(EntryPoint.PlayClipRequest(operationID: 3, speakerID: "a", clip: clip))
        roundTrip(EntryPoint.SynthesizeRequest(operationID: 9, text: "<speak>hi</speak>", voice: nil, rate: 0, pitch: -1, ssml: true))
        roundTrip(EntryPoint.SynthesizeRequest(operationID: 10, text: "hi", voice: "en-us", rate: 180, pitch: 50, ssml: false))
        roundTrip(EntryPoint.StatusReply(status: SB_ERR_FAILED, text: "no such speaker"))
        roundTrip(EntryPoint.CancelRequest(operationID: 12))
        roundTrip(EntryPoint.CommandRequest(name: "mix", arguments: [.bool(true), .i32(-5), .i64(1 << 52), .u32(.max), .f64(0.25),
                                                                     .str("häßlich"), .str(nil)]))
        roundTrip(EntryPoint.CommandRequest(name: "count", arguments: []))
        roundTrip(EntryPoint.SaveStateReply(offered: true, status: SB_OK, version: 2, bytes: [0, 1, 255]))
        roundTrip(EntryPoint.SaveStateReply(offered: false, status: SB_OK, version: 0, bytes: []))
        roundTrip(EntryPoint.LoadStateRequest(version: 2, bytes: Array(repeating: 7, count: 4096)))
        roundTrip(EntryPoint.PingReply(residentKB: 12_345))
    }

    func testEveryRefusalCrossesAsItself() throws {
        let all: [PluginRejection] = [
            .notASharedObject(path: "/p/x.so", detail: "invalid ELF header"), .missingEntry(path: "/p/x.so"),
            .nullDescriptor(path: "/p/x.so"), .truncatedDescriptor(path: "/p/x.so", size: 12),
            .abiMajorMismatch(path: "/p/x.so", plugin: 2, host: 1), .abiMinorTooNew(path: "/p/x.so", plugin: 9, host: 2),
            .invalidID(path: "/p/x.so", id: "Bad Id"), .duplicateID(path: "/p/x.so", id: "a.b", loadedFrom: "/p/y.so"),
            .createFailed(id: "a.b", message: "no"), .unsafeFile(path: "/p/x.so", reason: "writable by others"),
            .stateHandoverFailed(id: "a.b", message: "v3"), .badCommand(id: "a.b", command: "c", message: "m"),
            .hung(id: "a.b", what: "create", seconds: 2.5), .badSettings(path: "/p/x.json", problem: "not JSON"),
        ]
        for rejection in all {
            let reply = try EntryPoint.OpenReply(decoding: EntryPoint.OpenReply(.failure(rejection.onTheWire)).encode())
            guard case .failure(let refusal) = reply.result else { return XCTFail("\(rejection) crossed as a success") }
            XCTAssertEqual(PluginRejection(refusal), rejection)
            XCTAssertEqual(PluginRejection(refusal).description, rejection.description)
        }
    }
}

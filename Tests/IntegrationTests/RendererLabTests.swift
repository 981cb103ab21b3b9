import Foundation
import LabKit
import XCTest

/// The speaker lab works on its own, without any driver: real gmediarender speakers in network
/// namespaces answer SSDP, take SOAP commands, send GENA events, fetch over HTTP and record what
/// they play in real time. Every packet stays inside the lab's namespaces.
final class RendererLabTests: XCTestCase {
    private func requireRendererLab() throws {
        if let reason = RendererLab.unavailableReason {
            print("SKIPPED renderer lab test: \(reason)")
            throw XCTSkip("renderer lab: \(reason)")
        }
    }

    /// M-SEARCH sent inside the lab finds both speakers at the description URLs they serve; a
    /// speaker that is killed or unplugged stops answering, and answers again when it is back.
    func testRendererLabDiscoveryFindsEverySpeakerAndLosesTheOnesThatDisappear() throws {
        try requireRendererLab()
        let lab = try RendererLab(renderers: ["Kitchen", "Office"])
        defer { lab.destroy() }
        let controller = lab.helpers[0]
        let (kitchen, office) = (lab.renderers[0], lab.renderers[1])

        let replies = try lab.lab.mSearch(from: controller, wait: 3, expecting: 2)
        print("M-SEARCH replies: \(replies)")
        for renderer in lab.renderers {
            let reply = replies.first { $0.usn?.hasPrefix("uuid:\(renderer.uuid)") == true }
            XCTAssertNotNil(reply, "\(renderer.name) answered M-SEARCH: \(replies)")
            XCTAssertEqual(reply?.location, renderer.descriptionURL)
            XCTAssertEqual(reply?.searchTarget, GMediaRenderer.deviceType)
            let description = try lab.lab.httpGet(from: controller, renderer.descriptionURL)
            XCTAssertEqual(description.status, 200)
            XCTAssertTrue(description.body.contains("<friendlyName>\(renderer.name)</friendlyName>"), description.body)
            XCTAssertTrue(description.body.contains(GMediaRenderer.avTransportControlPath), description.body)
        }

        // Power cut: no byebye, no answers.
        kitchen.kill9()
        // Cable pulled: the process lives on, the packets do not arrive.
        try lab.lab.linkDown(host: office.host)
        let none = try lab.lab.mSearch(from: controller, wait: 1.5)
        XCTAssertTrue(none.isEmpty, "nobody should answer: \(none)")

        try kitchen.start()
        try lab.lab.linkUp(host: office.host)
        let back = try lab.lab.mSearch(from: controller, wait: 3, expecting: 2)
        XCTAssertEqual(Set(back.compactMap { $0.usn?.split(separator: ":").dropFirst().first.map(String.init) }),
                       Set(lab.renderers.map(\.uuid)), "both back with the same identity: \(back)")
        XCTAssertEqual(back.first { $0.usn?.contains(kitchen.uuid) == true }?.location, kitchen.descriptionURL,
                       "the restarted speaker is found where it says it is (port \(kitchen.port))")
    }

    /// A radio stream plays, an announcement interrupts it (SetAVTransportURI+Play as a driver
    /// would), the speaker records the words in real time and says STOPPED at the clip's end; the
    /// stream is then fetched and played again. Checked with sox on the recording.
    func testRendererLabRecordsAnAnnouncementBetweenTwoStretchesOfStream() throws {
        try requireRendererLab()
        let lab = try RendererLab(renderers: ["Kitchen"])
        defer { lab.destroy() }
        let controller = lab.helpers[0]
        let kitchen = lab.renderers[0]
        let server = try LabStreamServer(host: controller)
        let stream = try server.addTone("radio.wav", seconds: 120)
        let speech = try server.addSpeech("announcement.wav", text: "The laundry is done. Please empty the machine.")
        try server.start()
        defer { server.stop() }
        let events = try GENAListener(host: controller)
        try events.start()
        defer { events.stop() }
        let sid = try events.subscribe(kitchen.baseURL + GMediaRenderer.avTransportEventPath)

        // The stream plays in real time.
        try lab.lab.play(stream, on: kitchen, from: controller)
        XCTAssertTrue(kitchen.recording.waitForAudio(seconds: 2, timeout: 5), "stream audio arrives")
        XCTAssertEqual(try lab.lab.transportState(of: kitchen, from: controller), "PLAYING")

        // The announcement.
        let announcementStart = kitchen.recording.mark()
        let started = Date()
        try lab.lab.play(speech.url, on: kitchen, from: controller)
        let stopped = events.waitForEvent(sid: sid, after: started, timeout: speech.seconds + 5) { $0.variables["TransportState"] == "STOPPED" }
        XCTAssertNotNil(stopped, "STOPPED after the announcement: \(events.events())")
        let announcementEnd = kitchen.recording.mark()
        let took = (stopped?.time ?? Date()).timeIntervalSince(started)
        print(String(format: "clip %.2f s; STOPPED %.2f s after SetAVTransportURI; events: %@", speech.seconds, took,
                     events.events().map(\.description).joined(separator: " | ")))
        XCTAssertEqual(took, speech.seconds, accuracy: 0.6, "real time: STOPPED comes at the clip's end")
        XCTAssertEqual(stopped?.variables["AVTransportURI"], "", "gmediarender forgets the URI at the end of a track")

        // The stream again, as a restore would do it.
        let resumedAt = Date()
        try lab.lab.play(stream, on: kitchen, from: controller)
        XCTAssertTrue(kitchen.recording.waitForAudio(seconds: 1.5, after: announcementEnd, timeout: 5), "stream audio again")
        XCTAssertFalse(server.gets(of: "radio.wav").filter { $0.time >= resumedAt }.isEmpty,
                       "the stream is fetched again: \(server.requests())")

        let before = try kitchen.recording.stats(to: announcementStart)
        let words = try kitchen.recording.stats(from: announcementStart, to: announcementEnd)
        let after = try kitchen.recording.stats(from: announcementEnd)
        let served = try AudioStats.of(file: server.directory.file("announcement.wav"))
        let wav = lab.directory.file("announcement-as-played.wav")
        try kitchen.recording.exportWAV(to: wav, from: announcementStart, to: announcementEnd)
        print("recording \(kitchen.recording.path):\n  stream before: \(before)\n  announcement:  \(words)\n"
            + "  stream after:  \(after)\n  the clip as served:  \(served)")

        XCTAssertEqual(before.roughFrequency, 440, accuracy: 40, "the tone played before")
        XCTAssertEqual(after.roughFrequency, 440, accuracy: 40, "the tone plays after")
        XCTAssertEqual(words.duration, speech.seconds, accuracy: 0.3, "the announcement took its real length")
        XCTAssertEqual(words.audibleSeconds, served.audibleSeconds, accuracy: 0.2, "all the words arrived: \(words) vs \(served)")
        XCTAssertGreaterThan(words.rmsAmplitude, 0.03, "not silence")
        XCTAssertGreaterThan(words.roughFrequency, 600, "speech, not the tone")
        let exported = try AudioStats.of(file: wav)
        XCTAssertEqual(exported.duration, words.duration, accuracy: 0.01)
        XCTAssertEqual(exported.audibleSeconds, words.audibleSeconds, accuracy: 0.05)
    }
}

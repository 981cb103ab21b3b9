import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
import XCTest
@testable import SpeakerbridgeHost

/// The media server over real HTTP on 127.0.0.1 (never another address: no traffic on the machine's
/// real interfaces). Requests are written byte for byte on a plain socket so that path tricks reach
/// the server exactly as sent (URLSession/curl would normalise `..` away first).
final class MediaServerTests: XCTestCase {
    private static let logger: Logger = {
        var logger = Logger(label: "media-test")
        logger.logLevel = .warning
        return logger
    }()

    private let clipBytes: [UInt8] = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 251) }

    // MARK: HTTP

    func testGetServesExactBytesAndHeaders() async throws {
        let store = MediaStore()
        let clip = try store.put(clipBytes, mime: "audio/wav", ttl: 60)
        try await withServer(store: store) { server, port in
            let response = try await http(port: port, "GET \(clip.path) HTTP/1.1")
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.header("Content-Length"), "5000")
            XCTAssertEqual(response.body, clipBytes)
            XCTAssertEqual(response.header("Content-Type"), "audio/wav")
            XCTAssertEqual(response.header("Accept-Ranges"), "bytes")
            XCTAssertEqual(response.header("Cache-Control"), "no-store")
            XCTAssertNil(response.header("Transfer-Encoding"))
            XCTAssertEqual(try server.url(for: clip, speakerAddress: "127.0.0.1"),
                           "http://127.0.0.1:\(port)/media/\(clip.id).wav")
        }
    }

    func testPlainURLSessionClientFetchesTheClip() async throws {
        let store = MediaStore()
        let clip = try store.put(Data(clipBytes), mime: "audio/mpeg", ttl: 60)
        try await withServer(store: store) { server, _ in
            let url = URL(string: try server.url(for: clip, speakerAddress: "127.0.0.1"))!
            XCTAssertTrue(url.absoluteString.hasSuffix(".mp3"))
            let (data, response) = try await URLSession.shared.data(from: url)
            let http = try XCTUnwrap(response as? HTTPURLResponse)
            XCTAssertEqual(http.statusCode, 200)
            XCTAssertEqual(http.value(forHTTPHeaderField: "Content-Type"), "audio/mpeg")
            XCTAssertEqual([UInt8](data), clipBytes)
        }
    }

    func testHeadHasTheHeadersAndNoBody() async throws {
        let store = MediaStore()
        let clip = try store.put(clipBytes, mime: "audio/wav", ttl: 60)
        try await withServer(store: store) { _, port in
            let head = try await http(port: port, "HEAD \(clip.path) HTTP/1.1")
            XCTAssertEqual(head.status, 200)
            XCTAssertEqual(head.header("Content-Length"), "5000")
            XCTAssertEqual(head.header("Content-Type"), "audio/wav")
            XCTAssertEqual(head.header("Accept-Ranges"), "bytes")
            XCTAssertEqual(head.body, [], "HEAD must not carry a body")
            // Range is defined for GET only (RFC 9110 §14.2): a HEAD with Range describes the whole clip.
            let ranged = try await http(port: port, "HEAD \(clip.path) HTTP/1.1", headers: ["Range: bytes=0-99"])
            XCTAssertEqual(ranged.status, 200)
            XCTAssertEqual(ranged.header("Content-Length"), "5000")
            XCTAssertEqual(ranged.body, [])
        }
    }

    func testRanges() async throws {
        let store = MediaStore()
        let clip = try store.put(clipBytes, mime: "audio/wav", ttl: 60)
        try await withServer(store: store) { _, port in
            func get(_ range: String, extra: [String] = []) async throws -> RawResponse {
                try await http(port: port, "GET \(clip.path) HTTP/1.1", headers: ["Range: \(range)"] + extra)
            }
            func assertPartial(_ range: String, _ expected: ClosedRange<Int>, extra: [String] = [],
                               line: UInt = #line) async throws {
                let r = try await get(range, extra: extra)
                XCTAssertEqual(r.status, 206, range, line: line)
                XCTAssertEqual(r.header("Content-Range"), "bytes \(expected.lowerBound)-\(expected.upperBound)/5000", range, line: line)
                XCTAssertEqual(r.header("Content-Length"), String(expected.count), range, line: line)
                XCTAssertEqual(r.body, Array(clipBytes[expected]), range, line: line)
                XCTAssertEqual(r.header("Content-Type"), "audio/wav", range, line: line)
            }
            func assertWhole(_ range: String, extra: [String] = [], line: UInt = #line) async throws {
                let r = try await get(range, extra: extra)
                XCTAssertEqual(r.status, 200, range, line: line)
                XCTAssertNil(r.header("Content-Range"), range, line: line)
                XCTAssertEqual(r.header("Content-Length"), "5000", range, line: line)
                XCTAssertEqual(r.body, clipBytes, range, line: line)
            }
            func assertUnsatisfiable(_ range: String, line: UInt = #line) async throws {
                let r = try await get(range)
                XCTAssertEqual(r.status, 416, range, line: line)
                XCTAssertEqual(r.header("Content-Range"), "bytes */5000", range, line: line)
                XCTAssertEqual(r.body, [], range, line: line)
            }

            try await assertPartial("bytes=0-99", 0...99)                 // the first 100 bytes
            try await assertPartial("bytes=-100", 4900...4999)            // suffix
            try await assertPartial("bytes=4900-", 4900...4999)           // open-ended
            try await assertPartial("bytes=0-", 0...4999)                 // GStreamer's opening request
            try await assertPartial("bytes=4990-9999", 4990...4999)       // last byte clamped
            try await assertPartial("bytes=-99999", 0...4999)             // suffix longer than the clip
            try await assertPartial("bytes=4999-4999", 4999...4999)
            try await assertPartial("BYTES=10-19", 10...19)               // the unit is case-insensitive
            try await assertPartial("bytes=10-19,", 10...19)              // empty list elements are allowed

            try await assertUnsatisfiable("bytes=5000-")                  // beyond the end
            try await assertUnsatisfiable("bytes=5000-6000")
            try await assertUnsatisfiable("bytes=-0")
            try await assertUnsatisfiable("bytes=99999999999999999999999-")

            // Malformed or unsupported: ignored, the whole clip (200). Multiple ranges too (no multipart).
            try await assertWhole("bytes=abc")
            try await assertWhole("bytes=5-2")
            try await assertWhole("bytes=")
            try await assertWhole("bytes=1-2-3")
            try await assertWhole("bytes=+1-2")
            try await assertWhole("items=0-99")
            try await assertWhole("bytes=0-1,3-4")

            // If-Range: honoured only when it names this clip's ETag.
            let etag = "\"\(clip.id)\""
            do { let r = try await get("bytes=0-0"); XCTAssertEqual(r.header("ETag"), etag) }
            try await assertPartial("bytes=0-9", 0...9, extra: ["If-Range: \(etag)"])
            try await assertWhole("bytes=0-9", extra: ["If-Range: \"something-else\""])
            try await assertWhole("bytes=0-9", extra: ["If-Range: Wed, 21 Oct 2015 07:28:00 GMT"])
        }
    }

    func testUnknownIDsPathTricksAndOtherMethods() async throws {
        let store = MediaStore()
        let clip = try store.put(clipBytes, mime: "audio/wav", ttl: 60)
        try await withServer(store: store) { _, port in
            let notFound = [
                "/media/\(MediaStore.newID()).wav",                       // well-formed, unknown
                "/media/../etc/passwd",
                "/media/%2e%2e%2fetc%2fpasswd",
                "/media/..%2F..%2Fetc%2Fpasswd",
                "/media/\(clip.id).mp3",                                  // extension does not match the mime
                "/media/\(clip.id).WAV",
                "/media/\(clip.id)",
                "/media/\(clip.id).wav/",
                "/media/\(clip.id).wav/..",
                "/media/\(clip.id)%2ewav",
                "/media//\(clip.id).wav",
                "/MEDIA/\(clip.id).wav",
                "/media/\(clip.id.prefix(15)).wav",                        // id too short
                "/media/",
                "/media",
                "/",
                "/etc/passwd",
            ]
            for target in notFound {
                let r = try await http(port: port, "GET \(target) HTTP/1.1")
                XCTAssertEqual(r.status, 404, target)
                XCTAssertEqual(r.body, [], target)
            }
            // The query is ignored, the clip is served.
            do { let r = try await http(port: port, "GET \(clip.path)?x=1 HTTP/1.1"); XCTAssertEqual(r.status, 200) }
            for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
                let r = try await http(port: port, "\(method) \(clip.path) HTTP/1.1")
                XCTAssertEqual(r.status, 405, method)
                XCTAssertEqual(r.header("Allow"), "GET, HEAD", method)
                do { let r = try await http(port: port, "\(method) / HTTP/1.1"); XCTAssertEqual(r.status, 404, method) }
            }
        }
    }

    func testExpiredClipIsGone() async throws {
        let clock = TestClock()
        let store = MediaStore(now: clock.now)
        let short = try store.put(clipBytes, mime: "audio/wav", ttl: 5)
        let long = try store.put(clipBytes, mime: "audio/wav", ttl: 600)
        try await withServer(store: store) { _, port in
            do { let r = try await http(port: port, "GET \(short.path) HTTP/1.1"); XCTAssertEqual(r.status, 200) }
            clock.advance(by: .seconds(6))
            do { let r = try await http(port: port, "GET \(short.path) HTTP/1.1"); XCTAssertEqual(r.status, 404) }
            do { let r = try await http(port: port, "HEAD \(short.path) HTTP/1.1"); XCTAssertEqual(r.status, 404) }
            do { let r = try await http(port: port, "GET \(long.path) HTTP/1.1"); XCTAssertEqual(r.status, 200) }
        }
        XCTAssertEqual(store.count, 1)
    }

    func testGracefulShutdownStopsListening() async throws {
        let server = MediaServer(settings: .init(bindHost: "127.0.0.1", port: 0), store: MediaStore(), logger: Self.logger)
        let group = ServiceGroup(configuration: .init(services: [server], gracefulShutdownSignals: [], logger: Self.logger))
        let task = Task { try await group.run() }
        let port = try await server.waitUntilRunning()
        XCTAssertEqual(server.boundPort, port)
        do { let r = try await http(port: port, "GET / HTTP/1.1"); XCTAssertEqual(r.status, 404) }
        await group.triggerGracefulShutdown()
        try await task.value
        XCTAssertNil(server.boundPort)
        do {
            _ = try await http(port: port, "GET / HTTP/1.1")
            XCTFail("still listening after shutdown")
        } catch {}
        do {
            _ = try await server.waitUntilRunning()
            XCTFail("a stopped server is not running")
        } catch {}
    }

    func testPortInUseFailsTheService() async throws {
        try await withServer(store: MediaStore()) { _, port in
            let second = MediaServer(settings: .init(bindHost: "127.0.0.1", port: port), store: MediaStore(), logger: Self.logger)
            async let waited: Int = second.waitUntilRunning()
            do {
                try await second.run()
                XCTFail("bound a port that is in use")
            } catch {
                XCTAssertTrue("\(error)".contains("127.0.0.1:\(port)"), "\(error)")
            }
            do {
                _ = try await waited
                XCTFail("waitUntilRunning returned for a server that never ran")
            } catch {}
        }
    }

    // MARK: URLs

    func testSourceAddressAndBaseURL() async throws {
        // Loopback only: the probe sends nothing, but tests never aim at a real interface anyway.
        XCTAssertEqual(MediaServer.sourceAddress(toReach: "127.0.0.1"), "127.0.0.1")
        XCTAssertNil(MediaServer.sourceAddress(toReach: "not-an-address"))
        XCTAssertNil(MediaServer.sourceAddress(toReach: ""))

        let store = MediaStore()
        let clip = try store.put(clipBytes, mime: "audio/wav", ttl: 60)
        let idle = MediaServer(settings: .init(bindHost: "0.0.0.0", port: 0), store: store, logger: Self.logger)
        XCTAssertThrowsError(try idle.baseURL(forSpeakerAddress: "127.0.0.1"), "port 0 is unknown before start")

        let wildcard = MediaServer(settings: .init(bindHost: "0.0.0.0", port: 8123), store: store, logger: Self.logger)
        XCTAssertEqual(try wildcard.baseURL(forSpeakerAddress: "127.0.0.1"), "http://127.0.0.1:8123")

        let advertised = MediaServer(settings: .init(port: 8123, advertisedHost: "bridge.lan"), store: store, logger: Self.logger)
        XCTAssertEqual(try advertised.url(for: clip, speakerAddress: "127.0.0.1"), "http://bridge.lan:8123\(clip.path)")

        let v6 = MediaServer(settings: .init(port: 8123, advertisedHost: "fd00::5"), store: store, logger: Self.logger)
        XCTAssertEqual(try v6.baseURL(forSpeakerAddress: nil), "http://[fd00::5]:8123")

        let specific = MediaServer(settings: .init(bindHost: "127.0.0.1", port: 8123), store: store, logger: Self.logger)
        XCTAssertEqual(try specific.baseURL(forSpeakerAddress: nil), "http://127.0.0.1:8123")
    }

    // MARK: Store

    func testIDsAreUnguessable() throws {
        let store = MediaStore()
        let a = try store.put([1, 2, 3], mime: "audio/wav", ttl: 60)
        let b = try store.put([1, 2, 3], mime: "audio/wav", ttl: 60)
        XCTAssertNotEqual(a.id, b.id)
        for id in [a.id, b.id] {
            XCTAssertNotNil(MediaResponder.parse(target: "/media/\(id).wav"), id)
            let base64 = id.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/") + "=="
            XCTAssertEqual(Data(base64Encoded: base64)?.count, 16, "128 bits: \(id)")
        }
        XCTAssertEqual(Set((0..<10_000).map { _ in MediaStore.newID() }).count, 10_000)
    }

    func testStoreEvictsOldestFirstAndRejectsWhatCannotFit() throws {
        let store = MediaStore(maxTotalBytes: 1000)
        let a = try store.put([UInt8](repeating: 1, count: 400), mime: "audio/wav", ttl: 60)
        let b = try store.put([UInt8](repeating: 2, count: 400), mime: "audio/mpeg", ttl: 60)
        let c = try store.put([UInt8](repeating: 3, count: 400), mime: "audio/wav", ttl: 60)
        XCTAssertNil(store.clip(id: a.id), "the oldest made room")
        XCTAssertEqual(store.clip(id: b.id), b)
        XCTAssertEqual(store.clip(id: c.id).map { Array($0.body.readableBytesView) }, [UInt8](repeating: 3, count: 400))
        XCTAssertEqual(store.totalBytes, 800)
        XCTAssertThrowsError(try store.put([UInt8](repeating: 0, count: 1001), mime: "audio/wav", ttl: 60)) {
            XCTAssertEqual($0 as? MediaStoreError, .tooLarge(size: 1001, limit: 1000))
        }
        XCTAssertThrowsError(try store.put([0], mime: "text/html", ttl: 60))
        XCTAssertThrowsError(try store.put([0], mime: "audio/wav", ttl: 0))
        XCTAssertThrowsError(try store.put([0], mime: "audio/wav", ttl: .nan))
        // Many small clips through a small store: eviction keeps the total bounded.
        for i in 0..<500 { try store.put([UInt8](repeating: UInt8(i & 0xff), count: 90), mime: "audio/wav", ttl: 60) }
        XCTAssertLessThanOrEqual(store.totalBytes, 1000)
        XCTAssertEqual(store.count, 11)
    }

    func testStoreExpiryAndSweep() throws {
        let clock = TestClock()
        let store = MediaStore(now: clock.now)
        let clip = try store.put([1], mime: "audio/wav", ttl: 10)
        clock.advance(by: .seconds(9))
        XCTAssertNotNil(store.clip(id: clip.id))
        clock.advance(by: .seconds(1))
        XCTAssertEqual(store.count, 1)
        store.sweep()
        XCTAssertEqual(store.count, 0)
        XCTAssertEqual(store.totalBytes, 0)
        XCTAssertNil(store.clip(id: clip.id))
    }

    func testMimeExtensions() {
        XCTAssertEqual(MediaStore.fileExtension(forMime: "audio/wav"), "wav")
        XCTAssertEqual(MediaStore.fileExtension(forMime: "audio/x-wav"), "wav")
        XCTAssertEqual(MediaStore.fileExtension(forMime: "Audio/WAV; codecs=1"), "wav")
        XCTAssertEqual(MediaStore.fileExtension(forMime: "audio/mpeg"), "mp3")
        XCTAssertNil(MediaStore.fileExtension(forMime: "application/octet-stream"))
    }

    // MARK: Pinned clips

    func testPinnedClipsStayAndAFullStoreRefusesWithTheReason() throws {
        let clock = TestClock()
        let store = MediaStore(maxTotalBytes: 1000, now: clock.now)
        let a = try store.put([UInt8](repeating: 1, count: 400), mime: "audio/wav", ttl: 5)
        let b = try store.put([UInt8](repeating: 2, count: 400), mime: "audio/wav", ttl: 5)
        XCTAssertTrue(store.pin(id: a.id))
        XCTAssertTrue(store.pin(id: b.id))
        XCTAssertTrue(store.pin(id: b.id), "a second announcement with the same clip")
        // Past their time to live, pinned clips are still served.
        clock.advance(by: .seconds(10))
        store.sweep()
        XCTAssertNotNil(store.clip(id: a.id))
        XCTAssertNotNil(store.clip(id: b.id))
        // A clip that would need a pinned one evicted is refused, with the reason; nothing is evicted.
        XCTAssertThrowsError(try store.put([UInt8](repeating: 3, count: 400), mime: "audio/wav", ttl: 60)) { error in
            XCTAssertEqual(error as? MediaStoreError, .full(size: 400, pinnedBytes: 800, pinnedClips: 2, limit: 1000))
            XCTAssertTrue("\(error)".hasPrefix("the media store is full:"), "\(error)")
            XCTAssertTrue("\(error)".contains("media.max_bytes"), "\(error)")
        }
        XCTAssertEqual(store.refusals.count, 1)
        XCTAssertEqual(store.count, 2)
        // A small one still fits beside them.
        let small = try store.put([UInt8](repeating: 4, count: 150), mime: "audio/wav", ttl: 60)
        // The announcement of `a` ends: expired, it goes at once, and there is room again.
        store.unpin(id: a.id)
        XCTAssertNil(store.clip(id: a.id))
        let c = try store.put([UInt8](repeating: 3, count: 400), mime: "audio/wav", ttl: 60)
        // One of b's two announcements ends: still pinned for the other.
        store.unpin(id: b.id)
        XCTAssertNotNil(store.clip(id: b.id))
        XCTAssertEqual(store.heldBytes, 400)
        store.unpin(id: b.id)
        XCTAssertNil(store.clip(id: b.id), "expired and no longer pinned")
        XCTAssertNotNil(store.clip(id: c.id))
        XCTAssertNotNil(store.clip(id: small.id))
        XCTAssertFalse(store.pin(id: a.id), "a clip that is gone cannot be pinned")
    }

    func testUnpinnedClipsStillGoOldestFirstAroundPinnedOnes() throws {
        let store = MediaStore(maxTotalBytes: 1000)
        let old = try store.put([UInt8](repeating: 1, count: 300), mime: "audio/wav", ttl: 60)
        let pinned = try store.put([UInt8](repeating: 2, count: 300), mime: "audio/wav", ttl: 60)
        let newer = try store.put([UInt8](repeating: 3, count: 300), mime: "audio/wav", ttl: 60)
        store.pin(id: pinned.id)
        try store.put([UInt8](repeating: 4, count: 300), mime: "audio/wav", ttl: 60)
        XCTAssertNil(store.clip(id: old.id), "the oldest unpinned clip made room")
        XCTAssertNotNil(store.clip(id: pinned.id))
        try store.put([UInt8](repeating: 5, count: 300), mime: "audio/wav", ttl: 60)
        XCTAssertNil(store.clip(id: newer.id), "then the next oldest, skipping the pinned one")
        XCTAssertNotNil(store.clip(id: pinned.id))
        XCTAssertLessThanOrEqual(store.totalBytes, 1000)
    }

    func testALeaseHoldsAPutClipUntilItIsPinned() throws {
        let clock = TestClock()
        let store = MediaStore(maxTotalBytes: 1000, now: clock.now)
        // The TTS plugin's put: held for the lease, so a burst right after cannot evict it.
        let leased = try store.put([UInt8](repeating: 1, count: 400), mime: "audio/wav", ttl: 60, lease: 30)
        try store.put([UInt8](repeating: 2, count: 400), mime: "audio/wav", ttl: 60)
        try store.put([UInt8](repeating: 3, count: 400), mime: "audio/wav", ttl: 60)
        XCTAssertNotNil(store.clip(id: leased.id))
        XCTAssertTrue(store.pin(id: leased.id), "its announcement pins it")
        store.unpin(id: leased.id)
        // Unpinned, the lease is over too: an ordinary clip, the oldest.
        try store.put([UInt8](repeating: 4, count: 400), mime: "audio/wav", ttl: 60)
        XCTAssertNil(store.clip(id: leased.id))
        // A lease nobody turns into a pin runs out.
        let orphan = try store.put([UInt8](repeating: 5, count: 400), mime: "audio/wav", ttl: 60, lease: 30)
        clock.advance(by: .seconds(31))
        try store.put([UInt8](repeating: 6, count: 400), mime: "audio/wav", ttl: 60)
        try store.put([UInt8](repeating: 7, count: 400), mime: "audio/wav", ttl: 60)
        XCTAssertNil(store.clip(id: orphan.id))
    }

    func testPublishingPinsOnlyItsOwnClipsAndReportsRefusals() async throws {
        let store = MediaStore(maxTotalBytes: 1 << 20)
        try await withServer(store: store) { server, port in
            let media = MediaPublishing(server: server, routes: PluginRoutes())
            let url = try XCTUnwrap(media.put([UInt8](repeating: 1, count: 700_000), mime: "audio/wav", ttl: 60))
            guard case .pinned(let clip) = media.pin(clipAt: url) else { return XCTFail("its own clip is pinned") }
            XCTAssertEqual(media.pin(clipAt: "http://192.0.2.9:8080/media/\(MediaStore.newID()).wav"), .notOurs)
            XCTAssertEqual(media.pin(clipAt: "http://127.0.0.1:\(port)/media/\(MediaStore.newID()).wav"), .notOurs,
                           "a URL of this server's shape that it never handed out")
            // Handed out, then gone: an expired clip leaves at its last unpin.
            let brief = try XCTUnwrap(media.put([UInt8](repeating: 3, count: 100), mime: "audio/wav", ttl: 0.001))
            guard case .pinned(let briefClip) = media.pin(clipAt: brief) else { return XCTFail("pinned") }
            try await Task.sleep(for: .milliseconds(20))
            media.unpin(briefClip)
            XCTAssertEqual(media.pin(clipAt: brief), .gone)
            let before = media.refusalCount
            XCTAssertNil(media.put([UInt8](repeating: 2, count: 700_000), mime: "audio/wav", ttl: 60))
            let reason = try XCTUnwrap(media.refusal(since: before))
            XCTAssertTrue(reason.hasPrefix("the media store is full"), reason)
            XCTAssertNil(media.refusal(since: media.refusalCount))
            media.unpin(clip)
            XCTAssertNotNil(media.put([UInt8](repeating: 2, count: 700_000), mime: "audio/wav", ttl: 60))
        }
    }

    // MARK: Limits

    func testResponsesAreSlicesOfTheStoredBytesNotCopies() async throws {
        let store = MediaStore()
        let megabyte = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let clip = try store.put(megabyte, mime: "audio/wav", ttl: 60)
        let storage = clip.body.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        for (range, expected) in [(nil as String?, 0..<(1 << 20)), ("bytes=1000-299999", 1000..<300_000)] {
            var headers = HTTPFields()
            if let range { headers[.range] = range }
            let response = MediaResponder.answer(method: .get, target: clip.path, headers: headers, store: store)
            let collector = CollectingWriter()
            try await response.body.write(collector)
            let parts = collector.parts
            XCTAssertEqual(parts.flatMap { Array($0.readableBytesView) }, Array(megabyte[expected]))
            XCTAssertGreaterThan(parts.count, 1, "written in slices")
            var offset = expected.lowerBound
            for part in parts {
                XCTAssertLessThanOrEqual(part.readableBytes, MediaResponder.sliceSize)
                // Each slice points into the clip's one storage: no bytes were copied for this request.
                let address = part.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
                XCTAssertEqual(address, storage + UInt(offset))
                offset += part.readableBytes
            }
        }
    }

    func testHeaderTimeoutClosesASlowlorisAndOthersAreServed() async throws {
        let store = MediaStore()
        let clip = try store.put(clipBytes, mime: "audio/wav", ttl: 60)
        let limits = MediaConnectionLimits.Settings(maxConnections: 16, headerTimeout: 1, idleTimeout: 30)
        try await withServer(store: store, limits: limits) { server, port in
            // A header byte every 200 ms: progress enough for an idle timeout, not for the header one.
            let slow = try RawConnection(port: port)
            let start = ContinuousClock.now
            let head = Array("GET \(clip.path) HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8)
            var closed = false
            for byte in head + Array(repeating: UInt8(ascii: "a"), count: 100) {
                if !slow.send([byte]) || slow.isClosed(wait: 0.2) { closed = true; break }
            }
            let elapsed = ContinuousClock.now - start
            XCTAssertTrue(closed, "the slowloris was cut off")
            XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(900))
            XCTAssertLessThan(elapsed, .seconds(4), "closed after media.header_timeout, not later")
            XCTAssertEqual(server.limits.counts.headerTimeouts, 1)
            // A connection that says nothing at all gets no longer.
            let silent = try RawConnection(port: port)
            XCTAssertTrue(silent.isClosed(wait: 3))
            XCTAssertEqual(server.limits.counts.headerTimeouts, 2)
            let r = try await http(port: port, "GET \(clip.path) HTTP/1.1")
            XCTAssertEqual(r.body, clipBytes, "a prompt client is served")
        }
    }

    func testIdleTimeoutClosesKeptAliveAndNonReadingConnections() async throws {
        let store = MediaStore()
        let clip = try store.put(clipBytes, mime: "audio/wav", ttl: 60)
        let big = try store.put([UInt8](repeating: 9, count: 8 << 20), mime: "audio/wav", ttl: 60)
        let limits = MediaConnectionLimits.Settings(maxConnections: 16, headerTimeout: 5, idleTimeout: 1)
        try await withServer(store: store, limits: limits) { server, port in
            // Kept alive after a response, then silent.
            let kept = try RawConnection(port: port)
            XCTAssertTrue(kept.send(Array("GET \(clip.path) HTTP/1.1\r\nHost: x\r\n\r\n".utf8)))
            let response = kept.receive(atLeast: clipBytes.count, timeout: 5)
            XCTAssertGreaterThan(response.count, clipBytes.count, "served")
            let start = ContinuousClock.now
            XCTAssertTrue(kept.isClosed(wait: 4))
            XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(800))
            // Asks for 8 MiB and never reads: the socket buffers fill, nothing moves, closed.
            let stalled = try RawConnection(port: port, receiveBuffer: 4096)
            XCTAssertTrue(stalled.send(Array("GET \(big.path) HTTP/1.1\r\nHost: x\r\n\r\n".utf8)))
            try await Task.sleep(for: .seconds(3))
            XCTAssertTrue(stalled.isClosed(wait: 0, drain: true), "closed while it did not read")
            XCTAssertEqual(server.limits.counts.idleTimeouts, 2)
            let r = try await http(port: port, "GET \(clip.path) HTTP/1.1")
            XCTAssertEqual(r.body, clipBytes)
        }
    }

    func testConnectionsOverTheCapAreClosedAtOnceAndCounted() async throws {
        let store = MediaStore()
        let clip = try store.put(clipBytes, mime: "audio/wav", ttl: 60)
        let limits = MediaConnectionLimits.Settings(maxConnections: 4, headerTimeout: 30, idleTimeout: 30)
        try await withServer(store: store, limits: limits) { server, port in
            let held = try (0..<4).map { _ in try RawConnection(port: port) }
            XCTAssertTrue(waitUntil(timeout: 5) { server.limits.counts.open == 4 })
            let over = try RawConnection(port: port)
            XCTAssertTrue(over.isClosed(wait: 2), "the fifth is closed at once")
            XCTAssertEqual(server.limits.counts.refused, 1)
            for connection in held { XCTAssertFalse(connection.isClosed(wait: 0)) }
            held[0].close()
            XCTAssertTrue(waitUntil(timeout: 5) { server.limits.counts.open == 3 })
            let r = try await http(port: port, "GET \(clip.path) HTTP/1.1")
            XCTAssertEqual(r.body, clipBytes, "a free slot serves again")
            withExtendedLifetime(held) {}
        }
    }

    func testOneAddressOverItsShareIsRefusedWhileAnotherGetsIn() async throws {
        let store = MediaStore()
        let clip = try store.put(clipBytes, mime: "audio/wav", ttl: 60)
        let limits = MediaConnectionLimits.Settings(maxConnections: 16, maxConnectionsPerHost: 3, headerTimeout: 30, idleTimeout: 30)
        try await withServer(store: store, limits: limits) { server, port in
            // One host (127.0.0.1) holds its share of 3 connections and says nothing.
            let held = try (0..<3).map { _ in try RawConnection(port: port, source: "127.0.0.1") }
            XCTAssertTrue(waitUntil(timeout: 5) { server.limits.counts.open == 3 })
            let over = try RawConnection(port: port, source: "127.0.0.1")
            XCTAssertTrue(over.isClosed(wait: 2), "a fourth from the same address is closed at once")
            XCTAssertEqual(server.limits.counts.refusedPerHost, 1)
            XCTAssertEqual(server.limits.counts.refused, 0, "the overall cap (16) was not reached")
            // Another host (127.0.0.2, connecting to the same 127.0.0.1 listener) still gets its clip.
            let other = try RawConnection(port: port, source: "127.0.0.2")
            XCTAssertTrue(other.send(Array("GET \(clip.path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)))
            let response = other.receive(atLeast: clipBytes.count + 100, timeout: 5)
            XCTAssertTrue(response.starts(with: Array("HTTP/1.1 200".utf8)), String(decoding: response.prefix(40), as: UTF8.self))
            XCTAssertEqual(Array(response.suffix(clipBytes.count)), clipBytes, "the other address is served whole")
            other.close()
            for connection in held { XCTAssertFalse(connection.isClosed(wait: 0), "the held ones are left alone") }
            XCTAssertTrue(waitUntil(timeout: 5) { server.limits.counts.open == 3 }, "\(server.limits.counts)")
            // The first host's share frees as its connections close.
            held[0].close()
            XCTAssertTrue(waitUntil(timeout: 5) { server.limits.counts.open == 2 }, "\(server.limits.counts)")
            let r = try await http(port: port, "GET \(clip.path) HTTP/1.1")
            XCTAssertEqual(r.body, clipBytes, "a freed slot of 127.0.0.1 serves again")
            XCTAssertEqual(server.limits.counts.refusedPerHost, 1)
            withExtendedLifetime(held) {}
        }
    }

    func testSeveralListenAddressesShareOnePort() async throws {
        // 127.0.0.2 is loopback too (127/8 is on lo): two addresses without touching a real interface.
        let store = MediaStore()
        let clip = try store.put(clipBytes, mime: "audio/wav", ttl: 60)
        let server = MediaServer(settings: .init(bindHosts: ["127.0.0.2", "127.0.0.1"]), store: store, logger: Self.logger)
        try await run(server) { port in
            for host in ["127.0.0.1", "127.0.0.2"] {
                let r = try await http(port: port, "GET \(clip.path) HTTP/1.1", host: host)
                XCTAssertEqual(r.body, clipBytes, host)
            }
            XCTAssertFalse(try RawConnection(port: port, host: "127.0.0.3").connected, "no other address answers")
            XCTAssertEqual(try server.baseURL(forSpeakerAddress: "127.0.0.1"), "http://127.0.0.1:\(port)")
            XCTAssertEqual(try server.baseURL(forSpeakerAddress: nil), "http://127.0.0.2:\(port)", "the interface's address by default")
        }
    }

    func testListenAddressesFromTheSettings() {
        XCTAssertEqual(MediaListenAddresses.resolve(bind: "0.0.0.0", interface: "", logger: Self.logger), ["0.0.0.0"])
        XCTAssertEqual(MediaListenAddresses.resolve(bind: "127.0.0.1", interface: "eth9", logger: Self.logger), ["127.0.0.1"])
        XCTAssertEqual(MediaListenAddresses.resolve(bind: "", interface: "lo", logger: Self.logger), ["127.0.0.1"])
        XCTAssertEqual(MediaListenAddresses.resolve(bind: "", interface: "no-such-interface0", logger: Self.logger), ["127.0.0.1"],
                       "no interface: loopback only (and a warning)")
        let byDefault = MediaListenAddresses.resolve(bind: "", interface: "", logger: Self.logger)
        XCTAssertEqual(byDefault.last, "127.0.0.1")
        XCTAssertFalse(byDefault.contains("0.0.0.0"))
    }

    // MARK: Range parsing

    func testByteRangeResolution() {
        XCTAssertEqual(ByteRange.resolve(nil, length: 10), .whole)
        XCTAssertEqual(ByteRange.resolve("bytes=0-4", length: 10), .partial(0...4))
        XCTAssertEqual(ByteRange.resolve(" bytes=2- ", length: 10), .partial(2...9))
        XCTAssertEqual(ByteRange.resolve("bytes=-3", length: 10), .partial(7...9))
        XCTAssertEqual(ByteRange.resolve("bytes= 1-2 , ", length: 10), .partial(1...2))
        XCTAssertEqual(ByteRange.resolve("bytes=10-", length: 10), .unsatisfiable)
        XCTAssertEqual(ByteRange.resolve("bytes=0-0", length: 0), .unsatisfiable)
        XCTAssertEqual(ByteRange.resolve("bytes=-5", length: 0), .unsatisfiable)
        XCTAssertEqual(ByteRange.resolve("bytes=0-99999999999999999999999", length: 10), .partial(0...9))
        XCTAssertEqual(ByteRange.resolve("bytes=-", length: 10), .whole)
        XCTAssertEqual(ByteRange.resolve("bytes=1 -2", length: 10), .whole)
        XCTAssertEqual(ByteRange.resolve("bytes=0-1, 5-6", length: 10), .whole)
        XCTAssertEqual(ByteRange.resolve("bytes 0-1", length: 10), .whole)
        XCTAssertEqual(ByteRange.resolve("bytes=٣-٤", length: 10), .whole)
    }

    // MARK: Helpers

    private func withServer(store: MediaStore, limits: MediaConnectionLimits.Settings = .init(),
                            _ body: (MediaServer, Int) async throws -> Void) async throws {
        let server = MediaServer(settings: .init(bindHost: "127.0.0.1", port: 0, limits: limits), store: store, logger: Self.logger)
        try await run(server) { try await body(server, $0) }
    }

    private func run(_ server: MediaServer, _ body: (Int) async throws -> Void) async throws {
        let group = ServiceGroup(configuration: .init(services: [server], gracefulShutdownSignals: [], logger: Self.logger))
        let task = Task { try await group.run() }
        do {
            let port = try await server.waitUntilRunning()
            try await body(port)
        } catch {
            await group.triggerGracefulShutdown()
            _ = await task.result
            throw error
        }
        await group.triggerGracefulShutdown()
        try await task.value
    }
}

private final class TestClock: Sendable {
    private let offset = Mutex(Duration.zero)
    private let start = ContinuousClock.now
    var now: @Sendable () -> ContinuousClock.Instant { { [self] in start + offset.withLock { $0 } } }
    func advance(by duration: Duration) { offset.withLock { $0 += duration } }
}

private struct RawResponse {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

private struct RawHTTPError: Error { let message: String }

/// Sends `requestLine` and `headers` to 127.0.0.1:`port` exactly as given, with `Connection: close`,
/// and reads until the server closes. On a thread of its own: the socket calls block.
private func http(port: Int, _ requestLine: String, headers: [String] = [], host: String = "127.0.0.1") async throws -> RawResponse {
    let text = ([requestLine, "Host: \(host):\(port)", "Connection: close"] + headers).joined(separator: "\r\n") + "\r\n\r\n"
    return try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try rawExchange(port: port, host: host, request: Array(text.utf8)) })
        }
    }
}

private func rawExchange(port: Int, host: String = "127.0.0.1", request: [UInt8]) throws -> RawResponse {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw RawHTTPError(message: "socket: \(errno)") }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(port).bigEndian
    precondition(host.hasPrefix("127."), "tests talk to loopback only")
    address.sin_addr.s_addr = inet_addr(host)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw RawHTTPError(message: "connect: \(errno)") }
    var sent = 0
    while sent < request.count {
        let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard n > 0 else { throw RawHTTPError(message: "send: \(errno)") }
        sent += n
    }
    var received: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { break }
        guard n > 0 else { throw RawHTTPError(message: "recv: \(errno)") }
        received += chunk[..<n]
    }
    let separator: [UInt8] = Array("\r\n\r\n".utf8)
    guard received.count >= 4,
          let end = (0...(received.count - 4)).first(where: { Array(received[$0..<$0 + 4]) == separator }) else {
        throw RawHTTPError(message: "no header end in \(received.count) bytes")
    }
    let lines = String(decoding: received[..<end], as: UTF8.self).components(separatedBy: "\r\n")
    let statusParts = lines[0].split(separator: " ")
    guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw RawHTTPError(message: "status line \(lines[0])") }
    let fields = lines.dropFirst().compactMap { line -> (name: String, value: String)? in
        guard let colon = line.firstIndex(of: ":") else { return nil }
        return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
    }
    return RawResponse(status: status, headers: fields, body: Array(received[(end + 4)...]))
}

/// Collects what a response body writes, as written.
private final class CollectingWriter: ResponseBodyWriter, @unchecked Sendable {
    // @unchecked: used by one test task at a time, never concurrently.
    var parts: [ByteBuffer] = []
    func write(_ buffer: ByteBuffer) async throws { parts.append(buffer) }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

/// A plain TCP connection to a loopback address, for clients that misbehave on purpose.
private final class RawConnection {
    let fd: Int32
    let connected: Bool

    /// `source`: the local address to connect from (another 127/8 address is another host to the server).
    init(port: Int, host: String = "127.0.0.1", source: String? = nil, receiveBuffer: Int32? = nil) throws {
        precondition(host.hasPrefix("127.") && source?.hasPrefix("127.") ?? true, "tests talk to loopback only")
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawHTTPError(message: "socket: \(errno)") }
        self.fd = fd
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                Glibc.close(fd)
                throw RawHTTPError(message: "bind \(source): \(errno)")
            }
        }
        if var size = receiveBuffer {
            // Before connect, so the window the server sees is small from the start.
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(port).bigEndian
        address.sin_addr.s_addr = inet_addr(host)
        connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    deinit { close() }

    private var isOpen = true
    func close() {
        if isOpen { Glibc.close(fd) }
        isOpen = false
    }

    func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// Reads until `count` bytes arrived, the peer closed, or `timeout`.
    func receive(atLeast count: Int, timeout: Double) -> [UInt8] {
        var received: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        var chunk = [UInt8](repeating: 0, count: 65536)
        while received.count < count, Date() < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received += chunk[..<n]
        }
        return received
    }

    /// True once the server has closed the connection (EOF or reset), waiting up to `wait` seconds.
    /// With `drain`, bytes that arrive are read and dropped (what was sent before the close comes
    /// first) for as long as they keep coming; otherwise any byte means "open".
    func isClosed(wait: Double, drain: Bool = false) -> Bool {
        var deadline = Date().addingTimeInterval(wait)
        var chunk = [UInt8](repeating: 0, count: 65536)
        repeat {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 50) > 0 {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if n == 0 { return true }
                if n < 0 { return errno != EAGAIN && errno != EWOULDBLOCK }
                if !drain { return false }
                deadline = max(deadline, Date().addingTimeInterval(0.2))
            }
        } while Date() < deadline
        return false
    }
}

/// Polls `condition` until it holds or `timeout` seconds pass.
private func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

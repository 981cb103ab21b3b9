import AsyncHTTPClient
import Foundation
import NIOCore

/// What a player does after Play on an http(s) URI: GET it (as a Sonos does, with its own
/// User-Agent), measure it, then play it for its real duration.
enum ClipFetcher {
    static let maxBytes = 64 << 20

    static func play(core: HouseholdCore, player: Int, url: String, generation: Int) async {
        let result = await fetch(core: core, url: url)
        core.mutate { m in
            m.players[player].fetchedClips.append(result)
            // A newer SetAVTransportURI/Stop/Play made this fetch stale: record it, change nothing.
            guard m.players[player].generation == generation else { return }
            if let duration = result.duration, result.error == nil {
                m.players[player].clipDuration = duration
                m.players[player].positionAnchor = 0
                m.players[player].setTransport(.playing, at: core.now)
                m.effects.append(.clipEnd(player: player, generation: m.players[player].generation, after: duration))
            } else {
                m.players[player].setTransport(.stopped, at: core.now)
                m.players[player].positionAnchor = 0
            }
        }
    }

    static func fetch(core: HouseholdCore, url: String) async -> FetchedClip {
        guard GENA.isLoopback(url) else {
            return FetchedClip(url: url, httpStatus: nil, bytes: 0, contentType: nil, duration: nil,
                               error: "not a loopback URL: refused (network-safety rule)")
        }
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "User-Agent", value: "Linux UPnP/1.0 Sonos/\(SonosIdentity.softwareVersion) (ZPS13)")
        do {
            let response = try await core.http.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: maxBytes)
            let bytes = Array(body.readableBytesView)
            let status = Int(response.status.code)
            let type = response.headers.first(name: "Content-Type")
            guard (200..<300).contains(status) else {
                return FetchedClip(url: url, httpStatus: status, bytes: bytes.count, contentType: type, duration: nil,
                                   error: "HTTP \(status)")
            }
            if let length = response.headers.first(name: "Content-Length").flatMap(Int.init), length != bytes.count {
                return FetchedClip(url: url, httpStatus: status, bytes: bytes.count, contentType: type, duration: nil,
                                   error: "Content-Length \(length) but \(bytes.count) bytes")
            }
            guard let duration = wavDuration(bytes) ?? mp3Duration(bytes) else {
                return FetchedClip(url: url, httpStatus: status, bytes: bytes.count, contentType: type, duration: nil,
                                   error: "not a WAV or MP3 stream the player can decode")
            }
            return FetchedClip(url: url, httpStatus: status, bytes: bytes.count, contentType: type, duration: duration,
                               error: nil)
        } catch {
            return FetchedClip(url: url, httpStatus: nil, bytes: 0, contentType: nil, duration: nil, error: "\(error)")
        }
    }

    private static func le32(_ b: [UInt8], _ o: Int) -> Int {
        Int(b[o]) | Int(b[o + 1]) << 8 | Int(b[o + 2]) << 16 | Int(b[o + 3]) << 24
    }

    private static func le16(_ b: [UInt8], _ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }

    /// RIFF/WAVE: walks the chunks for `fmt ` (byte rate) and `data` (size). Sonos plays PCM
    /// WAV up to 48 kHz; anything else is not playable.
    static func wavDuration(_ b: [UInt8]) -> TimeInterval? {
        guard b.count >= 12, b[0..<4].elementsEqual("RIFF".utf8), b[8..<12].elementsEqual("WAVE".utf8) else { return nil }
        var offset = 12
        var byteRate: Int?
        var sampleRate = 0
        while offset + 8 <= b.count {
            let id = String(decoding: b[offset..<offset + 4], as: UTF8.self)
            let size = le32(b, offset + 4)
            let data = offset + 8
            if id == "fmt ", data + 16 <= b.count {
                sampleRate = le32(b, data + 4)
                byteRate = le32(b, data + 8)
            } else if id == "data", let rate = byteRate, rate > 0, sampleRate > 0, sampleRate <= 48_000 {
                // A streaming writer may leave 0 or 0xFFFFFFFF here: then the rest of the file counts.
                let available = b.count - data
                let usable = (size == 0 || size > available) ? available : size
                return Double(usable) / Double(rate)
            }
            offset = data + size + (size & 1)
        }
        return nil
    }

    /// MPEG-1/2 Layer III: skips an ID3v2 tag, reads the first frame header and estimates the
    /// duration from its bitrate (exact for CBR, which is what TTS engines produce).
    static func mp3Duration(_ b: [UInt8]) -> TimeInterval? {
        var o = 0
        if b.count >= 10, b[0..<3].elementsEqual("ID3".utf8) {
            o = 10 + (Int(b[6]) << 21 | Int(b[7]) << 14 | Int(b[8]) << 7 | Int(b[9]))
        }
        while o + 4 <= b.count, !(b[o] == 0xFF && b[o + 1] & 0xE0 == 0xE0) { o += 1 }
        guard o + 4 <= b.count else { return nil }
        let version = (b[o + 1] >> 3) & 0x3, layer = (b[o + 1] >> 1) & 0x3
        let bitrateIndex = Int(b[o + 2] >> 4)
        guard layer == 1, version != 1, bitrateIndex > 0, bitrateIndex < 15 else { return nil }
        let v1 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
        let v2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
        let kbps = version == 3 ? v1[bitrateIndex] : v2[bitrateIndex]
        return Double(b.count - o) * 8 / Double(kbps * 1000)
    }
}

import Foundation
import PluginAPI

/// The C structs of a clip to play and of a speech request, built one way for both modes (inline
/// here, isolated inside the plugin host): every pointer in them lives for `body` only, as the ABI
/// says (the plugin copies what it keeps).
extension SpeakerClip {
    func withCStruct<T>(_ body: (UnsafePointer<sb_clip>) -> T) -> T {
        var c = sb_clip()
        c.struct_size = UInt32(MemoryLayout<sb_clip>.size)
        c.duration_ms = durationMs
        c.volume = volume
        c.flags = (onlyWhenPlaying ? UInt32(SB_CLIP_ONLY_WHEN_PLAYING) : 0) | (group != nil ? UInt32(SB_CLIP_GROUP) : 0)
        let members = (group ?? []).map { strdup($0) }
        defer { members.forEach { free($0) } }
        let memberPointers: [UnsafePointer<CChar>?] = members.map { UnsafePointer($0) }
        return memberPointers.withUnsafeBufferPointer { list in
            if group != nil {
                c.group = list.baseAddress
                c.group_count = UInt32(list.count)
            }
            return url.withCString { url in
                mime.withCString { mime in
                    c.url = url
                    c.mime = mime
                    func call(_ announcement: UnsafePointer<CChar>?) -> T {
                        c.announcement_id = announcement
                        return body(&c)
                    }
                    return announcementID.map { $0.withCString { call($0) } } ?? call(nil)
                }
            }
        }
    }
}

extension TTSRequest {
    func withCStruct<T>(_ body: (UnsafePointer<sb_tts_request>) -> T) -> T {
        var r = sb_tts_request()
        r.struct_size = UInt32(MemoryLayout<sb_tts_request>.size)
        r.rate = rate
        r.pitch = pitch
        r.ssml = ssml
        return text.withCString { text in
            func call(_ voice: UnsafePointer<CChar>?) -> T {
                r.text = text
                r.voice = voice
                return body(&r)
            }
            return voice.map { $0.withCString { call($0) } } ?? call(nil)
        }
    }
}

import Foundation
import PluginAPI

/// The calls a generation answers at once: typed commands, the driver's speakers, the TTS voices.
extension PluginGeneration {
    func invoke(_ name: String, arguments: [String: JSONValue]) async -> CommandOutcome {
        guard let command = commands[name], let invoker = invokers[name] else {
            let known = commands.keys.sorted().joined(separator: ", ")
            return .error("plugin \(info.id) has no command '\(name)'" + (known.isEmpty ? "" : "; its commands: \(known)"))
        }
        let bound: [BoundArgument]
        do { bound = try command.signature.bind(arguments) } catch { return .error("\(name): \(error.description)") }
        let inst = Unchecked(UnsafeMutableRawPointer(instance))
        do {
            let (status, reply) = try await executor.call(timeout: callTimeout, what: "command '\(name)'") {
                invoker.call(instance: inst.value, arguments: bound)
            }
            guard status == SB_OK else {
                return .error(reply.isEmpty ? "\(name) failed with status \(status)" : reply)
            }
            if reply.isEmpty { return .ok(.null) }
            return .ok((try? JSONValue.parse(Array(reply.utf8))) ?? .string(reply))
        } catch {
            return .error(Self.describe(error, id: info.id, what: "command '\(name)'"))
        }
    }

    static func describe(_ error: PluginExecutor.CallError, id: String, what: String) -> String {
        switch error {
        case .timedOut(let s): return "plugin \(id) did not finish \(what) within \(s) s; it is reported as not responding"
        case .hung: return "plugin \(id) is not responding (an earlier call is still running); \(what) was not attempted"
        case .abandoned: return "plugin \(id): \(what) was abandoned: the daemon is stopping"
        }
    }

    func speakers() async -> [SpeakerInfo] {
        guard let table = speakerTable else { return [] }
        let t = Unchecked(table), inst = Unchecked(instance)
        return (try? await executor.call(timeout: callTimeout, what: "speakers") { () -> [SpeakerInfo] in
            guard let count = t.value.pointee.count, let get = t.value.pointee.get else { return [] }
            var result: [SpeakerInfo] = []
            for i in 0..<count(inst.value) {
                var s = sb_speaker_info()
                s.struct_size = UInt32(MemoryLayout<sb_speaker_info>.size)
                guard get(inst.value, i, &s), let id = s.id else { continue }
                result.append(SpeakerInfo(id: String(cString: id), name: s.name.map { String(cString: $0) } ?? String(cString: id),
                                          model: s.model.map { String(cString: $0) } ?? "", group: s.group.map { String(cString: $0) },
                                          address: s.address.map { String(cString: $0) }))
            }
            return result
        }) ?? []
    }

    /// The TTS engine's voices (a JSON array).
    func voices() async -> CommandOutcome {
        guard let table = ttsTable, let voices = table.pointee.voices else { return .error("plugin \(info.id) is not a TTS engine") }
        let inst = Unchecked(instance), fn = Unchecked(voices)
        do {
            let (status, text) = try await executor.call(timeout: callTimeout, what: "voices") { () -> (Int32, String) in
                var out = [CChar](repeating: 0, count: 65536)
                let st = fn.value(inst.value, &out, out.count)
                out[out.count - 1] = 0
                return (st, String(decoding: out.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            guard status == SB_OK else { return .error(text.isEmpty ? "voices failed (status \(status))" : text) }
            return .ok((try? JSONValue.parse(Array(text.utf8))) ?? .string(text))
        } catch {
            return .error(PluginGeneration.describe(error, id: info.id, what: "voices"))
        }
    }
}

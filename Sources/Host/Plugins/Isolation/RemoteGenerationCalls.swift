import Foundation
import PluginAPI

/// The entry points of an isolated generation: each one call to its plugin host, answered when the
/// plugin's function returned there. Errors read as inline mode's (`PluginGeneration…Calls.swift`).
extension RemoteGeneration {
    /// Why an entry point gave no answer, in words.
    struct Failed: Error {
        let text: String
    }

    /// One entry point: its answer decoded, or the error text.
    private func ask<Reply>(_ what: String, _ method: WireMethod, _ payload: [UInt8] = [], timeout: Double? = nil,
                            _ decode: ([UInt8]) throws(EntryPoint.DecodeError) -> Reply) async -> Result<Reply, Failed> {
        switch await connection.call(what, method, payload, timeout: timeout) {
        case .success(let bytes):
            do throws(EntryPoint.DecodeError) { return .success(try decode(bytes)) } catch {
                return .failure(Failed(text: connection.describe(.badAnswer(error.description), what: what)))
            }
        case .failure(let failure):
            return .failure(Failed(text: connection.describe(failure, what: what)))
        }
    }

    func invoke(_ name: String, arguments: [String: JSONValue]) async -> CommandOutcome {
        guard let command = commands[name] else {
            let known = commands.keys.sorted().joined(separator: ", ")
            return .error("plugin \(info.id) has no command '\(name)'" + (known.isEmpty ? "" : "; its commands: \(known)"))
        }
        let bound: [BoundArgument]
        do { bound = try command.signature.bind(arguments) } catch { return .error("\(name): \(error.description)") }
        let request = EntryPoint.CommandRequest(name: name, arguments: bound).encode()
        switch await ask("command '\(name)'", .command, request, EntryPoint.StatusReply.init(decoding:)) {
        case .failure(let failed): return .error(failed.text)
        case .success(let reply):
            guard reply.status == SB_OK else {
                return .error(reply.text.isEmpty ? "\(name) failed with status \(reply.status)" : reply.text)
            }
            if reply.text.isEmpty { return .ok(.null) }
            return .ok((try? JSONValue.parse(Array(reply.text.utf8))) ?? .string(reply.text))
        }
    }

    func speakers() async -> [SpeakerInfo] {
        guard offersSpeakers else { return [] }
        return (try? await ask("speakers", .speakers, [], EntryPoint.SpeakersReply.init(decoding:)).get().speakers) ?? []
    }

    func voices() async -> CommandOutcome {
        guard offersTTS else { return .error("plugin \(info.id) is not a TTS engine") }
        switch await ask("voices", .voices, [], EntryPoint.StatusReply.init(decoding:)) {
        case .failure(let failed): return .error(failed.text)
        case .success(let reply):
            guard reply.status == SB_OK else { return .error(reply.text.isEmpty ? "voices failed (status \(reply.status))" : reply.text) }
            return .ok((try? JSONValue.parse(Array(reply.text.utf8))) ?? .string(reply.text))
        }
    }

    // MARK: long operations

    func playClip(speakerID: String, clip: SpeakerClip, operations: OperationTable, timeout: Double,
                  onStarted: @escaping @Sendable (UInt64) -> Void) async -> CommandOutcome {
        guard offersSpeakers else { return .error("plugin \(info.id) drives no speakers") }
        return await runOperation("playing on \(speakerID)", .playClip, operations: operations, timeout: timeout) { operationID in
            onStarted(operationID)
            return EntryPoint.PlayClipRequest(operationID: operationID, speakerID: speakerID, clip: clip).encode()
        }
    }

    func cancel(operation: UInt64) async {
        await cancel(operation: operation, within: nil)
    }

    /// `within`: seconds for the whole of it, the wait in line included (a shutdown's budget).
    func cancel(operation: UInt64, within: Double?) async {
        guard offersSpeakers else { return }
        _ = await connection.call("cancel", .cancel, EntryPoint.CancelRequest(operationID: operation).encode(), timeout: within,
                                  oneBudget: within != nil)
    }

    func synthesize(_ request: TTSRequest, operations: OperationTable, timeout: Double) async -> CommandOutcome {
        guard offersTTS else { return .error("plugin \(info.id) is not a TTS engine") }
        return await runOperation("synthesising speech", .synthesize, operations: operations, timeout: timeout) { operationID in
            EntryPoint.SynthesizeRequest(operationID: operationID, text: request.text, voice: request.voice,
                                         rate: request.rate, pitch: request.pitch, ssml: request.ssml).encode()
        }
    }

    /// A long operation: the start call answers the plugin's status at once; the plugin completes
    /// the operation later through the operations service (served by `RemoteServices`), or a
    /// crash fails it with the crash's text (`context.cancelAll`).
    private func runOperation(_ what: String, _ method: WireMethod, operations: OperationTable, timeout: Double,
                              _ request: @escaping @Sendable (UInt64) -> [UInt8]) async -> CommandOutcome {
        let connection = self.connection, id = info.id
        let outcome = await operations.run(owner: ObjectIdentifier(context), timeout: timeout) { operationID in
            Task {
                switch await connection.call(what, method, request(operationID)) {
                case .success(let bytes):
                    guard let reply = try? EntryPoint.StatusReply(decoding: bytes) else {
                        return operations.finish(operationID, .failed(status: SB_ERR_FAILED,
                                                                      reason: connection.describe(.badAnswer("a short answer"), what: what)))
                    }
                    // A refused start owes no completion: finish the operation here.
                    if reply.status != SB_OK {
                        operations.finish(operationID, .failed(status: reply.status,
                                                               reason: reply.text.isEmpty ? "\(what) failed (status \(reply.status))" : reply.text))
                    }
                case .failure(let failure):
                    let status: Int32 = if case .timedOut = failure { SB_ERR_TIMEOUT } else { SB_ERR_FAILED }
                    operations.finish(operationID, .failed(status: status, reason: connection.describe(failure, what: what)))
                }
            }
        }
        switch outcome {
        case .done(let detail):
            return .ok(detail.flatMap { try? JSONValue.parse(Array($0.utf8)) } ?? .null)
        case .timedOut(let seconds):
            context.logger.error("plugin \(id)#\(number): \(what) was never completed within \(seconds) s")
            return .error("plugin \(id) did not finish \(what) within \(seconds) s")
        case .failed(let status, let reason):
            return .error(reason ?? "\(what) failed (status \(status))")
        case .cancelled(let reason):
            return .error(reason ?? "\(what) failed (status \(SB_ERR_CANCELLED))")
        }
    }

    // MARK: state handover

    func saveState() async throws(PluginRejection) -> (version: UInt32, bytes: [UInt8])? {
        guard offersState else { return nil }
        switch await connection.call("save_state", .saveState, []) {
        case .failure(.timedOut):
            throw .hung(id: info.id, what: "save", seconds: callTimeout)
        case .failure(let failure):
            throw .stateHandoverFailed(id: info.id, message: connection.describe(failure, what: "save_state"))
        case .success(let bytes):
            guard let reply = try? EntryPoint.SaveStateReply(decoding: bytes) else {
                throw .stateHandoverFailed(id: info.id, message: connection.describe(.badAnswer("save_state"), what: "save_state"))
            }
            guard reply.offered else { return nil }
            guard reply.status == SB_OK else {
                throw .stateHandoverFailed(id: info.id, message: "the running build could not save its state (status \(reply.status))")
            }
            return (reply.version, reply.bytes)
        }
    }

    func loadState(version: UInt32, bytes: [UInt8]) async throws(PluginRejection) {
        guard offersState else { return }
        switch await connection.call("load_state", .loadState, EntryPoint.LoadStateRequest(version: version, bytes: bytes).encode()) {
        case .failure(.timedOut):
            throw .hung(id: info.id, what: "load", seconds: callTimeout)
        case .failure(let failure):
            throw .stateHandoverFailed(id: info.id, message: connection.describe(failure, what: "load_state"))
        case .success(let answer):
            guard let reply = try? EntryPoint.StatusReply(decoding: answer) else {
                throw .stateHandoverFailed(id: info.id, message: connection.describe(.badAnswer("load_state"), what: "load_state"))
            }
            guard reply.status == SB_OK else {
                throw .stateHandoverFailed(id: info.id, message: reply.text.isEmpty ? "status \(reply.status)" : reply.text)
            }
        }
    }

    /// Liveness and memory, answered by the plugin host's reader thread (not behind the plugin's
    /// calls): its resident memory in KiB, or nil if it did not answer within `timeout`.
    func ping(timeout: Double = 2) async -> UInt64? {
        guard case .success(let message) = await connection.channel.call(WireMethod.ping.rawValue, [], timeout: timeout),
              let reply = try? EntryPoint.PingReply(decoding: message.payload) else { return nil }
        return reply.residentKB
    }
}

import Foundation
import PluginAPI

/// The long operations (a clip played, speech synthesised): started on the executor, completed
/// later by the plugin through the host, or ended by their deadline.
extension PluginGeneration {
    /// Plays `clip` on `speakerID` and waits for the plugin to complete the operation (or for the
    /// operation deadline).
    func playClip(speakerID: String, clip: SpeakerClip, operations: OperationTable, timeout: Double,
                  onStarted: @escaping @Sendable (UInt64) -> Void) async -> CommandOutcome {
        guard let table = speakerTable, let play = table.pointee.play_clip else {
            return .error("plugin \(info.id) drives no speakers")
        }
        let inst = Unchecked(instance), playFn = Unchecked(play)
        return await runOperation("playing on \(speakerID)", operations: operations, timeout: timeout) { operationID, err in
            onStarted(operationID)
            return clip.withCStruct { c in speakerID.withCString { playFn.value(inst.value, $0, c, operationID, err, 1024) } }
        }
    }

    /// Asks the speaker driver to stop an operation early; it still completes (cancelled).
    func cancel(operation: UInt64) async {
        guard let table = speakerTable, let cancel = table.pointee.cancel else { return }
        let inst = Unchecked(instance), cancelFn = Unchecked(cancel)
        _ = try? await executor.call(timeout: callTimeout, what: "cancel") { _ = cancelFn.value(inst.value, operation) }
    }

    /// Asks a TTS plugin for speech; the completion carries `{"url","duration_ms",…}`.
    func synthesize(_ request: TTSRequest, operations: OperationTable, timeout: Double) async -> CommandOutcome {
        guard let table = ttsTable, let synth = table.pointee.synthesize else {
            return .error("plugin \(info.id) is not a TTS engine")
        }
        let inst = Unchecked(instance), synthFn = Unchecked(synth)
        return await runOperation("synthesising speech", operations: operations, timeout: timeout) { operationID, err in
            request.withCStruct { synthFn.value(inst.value, $0, operationID, err, 1024) }
        }
    }

    /// A long operation: `start` runs on the executor with the operation id and an error buffer
    /// of 1024 bytes and returns the plugin's status; the plugin completes it later through the host.
    private func runOperation(_ what: String, operations: OperationTable, timeout: Double,
                              _ start: @escaping @Sendable (UInt64, UnsafeMutablePointer<CChar>) -> Int32) async -> CommandOutcome {
        let executor = self.executor, callTimeout = self.callTimeout, id = info.id
        let outcome = await operations.run(owner: ObjectIdentifier(context), timeout: timeout) { operationID in
            Task {
                do throws(PluginExecutor.CallError) {
                    let (status, error) = try await executor.call(timeout: callTimeout, what: what) { () -> (Int32, String) in
                        var err = [CChar](repeating: 0, count: 1024)
                        let st = err.withUnsafeMutableBufferPointer { start(operationID, $0.baseAddress!) }
                        return (st, String(decoding: err.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))
                    }
                    // A refused start owes no completion: finish the operation here.
                    if status != SB_OK {
                        operations.finish(operationID, .failed(status: status, reason: error.isEmpty ? "\(what) failed (status \(status))" : error))
                    }
                } catch {
                    operations.finish(operationID, .failed(status: SB_ERR_TIMEOUT, reason: PluginGeneration.describe(error, id: id, what: what)))
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
}

import Foundation
import PluginAPI

/// A blue/green reload's state handover: the serving generation saves a blob, the new one loads it.
extension PluginGeneration {
    final class Blob: @unchecked Sendable {
        // @unchecked: filled on the plugin's executor during one `save` call, read after it returns.
        var bytes: [UInt8] = []
    }

    func saveState() async throws(PluginRejection) -> (version: UInt32, bytes: [UInt8])? {
        guard let table = stateTable, let save = table.pointee.save else { return nil }
        let blob = Blob(), inst = Unchecked(instance), version = table.pointee.blob_version
        let saveFn = Unchecked(save)
        let status: Int32
        do {
            status = try await executor.call(timeout: callTimeout, what: "save_state") {
                saveFn.value(inst.value, { ctx, data, size in
                    guard let ctx, let data else { return }
                    Unmanaged<Blob>.fromOpaque(ctx).takeUnretainedValue().bytes
                        .append(contentsOf: UnsafeRawBufferPointer(start: data, count: size))
                }, Unmanaged.passUnretained(blob).toOpaque())
            }
        } catch { throw .hung(id: info.id, what: "save", seconds: callTimeout) }
        guard status == SB_OK else { throw .stateHandoverFailed(id: info.id, message: "the running build could not save its state (status \(status))") }
        return (version, blob.bytes)
    }

    func loadState(version: UInt32, bytes: [UInt8]) async throws(PluginRejection) {
        guard let table = stateTable, let load = table.pointee.load else { return }
        let inst = Unchecked(instance), loadFn = Unchecked(load)
        let result: (Int32, String)
        do {
            result = try await executor.call(timeout: callTimeout, what: "load_state") {
                var err = [CChar](repeating: 0, count: 1024)
                let st = bytes.withUnsafeBytes { loadFn.value(inst.value, version, $0.baseAddress, $0.count, &err, err.count) }
                return (st, String(decoding: err.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
        } catch { throw .hung(id: info.id, what: "load", seconds: callTimeout) }
        guard result.0 == SB_OK else { throw .stateHandoverFailed(id: info.id, message: result.1.isEmpty ? "status \(result.0)" : result.1) }
    }
}

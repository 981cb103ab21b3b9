import Foundation
import PluginAPI

/// One instance's `sb_host`, alive from before `create` until after `destroy`.
final class HostHandle: @unchecked Sendable {
    // @unchecked: the struct is filled once in init and then only read by the plugin; it is freed
    // in deinit, which runs after the instance was destroyed (the generation owns both).
    let pointer: UnsafeMutablePointer<sb_host>
    private let name: UnsafeMutablePointer<CChar>
    private let version: UnsafeMutablePointer<CChar>

    init(context: PluginHostContext) {
        name = strdup("speakerbridge")
        version = strdup(SpeakerbridgeVersion.current)
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: sb_host(
            struct_size: UInt32(MemoryLayout<sb_host>.size), abi_major: UInt16(PluginABI.major),
            abi_minor: UInt16(PluginABI.minor), name: name, version: version,
            host_data: Unmanaged.passRetained(context).toOpaque(),
            get_extension: { host, id in
                guard let id else { return nil }
                return HostTables.shared.lookup(String(cString: id), for: host)
            }))
    }

    deinit {
        if let data = pointer.pointee.host_data { Unmanaged<PluginHostContext>.fromOpaque(data).release() }
        pointer.deinitialize(count: 1)
        pointer.deallocate()
        free(name)
        free(version)
    }
}

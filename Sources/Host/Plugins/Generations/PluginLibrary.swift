import Foundation
import PluginAPI

/// What a plugin says about itself, copied out of its descriptor (the host never keeps pointers
/// into a plugin's memory).
public struct PluginDescriptorInfo: Sendable, Equatable {
    public let id: String
    public let name: String
    public let version: String
    public let vendor: String
    public let description: String
    public let abiMajor: Int
    public let abiMinor: Int
}

/// A plugin file mapped into the process: copied to a path unique to this load, dlopen'ed, its
/// descriptor checked. glibc hands back the already-loaded object for a path (and inode) it knows,
/// so loading a new build means loading a new file.
final class PluginLibrary: @unchecked Sendable {
    // @unchecked: `handle` and `descriptor` are written once in init and only read afterwards; the
    // descriptor is constant data inside the library, which stays mapped as long as this object.
    let sourcePath: String
    let loadedPath: String
    let info: PluginDescriptorInfo
    let descriptor: UnsafePointer<sb_plugin_descriptor>
    /// Swift images cannot be unloaded safely (the runtime keeps their metadata): they stay mapped.
    let isSwift: Bool
    private let handle: UnsafeMutableRawPointer

    /// Reverse-DNS ids: [a-z0-9] first, then [a-z0-9._-], at most 128 characters.
    static func isValidID(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard let first = bytes.first, bytes.count <= 128 else { return false }
        func alnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) }
        return alnum(first) && bytes.allSatisfy { alnum($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }
    }

    init(source: String, loadAs loadedPath: String) throws(PluginRejection) {
        sourcePath = source
        self.loadedPath = loadedPath
        try PluginFileCheck.check(source)
        do {
            if FileManager.default.fileExists(atPath: loadedPath) { try FileManager.default.removeItem(atPath: loadedPath) }
            try FileManager.default.copyItem(atPath: source, toPath: loadedPath)
        } catch {
            throw .notASharedObject(path: source, detail: "cannot copy it to \(loadedPath): \(error.localizedDescription)")
        }
        guard let h = dlopen(loadedPath, RTLD_NOW | RTLD_LOCAL) else {
            let detail = dlerror().map { String(cString: $0) } ?? "dlopen failed"
            unlink(loadedPath)
            throw .notASharedObject(path: source, detail: detail.replacingOccurrences(of: loadedPath, with: source))
        }
        // A Swift plugin pulls in the Swift runtime; mark it never-unload before anything can dlclose it.
        let swift = dlsym(h, "swift_retain") != nil
        if swift { _ = dlopen(loadedPath, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE | RTLD_NOLOAD) }
        func fail(_ r: PluginRejection) -> PluginRejection {
            if !swift { dlclose(h) }
            unlink(loadedPath)
            return r
        }
        guard let entry = dlsym(h, PluginABI.entrySymbol) else { throw fail(.missingEntry(path: source)) }
        let entryFn = unsafeBitCast(entry, to: (@convention(c) () -> UnsafePointer<sb_plugin_descriptor>?).self)
        guard let d = entryFn() else { throw fail(.nullDescriptor(path: source)) }
        let size = Int(d.pointee.struct_size)
        guard size >= MemoryLayout<sb_plugin_descriptor>.size else { throw fail(.truncatedDescriptor(path: source, size: size)) }
        let major = Int(d.pointee.abi_major), minor = Int(d.pointee.abi_minor)
        guard major == PluginABI.major else { throw fail(.abiMajorMismatch(path: source, plugin: major, host: PluginABI.major)) }
        guard minor <= PluginABI.minor else { throw fail(.abiMinorTooNew(path: source, plugin: minor, host: PluginABI.minor)) }
        func text(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }
        let id = text(d.pointee.id)
        guard PluginLibrary.isValidID(id) else { throw fail(.invalidID(path: source, id: id)) }
        guard d.pointee.create != nil, d.pointee.destroy != nil, d.pointee.get_extension != nil else {
            throw fail(.notASharedObject(path: source, detail: "descriptor of \(id) lacks create, destroy or get_extension"))
        }
        info = PluginDescriptorInfo(id: id, name: text(d.pointee.name), version: text(d.pointee.version),
                                    vendor: text(d.pointee.vendor), description: text(d.pointee.description),
                                    abiMajor: major, abiMinor: minor)
        descriptor = d
        handle = h
        isSwift = swift
    }

    deinit {
        if !isSwift { dlclose(handle) }
        unlink(loadedPath)
    }
}

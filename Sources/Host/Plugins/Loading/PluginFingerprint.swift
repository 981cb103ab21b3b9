import Foundation

/// What the folder watcher compares for one plugin: its library and its settings file (nil when
/// there is none), so editing, creating or deleting `NAME.json` reloads the plugin like a new build.
struct PluginFingerprint: Sendable, Equatable {
    let library: FileFingerprint
    let settings: FileFingerprint?
}

/// Identity of a file's content as far as the folder watcher cares.
struct FileFingerprint: Sendable, Equatable {
    let inode: UInt64
    let size: Int64
    let modified: Double

    init?(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        inode = UInt64(st.st_ino)
        size = Int64(st.st_size)
        modified = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
    }
}

import Foundation

/// Who may hand the daemon code to run: a plugin file, and the folder it sits in, must be owned by
/// root or by the daemon's own user and must not be writable by group or others. Otherwise anyone
/// who can write there could run code as the daemon.
enum PluginFileCheck {
    static func check(_ path: String) throws(PluginRejection) {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            throw .notASharedObject(path: path, detail: String(cString: strerror(errno)))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw .unsafeFile(path: path, reason: "not a regular file (symbolic links are not followed)")
        }
        try checkOwnerAndMode(st, of: path, what: "the file")
        let folder = (path as NSString).deletingLastPathComponent
        var dir = stat()
        guard stat(folder.isEmpty ? "." : folder, &dir) == 0 else {
            throw .unsafeFile(path: path, reason: "cannot inspect its folder")
        }
        try checkOwnerAndMode(dir, of: path, what: "its folder \(folder)")
    }

    private static func checkOwnerAndMode(_ st: stat, of path: String, what: String) throws(PluginRejection) {
        let me = geteuid()
        if st.st_uid != 0 && st.st_uid != me {
            throw .unsafeFile(path: path, reason: "\(what) is owned by uid \(st.st_uid), not by root or the daemon's user (uid \(me))")
        }
        if st.st_mode & (S_IWGRP | S_IWOTH) != 0 {
            throw .unsafeFile(path: path, reason: "\(what) is writable by group or others (mode \(String(st.st_mode & 0o777, radix: 8))); chmod go-w it")
        }
    }
}

import Foundation

/// The state directory (client id, journal, embedded broker): there, this user's, writable, and
/// whether a running daemon holds its lock.
enum StateDirectoryCheck {
    static func check(_ config: Configuration, lock: StateLock.Holder) -> DoctorCheck {
        let name = "state directory"
        let path = config.stateDirectory
        let me = geteuid()
        var st = stat()
        guard stat(path, &st) == 0 else {
            let parent = (path as NSString).deletingLastPathComponent
            if errno == ENOENT, canCreate(in: parent) {
                return .ok(name, "\(path) does not exist yet; the daemon creates it (mode 0700) on its first start")
            }
            return .fail(name, "\(path) does not exist and cannot be created here",
                         fix: "create it for the daemon's user: install -d -m 0700 -o USER \(path) (systemd: StateDirectory=)")
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            return .fail(name, "\(path) is not a directory", fix: "move the file away, or point state_dir elsewhere")
        }
        let mode = String(st.st_mode & 0o777, radix: 8)
        if let problem = writeProblem(path) {
            let owner = st.st_uid == me ? "" : ", owned by uid \(st.st_uid) (this is uid \(me))"
            return .fail(name, "\(path) is not writable: \(problem)\(owner)",
                         details: ["the daemon writes its journal, outbound queue and lock here; it cannot start without them"],
                         fix: problem == String(cString: strerror(EROFS))
                            ? "remount its file system read-write, or set state_dir to a writable place (systemd: StateDirectory=)"
                            : st.st_uid == me ? "make it writable: chmod u+rwx \(path)"
                                              : "run as the directory's owner, or give it to the daemon's user: chown -R USER \(path)")
        }
        var details: [String] = []
        switch lock {
        case .heldBy(let pid): details.append("locked by the running daemon, process \(pid)")
        case .stale(let pid): details.append("its lock is free (no daemon uses it now)" + (pid.map { "; process \($0) held it last" } ?? ""))
        case .noLockFile: details.append("no daemon has used it yet")
        }
        if st.st_mode & 0o077 != 0 {
            return .warn(name, "\(path) is open to others (mode \(mode))", details: details + ["the embedded broker's password and the journal are in it"],
                         fix: "chmod 700 \(path)")
        }
        return .ok(name, "\(path) is writable (mode \(mode), owner uid \(st.st_uid))", details: details)
    }

    /// Writability tried, not inferred from the mode: root ignores modes, a read-only mount does not.
    private static func writeProblem(_ dir: String) -> String? {
        let probe = dir + "/.doctor-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        close(fd)
        unlink(probe)
        return nil
    }

    private static func canCreate(in parent: String) -> Bool {
        var st = stat()
        if stat(parent, &st) == 0 { return writeProblem(parent) == nil }
        let up = (parent as NSString).deletingLastPathComponent
        return up != parent && canCreate(in: up)
    }
}

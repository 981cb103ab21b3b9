import Foundation

/// A child process started with default signal dispositions.
///
/// Foundation's `Process` passes on our signal state, and the service lifecycle ignores SIGTERM and
/// SIGINT in the daemon (it handles them with dispatch sources); an ignored signal stays ignored
/// across exec, so a broker started that way could never be stopped politely.
final class ChildProcess: Sendable {
    struct SpawnError: Error, CustomStringConvertible { let description: String }

    let pid: pid_t

    /// Starts `executable` with `arguments`; stdout and stderr go to `outputPath` (appended).
    init(executable: String, arguments: [String], outputPath: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var attributes = posix_spawnattr_t()
        ChildProcess.initDefaultSignals(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attributes, argv, environ)
        guard rc == 0 else {
            throw SpawnError(description: "cannot start \(executable): \(String(cString: strerror(rc)))")
        }
        pid = child
    }

    /// Initialises spawn attributes that give the child default dispositions for the signals the
    /// daemon handles or ignores, and an empty signal mask (the caller destroys them).
    static func initDefaultSignals(_ attributes: inout posix_spawnattr_t) {
        posix_spawnattr_init(&attributes)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
    }

    func signal(_ sig: Int32) { kill(pid, sig) }

    /// Waits for the exit on a helper thread (waitpid blocks) and returns the exit status, or 128+signal.
    func exitStatus() async -> Int32 {
        let pid = self.pid
        return await withCheckedContinuation { continuation in
            Thread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                continuation.resume(returning: code)
            }.start()
        }
    }
}

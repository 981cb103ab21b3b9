/// How a plugin host process ended when nobody asked it to (a crash, an exit, a closed socket, a
/// kill for hanging): handed once to the generation's `onExit`, for the crash report and the
/// restart. In-flight operations and calls of the generation have already failed with
/// "plugin <id> <reason>" when it arrives.
struct PluginExit: Sendable, Equatable {
    /// What happened, without the plugin id: "crashed (SIGSEGV)", "exited with status 3",
    /// "closed its socket", "was killed: hung in command 'x' for 7 s".
    let reason: String
    /// The signal that ended the process ("SIGSEGV"), if one did.
    let signalName: String?
    /// The process's exit status, if it exited.
    let exitStatus: Int32?
    /// The last lines it wrote to stdout and stderr (a backtrace, an assertion), oldest first.
    let lastLines: [String]
    /// It was killed because a call into it did not return within the call timeout and its grace.
    let wasHung: Bool
}

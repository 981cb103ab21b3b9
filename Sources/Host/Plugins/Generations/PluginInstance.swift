/// One generation of a loaded plugin as the registry sees it, whichever way its code runs: the
/// inline `PluginGeneration` (the library mapped here) or the isolated `RemoteGeneration` (a plugin
/// host process spoken to over a socket). The slot, the reload and every call go through this.
protocol PluginInstance: AnyObject, Sendable {
    var number: Int { get }
    var info: PluginDescriptorInfo { get }
    var isolation: PluginIsolation { get }
    /// The typed commands it declared, checked (the host binds arguments before any call).
    var commands: [String: TypedCommand] { get }
    /// The SB_EXT_* ids it offers.
    var extensions: [String] { get }
    var offersState: Bool { get }
    /// A call into it missed its deadline and has not returned (inline), or its process was found
    /// hung and is being replaced (process): calls fail fast, a reload hands no state over.
    var isHung: Bool { get }

    func invoke(_ name: String, arguments: [String: JSONValue]) async -> CommandOutcome
    func speakers() async -> [SpeakerInfo]
    func voices() async -> CommandOutcome
    func playClip(speakerID: String, clip: SpeakerClip, operations: OperationTable, timeout: Double,
                  onStarted: @escaping @Sendable (UInt64) -> Void) async -> CommandOutcome
    func cancel(operation: UInt64) async
    func synthesize(_ request: TTSRequest, operations: OperationTable, timeout: Double) async -> CommandOutcome
    func saveState() async throws(PluginRejection) -> (version: UInt32, bytes: [UInt8])?
    func loadState(version: UInt32, bytes: [UInt8]) async throws(PluginRejection)
    /// Cancels what it registered and destroys it (a process: asked to destroy, then ended).
    func shutdown() async

    /// The daemon's side of its host services (operations, routes, sockets), whichever the mode.
    var context: PluginHostContext { get }

    /// The call that missed its deadline and has not returned (health, `plugins list`).
    var hang: PluginExecutor.Hang? { get }
    /// The daemon is stopping: callers waiting for this instance stop waiting now, so a stop never
    /// queues behind a plugin that does not return.
    func abandonCalls()
    /// It now serves (the registry's table names it): from here on an end nobody asked for is
    /// reported as a crash, and one that came before is reported now. Called by the registry right
    /// after it put the generation in its table, so a crash is never reported for a generation the
    /// table does not know yet (the crash handler would find nothing to restart, and the dead
    /// generation would go on "serving"). Inline instances have no process to end.
    func armCrashReport()
}

extension PluginInstance {
    var hang: PluginExecutor.Hang? { nil }
    func abandonCalls() {}
    func armCrashReport() {}
}

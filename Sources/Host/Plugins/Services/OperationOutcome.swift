import PluginAPI

/// How a long operation (play a clip, synthesise speech) ended.
public enum OperationOutcome: Sendable, Equatable {
    /// Completed with SB_OK; `detail` is the plugin's JSON result, if any.
    case done(detail: String?)
    /// Completed with an error status, by the plugin or by the host for it (a refused start, an
    /// executor that did not return).
    case failed(status: Int32, reason: String?)
    /// Nobody completed it before the host's deadline.
    case timedOut(seconds: Double)
    /// Stopped early: by the plugin on `cancel`, or by the host when the generation went away.
    case cancelled(reason: String?)

    /// A completion as the plugin reports it through SB_HOST_EXT_OPERATIONS.
    init(status: Int32, detail: String?) {
        switch status {
        case SB_OK: self = .done(detail: detail)
        case SB_ERR_CANCELLED: self = .cancelled(reason: detail)
        default: self = .failed(status: status, reason: detail)
        }
    }
}

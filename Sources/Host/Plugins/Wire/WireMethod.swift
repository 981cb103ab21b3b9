/// The methods of the plugin host protocol (docs/plugins.md, "The plugin host protocol", lists each
/// one's fields). Numbers never change meaning; a new method gets a new number.
///
/// 1…99: the daemon calls the plugin (its entry points), answered by the plugin host process once
/// the plugin's function returned on the process's serial executor.
/// 100…199: the plugin uses a host service; the plugin host forwards it to the daemon.
/// 200…299: the daemon hands a service's result or event back to the plugin (an HTTP answer, a
/// datagram, a WebSocket event, a callback request).
enum WireMethod: UInt16, Sendable {
    // MARK: daemon -> plugin host (calls)
    /// Maps the plugin file; answers its descriptor or why it was refused.
    case open = 1
    /// `create` with the settings; answers the status, the extensions and the typed commands.
    case create = 2
    case speakers = 3
    case playClip = 4
    case cancel = 5
    case synthesize = 6
    case voices = 7
    /// A typed command with arguments the daemon already checked against the signature.
    case command = 8
    case saveState = 9
    case loadState = 10
    /// `destroy`; the plugin host exits after answering.
    case destroy = 11
    /// Liveness and memory: answers at once from the reader thread (not the executor).
    case ping = 12

    // MARK: plugin host -> daemon (host services)
    case log = 100                 // note
    case publishState = 101        // call
    case publishAvailability = 102 // call
    case publishEvent = 103        // call
    case complete = 104            // note
    case mediaPut = 105            // call, one memfd with the clip
    /// The SB_HOST_EXT_* ids the daemon serves this instance (media and routes only with its HTTP server).
    case hostServices = 106        // call
    case httpRequest = 110         // call
    case httpCancel = 111          // note
    case udpOpen = 120             // call
    case udpSend = 121             // call
    case udpClose = 122            // note
    case routeAdd = 130            // call
    case routeRemove = 131         // note
    case wsOpen = 140              // call
    case wsSend = 141              // call
    case wsClose = 142             // note

    // MARK: daemon -> plugin host (service results and events)
    case httpDone = 200            // note
    case udpReceive = 201          // note
    case routeRequest = 202        // call: answered with the route function's status
    case wsEvent = 203             // note; a call for a text message (answered once delivered: backpressure)
}

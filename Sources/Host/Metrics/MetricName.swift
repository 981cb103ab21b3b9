/// The exported names, in one place, so the README's table, the recording code and the tests agree.
/// Base units (seconds, bytes), `_total` on counters, `speakerbridge_` on the daemon's own.
public enum MetricName {
    public static let connected = "speakerbridge_mqtt_connected"
    public static let reconnects = "speakerbridge_mqtt_reconnects_total"
    public static let disconnects = "speakerbridge_mqtt_disconnects_total"
    public static let journalPending = "speakerbridge_journal_pending_requests"
    public static let journalQuarantined = "speakerbridge_journal_quarantined_requests"
    public static let outboundPending = "speakerbridge_outbound_pending_messages"
    public static let outboundDropped = "speakerbridge_outbound_dropped_messages_total"
    public static let announcements = "speakerbridge_announcements_total"
    public static let synthesisDuration = "speakerbridge_synthesis_duration_seconds"
    public static let announcementDuration = "speakerbridge_announcement_duration_seconds"
    public static let speakersUp = "speakerbridge_speakers_up"
    public static let pluginCallTimeouts = "speakerbridge_plugin_call_timeouts_total"
    public static let pluginReloads = "speakerbridge_plugin_reloads_total"

    public static let residentMemory = "process_resident_memory_bytes"
    public static let virtualMemory = "process_virtual_memory_bytes"
    public static let cpuSeconds = "process_cpu_seconds_total"
    public static let openFDs = "process_open_fds"
    public static let maxFDs = "process_max_fds"
    public static let startTime = "process_start_time_seconds"

    /// The `# HELP` text of each, for the exposition (the factory route of swift-metrics carries none).
    public static let help: [String: String] = [
        connected: "1 while the MQTT broker session is up, else 0.",
        reconnects: "Connections to the broker made again after one was lost.",
        disconnects: "Connections to the broker lost, by libmosquitto reason name.",
        journalPending: "Requests recorded in the journal and not yet finished.",
        journalQuarantined: "Dead letters: requests quarantined after crashing the daemon.",
        outboundPending: "Messages queued for the broker and not yet acknowledged.",
        outboundDropped: "Events dropped past outbound.max_messages.",
        announcements: "Announcements ended, by result (done or failed).",
        synthesisDuration: "Speech synthesis by the TTS plugin, in seconds.",
        announcementDuration: "Announcements from acceptance to the final event, in seconds.",
        speakersUp: "Speakers the drivers report now.",
        pluginCallTimeouts: "Calls into a plugin that missed plugins.call_timeout, by plugin id.",
        pluginReloads: "Plugin files reloaded, by outcome.",
        residentMemory: "Resident memory size in bytes.",
        virtualMemory: "Virtual memory size in bytes.",
        cpuSeconds: "Total user and system CPU time spent in seconds.",
        openFDs: "Number of open file descriptors.",
        maxFDs: "Maximum number of open file descriptors.",
        startTime: "Start time of the process since unix epoch in seconds.",
    ]
}

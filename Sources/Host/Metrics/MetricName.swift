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
}

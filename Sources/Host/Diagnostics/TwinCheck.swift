import Foundation

/// Another client with the daemon's client id: the broker closes one connection each time the other
/// connects. The daemon reports it on the retained `bridge/state` (`"problem":"twin"`) and in health.
enum TwinCheck {
    static func check(_ config: Configuration, _ daemon: DaemonAnswers) -> DoctorCheck {
        let name = "twin"
        let reported = daemon.state?["problem"]?.stringValue == "twin" || daemon.healthData?["twin"] == .bool(true)
        if reported {
            let warning = daemon.healthData?["warning"]?.stringValue ?? daemon.state?["warning"]?.stringValue ?? "another client is using the daemon's client id"
            return .warn(name, "a twin is suspected", details: [warning],
                         fix: "stop the other instance, or give one of them its own state_dir (and so its own mqtt.client_id)")
        }
        guard daemon.state != nil || daemon.isAnswering else {
            return .warn(name, daemon.silence(config), fix: nil)
        }
        return .ok(name, "no other client is fighting over the daemon's client id")
    }
}

import Foundation

/// Where the settings came from, so a user can tell the doctor read the daemon's configuration.
enum ConfigurationCheck {
    static func loaded(_ config: Configuration, file: String?) -> DoctorCheck {
        .ok("configuration", (file.map { "read from \($0)" } ?? "no file: the defaults") + ", SPEAKERBRIDGE_* variables and flags",
            details: ["base topic \(config.baseTopic), state_dir \(config.stateDirectory)", statusPage(config.admin)])
    }

    /// Where the status page is and who may use it (the bind rule itself is a config problem).
    static func statusPage(_ admin: Configuration.Admin) -> String {
        guard !admin.bind.isEmpty else { return "status page: off (admin.bind off)" }
        let host = MediaServer.urlHost(admin.bind)
        let url = admin.port == 0 ? "on \(host), at a port chosen at start (admin.port 0)" : "http://\(host):\(admin.port)/"
        guard let file = admin.tokenFile, admin.token != nil else { return "status page \(url), loopback only, no token" }
        return "status page \(url), the admin token from \(file)"
    }

    static func failed(_ problems: String) -> DoctorCheck {
        .fail("configuration", "the configuration has problems; nothing else was checked",
              details: problems.split(separator: "\n").map(String.init),
              fix: "correct the keys named above (speakerbridge config check lists them with their lines)")
    }
}

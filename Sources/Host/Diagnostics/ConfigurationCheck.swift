import Foundation

/// Where the settings came from, so a user can tell the doctor read the daemon's configuration.
enum ConfigurationCheck {
    static func loaded(_ config: Configuration, file: String?) -> DoctorCheck {
        .ok("configuration", (file.map { "read from \($0)" } ?? "no file: the defaults") + ", SPEAKERBRIDGE_* variables and flags",
            details: ["base topic \(config.baseTopic), state_dir \(config.stateDirectory)"])
    }

    static func failed(_ problems: String) -> DoctorCheck {
        .fail("configuration", "the configuration has problems; nothing else was checked",
              details: problems.split(separator: "\n").map(String.init),
              fix: "correct the keys named above (speakerbridge config check lists them with their lines)")
    }
}

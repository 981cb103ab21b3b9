import Foundation

/// The Python environment holding the pinned Home Assistant (`Tests/HomeAssistant/requirements.txt`).
/// `scripts/ha-env.sh` makes it; `make test` runs that first and exports `SB_TEST_HA_VENV`.
public enum HomeAssistantVenv {
    /// `$SB_TEST_HA_VENV`, else `out/ha-venv` in the repository (the script's default).
    public static var path: String {
        let env = ProcessInfo.processInfo.environment["SB_TEST_HA_VENV"] ?? ""
        return env.isEmpty ? PluginBuild.root + "/out/ha-venv" : env
    }

    /// Runs `scripts/ha-env.sh` for `path` and returns it. The script only checks a hash when the
    /// environment already matches the requirements, so this is cheap after `make test-deps`; run
    /// alone (`swift test --filter`), it installs what is missing instead of failing on a stale venv.
    /// Without Python 3.13 the script fails and says so; that is a failure, not a skip.
    public static func prepare() throws -> String {
        let venv = path
        let result = try Shell.run([PluginBuild.root + "/scripts/ha-env.sh", venv])
        guard result.status == 0 else {
            throw LabError("scripts/ha-env.sh \(venv) exited \(result.status):\n\(result.out)\(result.err)")
        }
        return venv
    }
}

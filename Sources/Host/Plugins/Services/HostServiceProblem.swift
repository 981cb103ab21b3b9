/// Why a host service refused a plugin's call: the status for the plugin and a text for it.
struct HostServiceProblem: Error, CustomStringConvertible {
    let status: Int32
    let description: String
}

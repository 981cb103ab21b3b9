import Foundation
import Yams

/// Builds a `Configuration` from defaults, a YAML file, `SPEAKERBRIDGE_*` environment variables
/// and command-line flags (later wins), and reports every problem at once so an operator fixes a
/// broken config in one round instead of one restart per mistake.
public enum ConfigLoader {
    public static func load(
        file: String?, environment: [String: String], flags: [String: String]
    ) throws(ConfigError) -> Configuration {
        let (config, problems) = resolve(file: file, environment: environment, flags: flags)
        guard problems.isEmpty else { throw ConfigError(problems: problems) }
        return config
    }

    public static func check(file: String?, environment: [String: String], flags: [String: String]) -> [ConfigProblem] {
        resolve(file: file, environment: environment, flags: flags).problems
    }

    /// Every key with its effective value, one "key = value" line each; secrets show as <redacted>.
    public static func describe(_ config: Configuration) -> [String] {
        ConfigSetting.all.compactMap { setting in setting.show.map { "\(setting.key) = \($0(config))" } }
    }

    /// The text one layer gave a key, and where it came from so a problem can point back at it.
    /// nil text (YAML null, an empty variable or flag) puts the key back to its default.
    struct Raw {
        var text: String?
        var layer: Int
        var problemKey: String
        var line: Int?
        var origin: ConfigProblem.Origin

        func problem(_ message: String) -> ConfigProblem {
            ConfigProblem(key: problemKey, line: line, message: message, origin: origin)
        }
    }

    static func resolve(
        file: String?, environment: [String: String], flags: [String: String]
    ) -> (config: Configuration, problems: [ConfigProblem]) {
        var problems: [ConfigProblem] = []
        var raw: [String: Raw] = [:]
        if let file { readFile(file, into: &raw, &problems) }
        readEnvironment(environment, into: &raw, &problems)
        readFlags(flags, into: &raw, &problems)
        choosePasswordSource(&raw, &problems)

        // Validation runs on the merged values only, so an override can repair a bad file value.
        var config = Configuration()
        var rejected: Set<String> = []
        for setting in ConfigSetting.all {
            guard let value = raw[setting.key], let text = value.text else { continue }
            if let message = setting.apply(text, &config) {
                problems.append(value.problem(message))
                rejected.insert(setting.key)
            }
        }
        crossCheck(&config, raw, rejected, &problems)

        // File problems in line order first, then the environment and flags in the order found.
        let ordered = problems.enumerated().sorted { ($0.element.line ?? .max, $0.offset) < ($1.element.line ?? .max, $1.offset) }
        return (config, ordered.map(\.element))
    }

    // MARK: - Layers

    static func readFile(_ path: String, into raw: inout [String: Raw], _ problems: inout [ConfigProblem]) {
        guard FileManager.default.fileExists(atPath: path) else {
            problems.append(ConfigProblem(key: "config", message: "file not found: \(path)", origin: .general))
            return
        }
        guard let yaml = try? String(contentsOfFile: path, encoding: .utf8) else {
            problems.append(ConfigProblem(key: "config", message: "cannot read \(path) as UTF-8 text", origin: .general))
            return
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            problems.append(syntaxProblem(error, path))
            return
        }
        guard let root else { return }  // an empty file: all defaults
        guard case .mapping(let mapping) = root else {
            if root.null != nil { return }  // a file holding only "~" or comments
            problems.append(ConfigProblem(key: "", line: root.mark?.line,
                                          message: "the top level must be a mapping of settings (key: value)",
                                          origin: .file(path)))
            return
        }
        walk(mapping, section: "", path, into: &raw, &problems)
    }

    private static func walk(
        _ mapping: Node.Mapping, section: String, _ path: String,
        into raw: inout [String: Raw], _ problems: inout [ConfigProblem]
    ) {
        func problem(_ key: String, _ node: Node, _ message: String) {
            problems.append(ConfigProblem(key: key, line: node.mark?.line, message: message, origin: .file(path)))
        }
        for (keyNode, value) in mapping {
            guard let name = keyNode.scalar?.string else {
                problem(section, keyNode, "keys must be plain names")
                continue
            }
            let key = section.isEmpty ? name : section + "." + name
            if key == "mqtt.password" {
                problem(key, keyNode, ConfigSetting.secretsMessage)
            } else if ConfigSetting.sections.contains(key) {
                if case .mapping(let inner) = value {
                    walk(inner, section: key, path, into: &raw, &problems)
                } else if value.null == nil {
                    let names = ConfigSetting.children(of: key).joined(separator: ", ")
                    problem(key, value, "must be a mapping with the keys \(names), got \(describeNode(value))")
                }
            } else if ConfigSetting.byKey[key] != nil {
                if ConfigSetting.listKeys.contains(key), case .sequence(let items) = value {
                    guard let texts = Optional(items.compactMap(\.scalar?.string)), texts.count == items.count else {
                        problem(key, value, "must be a list of single values")
                        continue
                    }
                    raw[key] = Raw(text: texts.joined(separator: ","), layer: 0, problemKey: key,
                                   line: value.mark?.line ?? keyNode.mark?.line, origin: .file(path))
                    continue
                }
                guard case .scalar(let scalar) = value else {
                    problem(key, value, "must be a single value, got \(describeNode(value))")
                    continue
                }
                raw[key] = Raw(text: value.null != nil ? nil : scalar.string, layer: 0, problemKey: key,
                               line: value.mark?.line ?? keyNode.mark?.line, origin: .file(path))
            } else {
                problem(key, keyNode, "unknown setting" + suggestion(forKeyNamed: name, in: section))
            }
        }
    }

    static func readEnvironment(_ environment: [String: String], into raw: inout [String: Raw], _ problems: inout [ConfigProblem]) {
        let names = ConfigSetting.byEnvironmentName.keys.sorted()
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix("SPEAKERBRIDGE_") {
            // The CLI's business (which file to read) and the test harness's (which binary to run).
            if name == "SPEAKERBRIDGE_CONFIG" || name == "SPEAKERBRIDGE_BIN" { continue }
            guard let key = ConfigSetting.byEnvironmentName[name] else {
                let hint = ConfigSetting.closestName(to: name, among: names).map { "; did you mean \($0)?" } ?? ""
                problems.append(ConfigProblem(key: name, message: "unknown setting\(hint)", origin: .environment))
                continue
            }
            raw[key] = Raw(text: value.isEmpty ? nil : value, layer: 1, problemKey: name, line: nil, origin: .environment)
        }
    }

    static func readFlags(_ flags: [String: String], into raw: inout [String: Raw], _ problems: inout [ConfigProblem]) {
        for (key, value) in flags.sorted(by: { $0.key < $1.key }) {
            if key == "mqtt.password" {
                // Command lines are visible to every user through ps(1).
                problems.append(ConfigProblem(key: key, message: "secrets are not read from command-line flags; use "
                    + "mqtt.password_file or the SPEAKERBRIDGE_MQTT_PASSWORD environment variable", origin: .flag))
                continue
            }
            guard ConfigSetting.byKey[key] != nil else {
                let known = ConfigSetting.all.map(\.key).filter { !ConfigSetting.unsuggested.contains($0) }
                let hint = ConfigSetting.closestName(to: key, among: known).map { "; did you mean \($0)?" } ?? ""
                problems.append(ConfigProblem(key: key, message: "unknown setting\(hint)", origin: .flag))
                continue
            }
            raw[key] = Raw(text: value.isEmpty ? nil : value, layer: 2, problemKey: key, line: nil, origin: .flag)
        }
    }

    // MARK: - Merged checks

    /// password_file and SPEAKERBRIDGE_MQTT_PASSWORD both fill mqtt.password: the higher layer wins,
    /// and both in the same layer (the environment) is ambiguous.
    private static func choosePasswordSource(_ raw: inout [String: Raw], _ problems: inout [ConfigProblem]) {
        guard let direct = raw["mqtt.password"], direct.text != nil,
              let fromFile = raw["mqtt.password_file"], fromFile.text != nil else { return }
        if direct.layer == fromFile.layer {
            problems.append(fromFile.problem("conflicts with SPEAKERBRIDGE_MQTT_PASSWORD; set only one of them"))
            raw["mqtt.password_file"] = nil
        } else {
            raw[direct.layer < fromFile.layer ? "mqtt.password" : "mqtt.password_file"] = nil
        }
    }

    private static func crossCheck(
        _ config: inout Configuration, _ raw: [String: Raw], _ rejected: Set<String>, _ problems: inout [ConfigProblem]
    ) {
        func report(_ key: String, _ message: String) {
            problems.append(raw[key]?.problem(message) ?? ConfigProblem(key: key, message: message, origin: .general))
        }

        var tls = config.mqtt.tls
        if raw["mqtt.tls.enabled"]?.text == nil, !rejected.contains("mqtt.tls.enabled") {
            tls.enabled = tls.caFile != nil || tls.certFile != nil
        }
        if tls.certFile != nil, tls.keyFile == nil, !rejected.contains("mqtt.tls.key_file") {
            report("mqtt.tls.cert_file", "is set but mqtt.tls.key_file is not; set both or neither")
        }
        if tls.keyFile != nil, tls.certFile == nil, !rejected.contains("mqtt.tls.cert_file") {
            report("mqtt.tls.key_file", "is set but mqtt.tls.cert_file is not; set both or neither")
        }
        // Explicitly disabled TLS leaves the files unused, so an override can switch TLS off
        // without the files having to exist; an mqtts:// entry of mqtt.brokers uses them anyway.
        if tls.enabled || config.mqtt.brokers.contains(where: { $0.tls == true }) {
            for (key, file) in [("mqtt.tls.ca_file", tls.caFile), ("mqtt.tls.cert_file", tls.certFile),
                                ("mqtt.tls.key_file", tls.keyFile)] {
                if let file, let message = ConfigSetting.unreadableFileProblem(file) { report(key, message) }
            }
        }
        config.mqtt.tls = tls
        checkBrokerList(config, raw, rejected, report)

        // The status page can speak, change volumes and reload plugins: beyond loopback, only with
        // a token. A token_file that was refused has said so already.
        let admin = config.admin
        if !admin.bind.isEmpty, admin.token == nil, !LoopbackName.contains(admin.bind),
           rejected.isDisjoint(with: ["admin.bind", "admin.token_file"]) {
            report("admin.bind", "is \(admin.bind), not loopback: the status page and its controls (speak, volume, "
                + "plugin reload) would be open to the network without a token; set admin.token_file to a file "
                + "holding a token of at least \(ConfigSetting.minimumAdminTokenLength) characters (for example: "
                + "openssl rand -hex 24 > /etc/speakerbridge/admin-token), or admin.bind to 127.0.0.1")
        }

        let backoff = config.mqtt.reconnect
        let bounds = ["mqtt.reconnect.min_delay", "mqtt.reconnect.max_delay"]
        if backoff.minDelay > backoff.maxDelay, rejected.isDisjoint(with: bounds) {
            if raw[bounds[0]] != nil {
                report(bounds[0], "must not be greater than mqtt.reconnect.max_delay (\(backoff.maxDelay)), "
                    + "got \(backoff.minDelay)")
            } else {
                report(bounds[1], "must not be less than mqtt.reconnect.min_delay (\(backoff.minDelay)), "
                    + "got \(backoff.maxDelay)")
            }
        }
    }

    /// `mqtt.brokers` replaces `mqtt.host` and `mqtt.port`: with both, which broker the daemon uses
    /// would depend on a precedence nobody wrote down, so both set (in any layers) is an error.
    private static func checkBrokerList(
        _ config: Configuration, _ raw: [String: Raw], _ rejected: Set<String>, _ report: (String, String) -> Void
    ) {
        guard let list = raw["mqtt.brokers"], list.text != nil, !rejected.contains("mqtt.brokers") else { return }
        func from(_ key: String) -> String {
            switch raw[key]?.origin {
            case .file(let path)?: " (in \(path))"
            case .environment?: " (from the environment)"
            case .flag?: " (on the command line)"
            default: ""
            }
        }
        if config.mqtt.brokers.isEmpty {
            report("mqtt.brokers", "lists no broker; give host:port entries, or leave it unset")
        }
        if raw["mqtt.host"]?.text != nil {
            report("mqtt.brokers", "is set together with mqtt.host\(from("mqtt.host")); set one: mqtt.brokers for a list of "
                + "brokers tried in order, or mqtt.host (with mqtt.port) for a single broker")
        } else if raw["mqtt.port"]?.text != nil {
            report("mqtt.port", "applies to mqtt.host only, and mqtt.brokers\(from("mqtt.brokers")) is set; give each "
                + "entry of mqtt.brokers its port (host:port) and leave mqtt.port unset")
        }
    }

    // MARK: - Messages

    private static func syntaxProblem(_ error: any Error, _ path: String) -> ConfigProblem {
        // Only libyaml's own wording and marks are used: the error also carries the whole document,
        // which may hold a password someone pasted in by mistake.
        let (problem, mark, context): (String, Mark?, YamlError.Context?)
        switch error as? YamlError {
        case .scanner(let c, let p, let m, _), .parser(let c, let p, let m, _), .composer(let c, let p, let m, _):
            (problem, mark, context) = (p, m, c)
        case .reader(let p, _, _, _):
            (problem, mark, context) = (p, nil, nil)
        case .duplicatedKeysInMapping(let duplicates, let c):
            let names = duplicates.map { String(reflecting: $0) }.joined(separator: ", ")
            (problem, mark, context) = ("duplicate key \(names)", c.mark, nil)
        default:
            (problem, mark, context) = ("unreadable YAML", nil, nil)
        }
        let during = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
        return ConfigProblem(key: mark == nil ? "config" : "", line: mark?.line,
                             message: "YAML syntax error: \(problem)\(during)", origin: .file(path))
    }

    private static func describeNode(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar): String(reflecting: scalar.string)
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    /// Suggests a sibling ("keeplive" -> "keepalive"), or a key of that name elsewhere, for the
    /// common mistake of putting `tls:` at the top level instead of under `mqtt:`.
    private static func suggestion(forKeyNamed name: String, in section: String) -> String {
        if let sibling = ConfigSetting.closestName(to: name, among: ConfigSetting.children(of: section)) {
            return "; did you mean \(String(reflecting: sibling))?"
        }
        let everywhere = (ConfigSetting.all.map(\.key) + ConfigSetting.sections).filter { !ConfigSetting.unsuggested.contains($0) }
        if let elsewhere = everywhere.first(where: { $0.split(separator: ".").last.map(String.init) == name }) {
            return "; did you mean \(elsewhere)?"
        }
        return ""
    }
}

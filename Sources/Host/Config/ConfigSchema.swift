import Foundation

/// One configurable key: how its text (from YAML, the environment or a flag) lands in a
/// `Configuration`, and how it is shown by `config check --print`.
///
/// Every layer hands over text, so a value parses the same way whether it came from YAML or from
/// `SPEAKERBRIDGE_MQTT_PORT=1884`.
struct ConfigSetting: Sendable {
    let key: String
    /// Returns why the text was rejected, or nil once it has been stored.
    let apply: @Sendable (String, inout Configuration) -> String?
    /// nil for keys that only feed another one (password_file fills mqtt.password).
    let show: (@Sendable (Configuration) -> String)?

    var environmentName: String {
        "SPEAKERBRIDGE_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// Keys that exist only to be refused or shown, never offered as a did-you-mean.
    static let unsuggested: Set<String> = ["mqtt.password", "admin.token"]

    /// Keys whose YAML value may be a list; its items arrive joined by commas.
    static let listKeys: Set<String> = ["mqtt.brokers", "mqtt.response_topics"]

    /// Shorter admin tokens are refused: the status page's token is what stands between the
    /// network and the speakers, and is guessed at over HTTP.
    static let minimumAdminTokenLength = 16

    static let secretsMessage = "secrets are not read from the config file; use mqtt.password_file "
        + "or the SPEAKERBRIDGE_MQTT_PASSWORD environment variable"

    static let all: [ConfigSetting] = [
        text("base_topic", \.baseTopic, check: topicProblem),
        text("state_dir", \.stateDirectory),
        choice("log_level", \.logLevel),
        optionalText("mqtt.host", \.mqtt.host),
        int("mqtt.port", \.mqtt.port, 1...65535),
        ConfigSetting(key: "mqtt.brokers", apply: { text, config in
            switch BrokerAddress.parseList(text) {
            case .success(let list): config.mqtt.brokers = list
            case .failure(let error): return error.description
            }
            return nil
        }, show: { $0.mqtt.brokers.isEmpty ? unset : $0.mqtt.brokers.map(\.description).joined(separator: ",") }),
        ConfigSetting(key: "mqtt.protocol", apply: { text, config in
            if text.lowercased() == "auto" {
                config.mqtt.protocolChoice = .auto
                return nil
            }
            guard let version = protocolVersion(text) else {
                return "must be auto, 5 or 3.1.1 (also v5, mqttv5, v311, mqttv311), got \(quoted(text))"
            }
            config.mqtt.protocolChoice = version == .v5 ? .v5 : .v311
            return nil
        }, show: { $0.mqtt.protocolChoice.rawValue }),
        int("mqtt.heartbeat", \.mqtt.heartbeat, 0...86_400),
        int("mqtt.keepalive", \.mqtt.keepalive, 5...65535),
        int("mqtt.session_expiry", \.mqtt.sessionExpiry, 0...4_294_967_295),
        optionalText("mqtt.client_id", \.mqtt.clientID),
        optionalText("mqtt.username", \.mqtt.username),
        ConfigSetting(key: "mqtt.password_file", apply: { path, config in
            if let problem = unreadableFileProblem(path) { return problem }
            guard let contents = try? String(contentsOfFile: path, encoding: .utf8) else {
                return "cannot read \(path) as UTF-8 text"
            }
            // Editors and `echo` add a final newline that is never part of the password.
            var password = Substring(contents)
            while let last = password.last, last == "\n" || last == "\r" || last == "\r\n" { password.removeLast() }
            guard !password.isEmpty else { return "file is empty: \(path)" }
            config.mqtt.password = Secret(String(password))
            return nil
        }, show: nil),
        ConfigSetting(key: "mqtt.password", apply: { text, config in
            config.mqtt.password = Secret(text)
            return nil
        }, show: { $0.mqtt.password == nil ? unset : "<redacted>" }),
        optionalText("mqtt.bind_address", \.mqtt.bindAddress),
        int("mqtt.max_payload", \.mqtt.maxPayload, 1024...268_435_455),
        ConfigSetting(key: "mqtt.response_topics", apply: { text, config in
            let filters = text.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
            for filter in filters {
                if let problem = TopicFilter.problem(filter) { return "\(quoted(filter)) \(problem)" }
            }
            config.mqtt.responseTopics = filters
            return nil
        }, show: { $0.mqtt.responseTopics.isEmpty ? unset : $0.mqtt.responseTopics.joined(separator: ",") }),
        bool("mqtt.tls.enabled", \.mqtt.tls.enabled),
        optionalText("mqtt.tls.ca_file", \.mqtt.tls.caFile),
        optionalText("mqtt.tls.cert_file", \.mqtt.tls.certFile),
        optionalText("mqtt.tls.key_file", \.mqtt.tls.keyFile),
        bool("mqtt.tls.insecure", \.mqtt.tls.insecure),
        seconds("mqtt.reconnect.min_delay", \.mqtt.reconnect.minDelay),
        seconds("mqtt.reconnect.max_delay", \.mqtt.reconnect.maxDelay),
        seconds("mqtt.reconnect.stable_after", \.mqtt.reconnect.stableAfter),
        seconds("mqtt.reconnect.connect_timeout", \.mqtt.reconnect.connectTimeout),
        int("mqtt.twin.threshold", \.mqtt.twin.threshold, 1...100),
        seconds("mqtt.twin.window", \.mqtt.twin.window),
        int("embedded_broker.port", \.embeddedBroker.port, 1...65535),
        text("embedded_broker.executable", \.embeddedBroker.executable),
        bool("embedded_broker.allow_anonymous", \.embeddedBroker.allowAnonymous),
        choice("journal.durability", \.journal.durability),
        seconds("journal.dedup_window", \.journal.dedupWindow),
        int("journal.max_attempts", \.journal.maxAttempts, 1...100),
        int("journal.max_pending", \.journal.maxPending, 10...10_000_000),
        int("outbound.max_messages", \.outbound.maxMessages, 10...10_000_000),
        optionalText("plugins.path", \.plugins.path),
        seconds("plugins.call_timeout", \.plugins.callTimeout),
        seconds("plugins.operation_timeout", \.plugins.operationTimeout),
        seconds("plugins.watch_interval", \.plugins.watchInterval),
        bool("plugins.watch", \.plugins.watch),
        choice("plugins.isolation", \.plugins.isolation),
        ConfigSetting(key: "plugins.isolation_overrides", apply: { text, config in
            // NAME=MODE,… by file name without .so: the name a plugin has before its code runs.
            var overrides: [String: PluginIsolation] = [:]
            for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
                let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, !parts[0].isEmpty else { return "must be NAME=MODE,… (the plugin's file name without .so), got \(quoted(item))" }
                guard let mode = PluginIsolation(rawValue: parts[1].lowercased()) else {
                    return "\(quoted(parts[0])): the mode must be process or inline, got \(quoted(parts[1]))"
                }
                overrides[parts[0]] = mode
            }
            config.plugins.isolationOverrides = overrides
            return nil
        }, show: { c in c.plugins.isolationOverrides.isEmpty ? unset : c.plugins.isolationOverrides.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.rawValue)" }.joined(separator: ",") }),
        int("plugins.memory_limit_mb", \.plugins.memoryLimitMB, 64...1 << 20),
        int("plugins.open_files_limit", \.plugins.openFilesLimit, 16...1 << 20),
        ConfigSetting(key: "media.bind", apply: { text, config in
            // "" is a value: the address of network.interface, plus 127.0.0.1.
            let address = text.trimmingCharacters(in: .whitespaces)
            if address.contains("\0") { return "must not contain NUL characters" }
            config.media.bind = address
            return nil
        }, show: { $0.media.bind.isEmpty ? unset : $0.media.bind }),
        int("media.port", \.media.port, 0...65535),
        optionalText("media.advertise", \.media.advertise),
        int("media.max_bytes", \.media.maxBytes, 1 << 20...1 << 34),
        int("media.max_connections", \.media.maxConnections, 4...65536),
        int("media.max_connections_per_host", \.media.maxConnectionsPerHost, 1...65536),
        seconds("media.idle_timeout", \.media.idleTimeout),
        seconds("media.header_timeout", \.media.headerTimeout),
        int("media.max_callback_requests", \.media.maxCallbackRequests, 1...4096),
        int("announcements.max_queue", \.announcements.maxQueue, 1...100_000),
        bool("homeassistant.enabled", \.homeAssistant.enabled),
        text("homeassistant.discovery_prefix", \.homeAssistant.discoveryPrefix, check: topicProblem),
        seconds("homeassistant.remove_after", \.homeAssistant.removeAfter),
        ConfigSetting(key: "admin.bind", apply: { text, config in
            // "" is a value: no admin listener. An empty variable or flag reads as "not set", so
            // `off` says the same where "" cannot be written (SPEAKERBRIDGE_ADMIN_BIND=off).
            let address = text.trimmingCharacters(in: .whitespaces)
            if address.contains("\0") { return "must not contain NUL characters" }
            config.admin.bind = address.lowercased() == "off" ? "" : address
            return nil
        }, show: { $0.admin.bind.isEmpty ? "(off)" : $0.admin.bind }),
        int("admin.port", \.admin.port, 0...65535),
        ConfigSetting(key: "admin.token_file", apply: { path, config in
            if let problem = unreadableFileProblem(path) { return problem }
            guard let contents = try? String(contentsOfFile: path, encoding: .utf8) else {
                return "cannot read \(path) as UTF-8 text"
            }
            // A final newline (echo, editors) or stray spaces are never part of the token.
            let token = contents.trimmingCharacters(in: .whitespacesAndNewlines)
            guard token.count >= minimumAdminTokenLength else {
                // The length only: the value itself must not reach a log line.
                return "\(path) holds \(token.isEmpty ? "no token" : "a token of \(token.count) characters"); the admin "
                    + "token must be at least \(minimumAdminTokenLength) characters (for example: openssl rand -hex 24 > \(path))"
            }
            config.admin.tokenFile = path
            config.admin.token = Secret(token)
            return nil
        }, show: { $0.admin.tokenFile ?? unset }),
        // Only so that `config show` says whether a token is set; the token itself is read from
        // admin.token_file and never inline, where ps(1), a shell history or a shared file shows it.
        ConfigSetting(key: "admin.token", apply: { _, _ in
            "secrets are not read inline; put the token in a file readable only by the daemon and set admin.token_file to it"
        }, show: { $0.admin.token == nil ? unset : "<redacted>" }),
        ConfigSetting(key: "network.interface", apply: { text, config in
            // "" is a value here: the first multicast-capable interface. The interface itself is
            // looked up when a plugin opens a socket (interfaces come and go at run time).
            let name = text.trimmingCharacters(in: .whitespaces)
            if name.contains("\0") { return "must not contain NUL characters" }
            if name.utf8.count > 64 { return "must be an interface name or IPv4 address, got \(quoted(text))" }
            config.network.interface = name
            return nil
        }, show: { $0.network.interface.isEmpty ? unset : $0.network.interface }),
    ]

    static let byKey = Dictionary(uniqueKeysWithValues: all.map { ($0.key, $0) })
    static let byEnvironmentName = Dictionary(uniqueKeysWithValues: all.map { ($0.environmentName, $0.key) })
    /// Keys that hold a mapping of further keys ("mqtt", "mqtt.tls", ...).
    static let sections: Set<String> = Set(all.flatMap { setting in
        let parts = setting.key.split(separator: ".").dropLast()
        return parts.indices.map { parts[...$0].joined(separator: ".") }
    })

    /// The names directly under a section ("" is the top level), for did-you-mean and messages.
    static func children(of section: String) -> [String] {
        let prefix = section.isEmpty ? "" : section + "."
        var names: [String] = []
        for key in all.map(\.key) + sections.sorted() where key.hasPrefix(prefix) && !unsuggested.contains(key) {
            let name = String(key.dropFirst(prefix.count))
            if !name.contains("."), !names.contains(name) { names.append(name) }
        }
        return names
    }
}

// MARK: - Value kinds

extension ConfigSetting {
    private static let unset = "(not set)"

    private static func quoted(_ text: String) -> String { String(reflecting: text) }

    private static func formatSeconds(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    typealias Path<Value> = WritableKeyPath<Configuration, Value> & Sendable

    static func int(_ key: String, _ path: Path<Int>, _ range: ClosedRange<Int>) -> ConfigSetting {
        ConfigSetting(key: key, apply: { text, config in
            // YAML 1.1 allows 10_000; people copy that into environment variables too.
            guard let value = Int(text.replacingOccurrences(of: "_", with: "")), range.contains(value) else {
                return "must be a whole number from \(range.lowerBound) to \(range.upperBound), got \(quoted(text))"
            }
            config[keyPath: path] = value
            return nil
        }, show: { String($0[keyPath: path]) })
    }

    static func seconds(_ key: String, _ path: Path<Double>) -> ConfigSetting {
        ConfigSetting(key: key, apply: { text, config in
            guard let value = parseSeconds(text), value > 0, value.isFinite else {
                return "must be a positive number of seconds (like 30, 2.5, \"500ms\", \"2s\", \"1m\", \"1h\"), "
                    + "got \(quoted(text))"
            }
            config[keyPath: path] = value
            return nil
        }, show: { formatSeconds($0[keyPath: path]) })
    }

    static func bool(_ key: String, _ path: Path<Bool>) -> ConfigSetting {
        ConfigSetting(key: key, apply: { text, config in
            switch text.lowercased() {
            case "true", "yes", "on", "1": config[keyPath: path] = true
            case "false", "no", "off", "0": config[keyPath: path] = false
            default: return "must be true or false, got \(quoted(text))"
            }
            return nil
        }, show: { String($0[keyPath: path]) })
    }

    static func choice<E>(_ key: String, _ path: Path<E>) -> ConfigSetting
    where E: RawRepresentable & CaseIterable & Sendable, E.RawValue == String {
        ConfigSetting(key: key, apply: { text, config in
            guard let value = E(rawValue: text.lowercased()) else {
                let names = E.allCases.map(\.rawValue)
                let hint = closestName(to: text, among: names).map { "; did you mean \(quoted($0))?" } ?? ""
                return "must be one of \(names.joined(separator: ", ")), got \(quoted(text))\(hint)"
            }
            config[keyPath: path] = value
            return nil
        }, show: { $0[keyPath: path].rawValue })
    }

    static func text(
        _ key: String, _ path: Path<String>, check: @escaping @Sendable (String) -> String? = textProblem
    ) -> ConfigSetting {
        ConfigSetting(key: key, apply: { text, config in
            if let problem = check(text) { return problem }
            config[keyPath: path] = text
            return nil
        }, show: { $0[keyPath: path] })
    }

    static func optionalText(_ key: String, _ path: Path<String?>) -> ConfigSetting {
        ConfigSetting(key: key, apply: { text, config in
            if let problem = textProblem(text) { return problem }
            config[keyPath: path] = text
            return nil
        }, show: { $0[keyPath: path] ?? unset })
    }
}

// MARK: - Parsers and checks

extension ConfigSetting {
    @Sendable static func textProblem(_ text: String) -> String? {
        if text.isEmpty { return "must not be empty" }
        if text.contains("\0") { return "must not contain NUL characters" }
        if text.utf8.count > 65535 { return "must be at most 65535 bytes long" }
        return nil
    }

    @Sendable static func topicProblem(_ topic: String) -> String? {
        if let problem = textProblem(topic) { return problem }
        // The base topic is a prefix we append to and subscribe under, so wildcards and empty levels
        // at its ends would change which topics match.
        if topic.contains("+") || topic.contains("#") || topic.hasPrefix("/") || topic.hasSuffix("/") {
            return "must be an MQTT topic without '+', '#' or a leading or trailing '/', got \(quoted(topic))"
        }
        return nil
    }

    static func protocolVersion(_ text: String) -> Configuration.ProtocolVersion? {
        var spelled = Substring(text.lowercased())
        if spelled.hasPrefix("mqtt") { spelled = spelled.dropFirst(4) }
        if spelled.hasPrefix("v") { spelled = spelled.dropFirst() }
        switch spelled.replacingOccurrences(of: ".", with: "") {
        case "5", "50": return .v5
        case "311": return .v311
        default: return nil
        }
    }

    /// "30", "2.5", "500ms", "2s", "1m", "1h", "1d" -> seconds.
    static func parseSeconds(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
            return Double(number).map { $0 * scale }
        }
        return Double(trimmed)
    }

    /// Returns the existence/readability problem for a file the daemon will open later, so a typo in a
    /// path fails `config check` instead of the first TLS handshake.
    static func unreadableFileProblem(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return "file not found: \(path)"
        }
        if isDirectory.boolValue { return "is a directory, not a file: \(path)" }
        if !FileManager.default.isReadableFile(atPath: path) { return "file is not readable: \(path)" }
        return nil
    }

    /// The candidate closest to `name` when it is plausibly a typo; case, '_' and '-' are ignored so
    /// `keepAlive` and `keep-alive` find `keepalive`.
    static func closestName(to name: String, among candidates: [String]) -> String? {
        func normalized(_ s: String) -> [Character] { Array(s.lowercased().filter { $0 != "_" && $0 != "-" }) }
        let target = normalized(name)
        let limit = target.count <= 3 ? 1 : target.count <= 8 ? 2 : 3
        let scored = candidates.map { ($0, editDistance(target, normalized($0))) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= limit else { return nil }
        return best.0
    }

    /// Optimal string alignment distance: Levenshtein plus adjacent transpositions ("hots" -> "host").
    private static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }
}

/// One thing wrong with the configuration, located precisely enough for an operator to fix it
/// without reading code: the YAML line, the environment variable, or the command-line flag.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    /// Dotted YAML key path ("mqtt.keepalive"), the environment variable name, or "" for the file
    /// as a whole (a syntax error, a top level that is not a mapping).
    public let key: String
    /// 1-based line in the YAML file when the problem comes from the file.
    public let line: Int?
    public let message: String
    let origin: Origin

    enum Origin: Sendable, Equatable {
        case file(String)
        case environment
        case flag
        case general
    }

    init(key: String, line: Int? = nil, message: String, origin: Origin) {
        self.key = key
        self.line = line
        self.message = message
        self.origin = origin
    }

    public var description: String {
        let subject = key.isEmpty ? "" : "\(key): "
        switch origin {
        case .file(let path):
            if let line { return "\(path):\(line): \(subject)\(message)" }
            return "\(subject)\(message)"
        case .environment: return "\(key) (environment): \(message)"
        case .flag: return "\(key) (command line): \(message)"
        case .general: return "\(subject)\(message)"
        }
    }
}

public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let problems: [ConfigProblem]
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

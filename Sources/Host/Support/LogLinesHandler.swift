import Foundation
import Logging

/// A log handler that keeps each line in `LogLines` (beside the stderr handler, through a
/// MultiplexLogHandler): the `log` request and the status page show what the log shows.
///
/// The message carries its metadata as StreamLogHandler writes it (`key=value` pairs sorted by
/// key, before the message), so a line reads the same on the page as in the journal.
public struct LogLinesHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    private let label: String
    private let lines: LogLines

    public init(label: String, lines: LogLines, level: Logger.Level = .info,
                metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.lines = lines
        self.logLevel = level
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let explicit = event.metadata { all.merge(explicit) { $1 } }
        if let error = event.error {
            all["error.message"] = "\(error)"
            all["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        let pairs = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let message = pairs.isEmpty ? event.message.description : pairs + " " + event.message.description
        lines.append(LogLines.Line(at: Date(), level: event.level, label: label, message: message))
    }
}

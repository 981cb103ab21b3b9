/// Why a speaker name found no speaker to play on. The texts are those of the MQTT answers.
public enum SpeakerLookupError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The drivers report no speaker at all.
    case noSpeakers
    /// These names match no speaker; `known` lists the speakers' names for the answer (empty: left out).
    case unknown(names: [String], known: [String])
    /// One speaker was asked for, and the name matches several.
    case ambiguous(name: String, matches: [SpeakerHandle])

    public var description: String {
        switch self {
        case .noSpeakers:
            return "no speakers are available: no speaker driver is loaded, or none found a speaker"
        case .unknown(let names, let known):
            let list = names.map { "'\($0)'" }.joined(separator: ", ")
            return "unknown speaker \(list)" + (known.isEmpty ? "" : "; known speakers: \(known.joined(separator: ", "))")
        case .ambiguous(let name, let matches):
            let list = matches.map { "\($0.speaker.name) [\($0.speaker.id)]" }.joined(separator: ", ")
            return "'\(name)' names \(matches.count) speakers (\(list)); name one by its id"
        }
    }
}

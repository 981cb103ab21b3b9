import Foundation

/// `<base>/bridge/request/journal`: the dead letters (requests quarantined because the daemon kept
/// dying while processing them), listed, retried or dropped by an operator.
///
/// `{"action":"list"}` (the default), `{"action":"retry","id":…}`, `{"action":"drop","id":…}`; `id`
/// is a dead letter's `seq`, the request's own `id`/`transaction`, or `"all"`.
public struct JournalHandler: BridgeRequestHandler {
    public let name = "journal"
    public let isSlow = false
    let spool: Spool
    let intake: RequestIntake

    public init(spool: Spool, intake: RequestIntake) {
        self.spool = spool
        self.intake = intake
    }

    public func handle(_ request: BridgeRequest) async throws(BridgeRequestError) -> JSONValue {
        let action = request.fields["action"]?.stringValue ?? "list"
        for key in request.fields.keys where !["action", "id", "transaction"].contains(key) {
            throw BridgeRequestError("unknown field '\(key)'; the journal request takes action (list, retry, drop) and id")
        }
        switch action {
        case "list":
            return ["dead_letters": .array(spool.deadLetters.map(JournalHandler.describe))]
        case "retry", "drop":
            let letters = try select(request.fields["id"], action: action)
            var done: [JSONValue] = []
            for letter in letters {
                do {
                    if action == "retry" {
                        guard let again = try spool.retryDeadLetter(letter.request.seq) else { continue }
                        done.append(["seq": .number(Double(letter.request.seq)), "new_seq": .number(Double(again.seq))])
                    } else {
                        guard try spool.dropDeadLetter(letter.request.seq) else { continue }
                        done.append(["seq": .number(Double(letter.request.seq))])
                    }
                } catch {
                    throw BridgeRequestError("cannot record the \(action) of dead letter \(letter.request.seq): \(error)")
                }
            }
            if action == "retry", !done.isEmpty { intake.ring() }
            return [action == "retry" ? "retried" : "dropped": .array(done)]
        default:
            throw BridgeRequestError("unknown action '\(action)'; use list, retry or drop")
        }
    }

    private func select(_ id: JSONValue?, action: String) throws(BridgeRequestError) -> [DeadLetter] {
        let letters = spool.deadLetters
        let wanted: String
        switch id {
        case .number(let n): wanted = String(Int(n))
        case .string(let s): wanted = s
        default: throw BridgeRequestError("\(action) needs an id: a dead letter's seq, the request's own id, or \"all\"")
        }
        if wanted == "all" { return letters }
        let matches = letters.filter { String($0.request.seq) == wanted || JournalHandler.ownName($0.request) == wanted }
        guard !matches.isEmpty else {
            let known = letters.map { String($0.request.seq) }.joined(separator: ", ")
            throw BridgeRequestError("no dead letter '\(wanted)'; dead letters: \(known.isEmpty ? "none" : known)")
        }
        return matches
    }

    static func ownName(_ request: InboundRequest) -> String? { RequestKey.ownValue(ofKey: request.key) }

    static func describe(_ letter: DeadLetter) -> JSONValue {
        let r = letter.request
        let preview = String(decoding: r.payload.prefix(300), as: UTF8.self) + (r.payload.count > 300 ? "…" : "")
        return [
            "seq": .number(Double(r.seq)),
            "id": .optional(ownName(r)),
            "topic": .string(r.topic),
            "payload": .string(preview),
            "payload_bytes": .number(Double(r.payload.count)),
            "received_at": .timestamp(Date(timeIntervalSince1970: r.receivedAt)),
            "quarantined_at": .timestamp(Date(timeIntervalSince1970: letter.quarantinedAt)),
            "unclean_exits": .number(Double(letter.uncleanExits)),
        ]
    }
}

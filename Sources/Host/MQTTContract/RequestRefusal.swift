/// The answer to a request the bridge will not process (too large, an over-long id, a full
/// journal, quarantined after crashing the daemon), in the shape its route expects: a `failed`
/// announcement event, or an error envelope on the request's response topic.
///
/// The payload is never parsed as a whole here: it may be huge, or the very thing that crashed the
/// daemon. Only the top-level `id`/`transaction` is picked out, when it is short enough to echo.
struct RequestRefusal: Sendable {
    let topics: Topics
    let responses: ResponseTopicPolicy

    func messages<C: RandomAccessCollection<UInt8>>(
        route: Topics.Route, payload: C, responseTopic: String?, correlationData: [UInt8]?, reason: String
    ) -> [OutboundMessage] where C.Index == Int {
        let name = RequestKey.ownName(route: route, payload: payload).flatMap {
            $0.value.utf8.count <= RequestKey.maxNameBytes ? $0.value : nil
        }
        switch route {
        case .speak(let speaker):
            return [AnnouncementEvent(id: name, state: .failed, speakers: speaker.map { [$0] } ?? [], reason: reason).message(topics)]
        case .bridgeRequest(let request):
            let body = Envelope.error(reason, transaction: name.map { .string($0) })
            return [Envelope.reply(body, responseTopic: responseTopic, correlationData: correlationData,
                                   defaultTopic: topics.response(request), policy: responses)]
        case .speakerCommand(let speaker):
            let body = Envelope.error(reason, transaction: name.map { .string($0) })
            return [Envelope.reply(body, responseTopic: responseTopic, correlationData: correlationData,
                                   defaultTopic: topics.setResponse(speaker), policy: responses)]
        case .unknown:
            return []
        }
    }
}

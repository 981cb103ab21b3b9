/// Unfinished announcements: `speak` requests still in the journal (queued, synthesising or
/// playing). A request leaves the journal with its final event, so this is what is left to say.
enum PendingAnnouncements {
    static func count(in spool: Spool, topics: Topics) -> Int {
        var count = 0
        var after: UInt64 = 0
        while true {
            let page = spool.pendingRequests(after: after, limit: 256)
            for request in page {
                if case .speak = topics.route(request.topic) { count += 1 }
            }
            guard let last = page.last, page.count == 256 else { return count }
            after = last.seq
        }
    }
}

import Foundation

/// urn:schemas-upnp-org:service:ContentDirectory:1 — /MediaServer/ContentDirectory/Control.
/// Browse of the household's Sonos favorites (FV:2) and Sonos playlists (SQ:), in the DIDL-Lite
/// shape Sonos returns them (node-sonos-ts content-directory-service.md: Browse takes ObjectID,
/// BrowseFlag, Filter, StartingIndex, RequestedCount — 0 for all — and SortCriteria, and answers
/// Result, NumberReturned, TotalMatches, UpdateID; 701 "No such object").
enum ContentDirectoryService {
    static func call(_ action: String, _ a: ActionArgs, player i: Int, model m: inout HouseholdModel) throws -> [(String, String)] {
        guard action == "Browse" else { throw UPnPError(401) }
        let object = try a.string("ObjectID")
        guard try a.string("BrowseFlag") == "BrowseDirectChildren" else { throw UPnPError(402) }
        _ = try a.string("Filter")
        _ = try a.string("SortCriteria")
        let start = try a.int("StartingIndex", in: 0...Int(Int32.max))
        let count = try a.int("RequestedCount", in: 0...Int(Int32.max))
        let entries: [String]
        switch object {
        case "FV:2": entries = m.library.favorites.enumerated().map { favorite($0.element, number: $0.offset + 1) }
        case "SQ:": entries = m.library.playlists.map(playlist)
        default: throw UPnPError(701)
        }
        let page = entries.dropFirst(start).prefix(count == 0 ? entries.count : count)
        return [("Result", didlLite(page.joined())), ("NumberReturned", String(page.count)),
                ("TotalMatches", String(entries.count)), ("UpdateID", String(m.library.updateID))]
    }

    static func didlLite(_ body: String) -> String {
        "<DIDL-Lite xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:upnp=\"urn:schemas-upnp-org:metadata-1-0/upnp/\" "
            + "xmlns:r=\"urn:schemas-rinconnetworks-com:metadata-1-0/\" xmlns=\"urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/\">"
            + body + "</DIDL-Lite>"
    }

    static func favorite(_ f: FakeSonosFavorite, number: Int) -> String {
        "<item id=\"FV:2/\(number)\" parentID=\"FV:2\" restricted=\"false\"><dc:title>\(xmlEscape(f.title))</dc:title>"
            + "<upnp:class>object.itemobject.item.sonos-favorite</upnp:class><r:ordinal>\(number - 1)</r:ordinal>"
            + "<res protocolInfo=\"\(f.isContainer ? "x-rincon-cpcontainer" : "x-sonosapi-stream"):*:*:*\">\(xmlEscape(f.uri))</res>"
            + "<r:type>\(f.isContainer ? "shortcut" : "instantPlay")</r:type><r:description>Favorite</r:description>"
            + "<r:resMD>\(xmlEscape(f.metadata))</r:resMD></item>"
    }

    static func playlist(_ p: FakeSonosPlaylist) -> String {
        "<container id=\"SQ:\(p.id)\" parentID=\"SQ:\" restricted=\"true\"><dc:title>\(xmlEscape(p.title))</dc:title>"
            + "<res protocolInfo=\"file:*:audio/mpegurl:*\">\(xmlEscape(p.uri))</res>"
            + "<upnp:class>object.container.playlistContainer</upnp:class></container>"
    }
}

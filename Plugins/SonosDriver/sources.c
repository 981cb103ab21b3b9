/* Sources before an announcement: their kind and the metadata to play them again.
 *
 * Why metadata is rebuilt: a Sonos player reports a TuneIn or other service stream
 * (`x-sonosapi-stream:`) with an item id of -1, and refuses that same metadata with UPnP error 402
 * when it is sent back. It needs the item id, parent and the service's `cdudn` descriptor a
 * controller sends: svrooij/node-sonos-ts does the same in RestoreState (MetadataHelper.GuessTrack
 * when the stored ItemId is -1); the TuneIn form (`F00092020<station>`, parent `L`,
 * `SA_RINCON65031_`) is the one jishi/node-sonos-http-api's tunein action sends; a service's
 * descriptor is `SA_RINCON<sid × 256 + 7>_` (SoCo's music service types: TuneIn, sid 254, is
 * 65031). */
#define _POSIX_C_SOURCE 200809L

#include "sources.h"
#include "xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = { "none", "queue", "stream", "line_in", "tv", "group", "cloud_queue", "airplay",
                                     "file" };

const char *sn_source_name(sn_source_kind kind)
{
    return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind] : "none";
}

static bool starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* Radio kinds whose metadata the player needs in full to play them again. */
static bool service_stream(const char *uri)
{
    return starts(uri, "x-sonosapi-stream:") || starts(uri, "x-sonosapi-radio:") || starts(uri, "x-sonosapi-hls:") ||
           starts(uri, "x-rincon-mp3radio:");
}

sn_source_kind sn_source_classify(const char *uri, const char *metadata)
{
    if (uri == NULL || uri[0] == '\0') return SN_SRC_NONE;
    if (starts(uri, "x-rincon-queue:")) {
        /* `#0` is the room's own queue; Alexa and Spotify Connect put theirs under other numbers
         * (Home Assistant's sonos integration and node-sonos-ts treat only #0 as the local queue). */
        const char *hash = strrchr(uri, '#');
        return hash == NULL || strcmp(hash, "#0") == 0 ? SN_SRC_QUEUE : SN_SRC_CLOUD;
    }
    if (starts(uri, "x-rincon-stream:")) return SN_SRC_LINE_IN;
    if (starts(uri, "x-sonos-htastream:")) return SN_SRC_TV;
    if (starts(uri, "x-rincon:")) return SN_SRC_GROUP;
    if (starts(uri, "x-sonos-vli:")) {
        /* Cloud-controlled sessions: the app that started them owns the queue. */
        return strstr(uri, "airplay") != NULL ? SN_SRC_AIRPLAY : SN_SRC_CLOUD;
    }
    if (starts(uri, "x-rincon-airplay:") || strstr(uri, "airplay:") != NULL) return SN_SRC_AIRPLAY;
    if (service_stream(uri) || starts(uri, "aac:") || starts(uri, "hls-radio:")) return SN_SRC_STREAM;
    /* A plain URL: a file when the metadata says it is a track, a stream (radio) otherwise. */
    if (metadata != NULL && strstr(metadata, "audioItem.audioBroadcast") != NULL) return SN_SRC_STREAM;
    return SN_SRC_FILE;
}

/* The value of `name` in the URI's query ("sid" in "…?sid=254&flags=8224"), or -1. */
static long query_number(const char *uri, const char *name)
{
    const char *q = strchr(uri, '?');
    size_t n = strlen(name);
    while (q != NULL) {
        q++;
        if (strncmp(q, name, n) == 0 && q[n] == '=') return strtol(q + n + 1, NULL, 10);
        q = strpbrk(q, "&");
    }
    return -1;
}

bool sn_source_restore_metadata(const char *uri, const char *player_metadata, sn_text *out)
{
    char err[160];
    const char *meta = player_metadata != NULL ? player_metadata : "";
    sn_xml_node *root = meta[0] != '\0' ? sn_xml_parse(meta, strlen(meta), err, sizeof err) : NULL;
    const sn_xml_node *item = root != NULL ? sn_xml_child(root, "item") : NULL;
    const char *id = sn_xml_attr_value(item, "id");
    bool usable = id != NULL && id[0] != '\0' && strcmp(id, "-1") != 0;
    if (!service_stream(uri) || usable) {
        sn_text_puts(out, meta);
        sn_xml_free(root);
        return false;
    }
    const char *title = sn_xml_child_text(item, "title");
    size_t title_len = 0;
    const char *trimmed = sn_trimmed(title, &title_len);
    char *name = title_len > 0 ? sn_strndup(trimmed, title_len) : NULL;

    /* The station or item: what follows the scheme, up to the query. */
    const char *colon = strchr(uri, ':');
    const char *start = colon != NULL ? colon + 1 : uri;
    size_t station_len = strcspn(start, "?");
    long sid = query_number(uri, "sid");

    sn_text_puts(out, "<DIDL-Lite xmlns:dc=\"http://purl.org/dc/elements/1.1/\" "
                      "xmlns:upnp=\"urn:schemas-upnp-org:metadata-1-0/upnp/\" "
                      "xmlns:r=\"urn:schemas-rinconnetworks-com:metadata-1-0/\" "
                      "xmlns=\"urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/\"><item id=\"");
    if (starts(uri, "x-rincon-mp3radio:")) {
        /* A plain internet radio URL: the fixed ids controllers use for it. */
        sn_text_puts(out, "R:0/0/0\" parentID=\"R:0/0");
    } else {
        char *station = sn_strndup(start, station_len);
        sn_text_puts(out, starts(uri, "x-sonosapi-radio:") ? "100c206c" : "F00092020");
        sn_text_xml_escaped(out, station);
        sn_text_puts(out, starts(uri, "x-sonosapi-radio:") ? "\" parentID=\"-1" : "\" parentID=\"L");
        free(station);
    }
    sn_text_puts(out, "\" restricted=\"true\"><dc:title>");
    sn_text_xml_escaped(out, name != NULL ? name : "Radio");
    sn_text_puts(out, "</dc:title><upnp:class>object.item.audioItem.audioBroadcast</upnp:class>"
                      "<desc id=\"cdudn\" nameSpace=\"urn:schemas-rinconnetworks-com:metadata-1-0/\">");
    if (sid > 0 && sid < 8000000) sn_text_printf(out, "SA_RINCON%ld_", sid * 256 + 7);
    else sn_text_puts(out, "SA_RINCON65031_");
    sn_text_puts(out, "</desc></item></DIDL-Lite>");
    free(name);
    sn_xml_free(root);
    return true;
}

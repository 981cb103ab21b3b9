/* What a speaker was playing before an announcement, seen from its transport URI: which kind of
 * source it is (and so how it comes back), and the metadata a real player accepts to play it
 * again. Pure functions: no host, no speaker record. */
#ifndef SONOS_SOURCES_H
#define SONOS_SOURCES_H

#include "text.h"

typedef enum {
    SN_SRC_NONE, SN_SRC_QUEUE, SN_SRC_STREAM, SN_SRC_LINE_IN, SN_SRC_TV, SN_SRC_GROUP, SN_SRC_CLOUD, SN_SRC_AIRPLAY,
    SN_SRC_FILE
} sn_source_kind;

/* "none", "queue", "stream", "line_in", "tv", "group", "cloud_queue", "airplay", "file". */
const char *sn_source_name(sn_source_kind kind);

/* The kind of `uri` (`metadata` may be NULL): a local queue is `x-rincon-queue:<uuid>#0`; any
 * other queue number is a cloud queue (Alexa, Spotify Connect) that UPnP cannot give back. */
sn_source_kind sn_source_classify(const char *uri, const char *metadata);

/* The CurrentURIMetaData to send with SetAVTransportURI(`uri`) when restoring. The player's own
 * metadata when it names a real item; for a radio stream whose item id is -1 (or that came without
 * any) a DIDL-Lite item rebuilt from the URI, keeping the player's title. Appends to `out`;
 * returns true when it rebuilt the metadata. */
bool sn_source_restore_metadata(const char *uri, const char *player_metadata, sn_text *out);

#endif

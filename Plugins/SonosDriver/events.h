/* GENA event bodies (UPnP DA §4.3): an <e:propertyset> of <e:property> elements. AVTransport and
 * RenderingControl put everything into one LastChange property whose value is another XML
 * document (<Event><InstanceID val="0"><TransportState val="PLAYING"/>…). */
#ifndef SONOS_EVENTS_H
#define SONOS_EVENTS_H

#include <stddef.h>

typedef void (*sn_event_value_fn)(void *user, const char *name, const char *value);
typedef void (*sn_lastchange_fn)(void *user, const char *name, const char *channel, const char *value);

/* Calls `each` for every variable of the property set. 0, or -1 with a reason. */
int sn_event_properties(const void *body, size_t size, sn_event_value_fn each, void *user, char *err,
                        size_t err_size);
/* Calls `each` for every variable of InstanceID 0 in a LastChange document (`channel` is the
 * Channel attribute, e.g. "Master", or NULL). 0, or -1 with a reason. */
int sn_lastchange_values(const char *xml, size_t size, sn_lastchange_fn each, void *user, char *err,
                         size_t err_size);

/* The interesting parts of DIDL-Lite metadata (CurrentTrackMetaData, AVTransportURIMetaData). */
typedef struct sn_didl_item {
    char title[256];
    char artist[256]; /* dc:creator */
    char album[256];
    char upnp_class[128];
    char stream_content[256]; /* r:streamContent (radio "now playing"), Sonos */
    char album_art[512];      /* upnp:albumArtURI as given (Sonos: a path, "/getaa?s=1&u=…") */
} sn_didl_item;

/* 0 (fields missing are "") or -1 when the text is not DIDL-Lite XML. */
int sn_didl_parse(const char *xml, size_t size, sn_didl_item *out);

#endif

/* SSDP (UPnP Device Architecture 1.1 §1): M-SEARCH requests we send and the answers and
 * NOTIFY announcements we read. Everything received is untrusted: a message is bounded,
 * its headers are checked, and a LOCATION must be a plain http:// URL. */
#ifndef SONOS_SSDP_H
#define SONOS_SSDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SN_SSDP_GROUP "239.255.255.250"
#define SN_SSDP_PORT 1900
#define SN_SSDP_MAX_MESSAGE 8192
#define SN_ST_ZONEPLAYER "urn:schemas-upnp-org:device:ZonePlayer:1"
#define SN_ST_MEDIARENDERER "urn:schemas-upnp-org:device:MediaRenderer:1"

typedef struct sn_ssdp_message {
    bool is_response;    /* "HTTP/1.1 200 OK" answer to an M-SEARCH; false: "NOTIFY * HTTP/1.1" */
    bool byebye;         /* NOTIFY with NTS: ssdp:byebye (LOCATION may then be empty) */
    char location[512];
    char target[256];    /* ST (answers) or NT (NOTIFY) */
    char usn[256];
    char uuid[128];      /* from USN "uuid:<this>[::…]", without "uuid:" */
    char household[128]; /* X-RINCON-HOUSEHOLD (Sonos), "" when absent */
    char server[256];
    uint32_t max_age;    /* CACHE-CONTROL max-age seconds, 1800 when absent */
} sn_ssdp_message;

/* 0 and `out` filled, or -1 with a reason: too large, not SSDP, M-SEARCH (someone else's
 * request, not for us), missing USN/uuid, LOCATION missing or not http:// (except byebye). */
int sn_ssdp_parse(const void *data, size_t size, sn_ssdp_message *out, char *err, size_t err_size);
/* Writes an M-SEARCH for `target` with MX `mx` seconds; returns its length (0 if it did not fit). */
size_t sn_ssdp_msearch(char *out, size_t out_size, const char *target, int mx);

#endif

/* http:// URLs as UPnP uses them: descriptions, control and event URLs, callbacks. */
#ifndef SONOS_URL_H
#define SONOS_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sn_url {
    char host[256]; /* IPv4 address or name, no brackets */
    uint16_t port;  /* 80 when absent */
    char path[1024]; /* "/..." including any query; "/" when absent */
} sn_url;

/* Only "http://host[:port][/path]" (case-insensitive scheme). False on anything else,
 * on a port outside 1..65535, or on parts that do not fit. */
bool sn_url_parse(const char *url, sn_url *out);
/* Resolves `ref` against `base` (RFC 3986 for the forms devices use: absolute "http://…",
 * absolute path "/x", relative path "x" against the base's directory). Allocated; NULL when
 * `base` is not a valid URL or on allocation failure. */
char *sn_url_resolve(const char *base, const char *ref);

#endif

/*
 * Host service: HTTP callback routes on the daemon's own server.
 * Part of the speakerbridge plugin ABI; plugins include speakerbridge_plugin.h.
 */
#ifndef SPEAKERBRIDGE_HOST_ROUTES_H
#define SPEAKERBRIDGE_HOST_ROUTES_H

#include "../core.h"
#include "http.h"

#ifdef __cplusplus
extern "C" {
#endif

/* HTTP callback routes on the daemon's own server (UPnP GENA NOTIFY). Offered when the daemon
 * runs its HTTP (media) server. A route answers every method at
 *     http://<host>:<port>/plugin/<plugin id>/<path>
 * (host and port as in clip URLs: `media.advertise` or the address speakers reach). Paths match
 * exactly, as raw bytes; the query is not part of the match. Unknown paths answer 404.
 * Unloading an instance removes its routes. Hot reload: a newer generation that adds the same path
 * takes it over, so callback URLs (and the speakers' GENA subscriptions) stay valid; add your
 * paths again in `load` or `create`. */
#define SB_HOST_EXT_ROUTES "speakerbridge.host.routes/1"
/* `path` is the path as added (without a leading "/"), plus "?query" when the request had one.
 * Header names are lower-case. The body is at most 256 KiB (a bigger one is answered 413 without
 * calling the plugin). */
typedef struct sb_route_request {
    uint32_t struct_size;
    const char *method;
    const char *path;
    const sb_http_header *headers;
    size_t header_count;
    const void *body;
    size_t body_size;
    /* [since 1.2] The IP address the request came from ("192.168.1.30"), so a plugin can accept a
     * callback only from the device it expects. */
    const char *remote_address;
} sb_route_request;
/* Returns the HTTP status to answer with (200, 412 …); the answer has an empty body. A status
 * outside 200…599 is answered 500. Runs on the instance's executor; `request` lives for the call.
 * A request the executor has not answered within 5 s is answered 503 (if it had not started
 * yet, it is not called at all). */
typedef int32_t (*sb_route_fn)(void *user, const sb_route_request *request);
typedef struct sb_host_routes {
    uint32_t struct_size;
    /* [any-thread] Registers a path under the plugin's prefix and writes the absolute callback URL
     * (reachable from the speakers) into `url`. `path`: 1…200 of [A-Za-z0-9._~/-], no empty,
     * "." or ".." segments; one leading "/" is ignored. Adding a path this instance already has
     * replaces it (new id). Errors: SB_ERR_INVALID (bad path, `url` too small), SB_ERR_BUSY (a
     * newer generation of the plugin holds the path), SB_ERR_FAILED (the server is not
     * listening). */
    sb_status (*add)(const sb_host *host, const char *path, sb_route_fn fn, void *user, char *url,
                     size_t url_size, uint64_t *out_route_id);
    /* [any-thread] No effect on an unknown id, or on a route a newer generation took over. */
    void (*remove)(const sb_host *host, uint64_t route_id);
} sb_host_routes;

#ifdef __cplusplus
}
#endif

#endif /* SPEAKERBRIDGE_HOST_ROUTES_H */

/*
 * Host service: a WebSocket client. [since 1.1]
 * Part of the speakerbridge plugin ABI; plugins include speakerbridge_plugin.h.
 */
#ifndef SPEAKERBRIDGE_HOST_WEBSOCKET_H
#define SPEAKERBRIDGE_HOST_WEBSOCKET_H

#include "../core.h"
#include "http.h"

#ifdef __cplusplus
extern "C" {
#endif

/* WebSocket client (RFC 6455), e.g. the Sonos local API for audio clips (wss://<ip>:1443/websocket/api).
 * ws:// and wss:// (TLS with SNI for host names; the certificate and the host name or IP are
 * verified unless SB_HTTP_TLS_NO_VERIFY). Text messages only: binary messages are ignored, pings
 * are answered by the host. At most 16 sockets per instance (a socket counts until its
 * SB_WS_CLOSED was delivered or the plugin closed it). Every socket of an instance is closed
 * (1001 "going away") when it is destroyed (unload, hot reload); no event follows then.
 * [since 1.1] */
#define SB_HOST_EXT_WEBSOCKET "speakerbridge.host.websocket/1"
#define SB_WS_OPEN   1 /* connected; `data` is the subprotocol the server chose ("" for none) */
#define SB_WS_TEXT   2 /* a text message; `data`/`size` is its UTF-8 payload (fragments reassembled) */
#define SB_WS_CLOSED 3 /* closed by either side or failed; `data` says why. Nothing follows. */
/* Called on the instance's executor, one event at a time and in order; `data` lives for the call
 * and is NUL-terminated (the NUL is not counted in `size`). SB_WS_CLOSED reasons read e.g.
 * "connection refused", "timed out after 10 s", "TLS handshake failed: …", "server refused the
 * upgrade: HTTP 403 Forbidden", "closed by the server (1000: bye)", "a message larger than
 * 1048576 bytes arrived", "the server closed the connection without a close frame".
 * While 64 messages wait for a busy executor the host stops reading the socket (the server is
 * held back by TCP) until the plugin catches up. */
typedef void (*sb_ws_event_fn)(void *user, uint64_t socket_id, int32_t event, const char *data, size_t size);
typedef struct sb_ws_request {
    uint32_t struct_size;
    const char *url;                 /* ws:// or wss:// */
    const sb_http_header *headers;   /* extra handshake headers (an API key …) */
    size_t header_count;
    const char *subprotocol;         /* Sec-WebSocket-Protocol to ask for, or NULL */
    uint32_t flags;                  /* SB_HTTP_TLS_NO_VERIFY */
    uint32_t timeout_ms;             /* for the connection and handshake together; 0: the host's
                                      * default (10 s) */
    size_t max_message_size;         /* larger incoming messages close the socket (1009);
                                      * 0: default (1 MiB); at most 16 MiB */
} sb_ws_request;
typedef struct sb_host_websocket {
    uint32_t struct_size;
    /* [any-thread] Starts connecting and returns at once; events follow through `event`:
     * SB_WS_OPEN then SB_WS_TEXT …, and always exactly one SB_WS_CLOSED at the end (also when
     * connecting fails), unless the plugin called `close` first. `*out_socket_id` is written
     * before any event for the socket can run. `headers` may not set Connection, Upgrade,
     * Sec-WebSocket-* (use `subprotocol`: one token or a comma-separated list); a Host header
     * replaces the host's. Errors (nothing started, no event follows): SB_ERR_INVALID (not a
     * ws:// or wss:// URL, a bad or reserved header), SB_ERR_BUSY (16 sockets open, or the
     * instance is being unloaded), SB_ERR_UNSUPPORTED (`speakerbridge plugin check`, which
     * connects nowhere). The reason goes to the daemon's log. */
    sb_status (*open)(const sb_host *host, const sb_ws_request *request, sb_ws_event_fn event, void *user,
                      uint64_t *out_socket_id);
    /* [any-thread] Queues a text message (valid UTF-8, at most 16 MiB) after SB_WS_OPEN and
     * returns at once; a write that fails later ends the socket with SB_WS_CLOSED.
     * SB_OK, SB_ERR_NOT_FOUND (unknown or closed id), SB_ERR_BUSY (not open yet, or 16 MiB not
     * yet written), SB_ERR_FAILED (the connection has ended: SB_WS_CLOSED is on its way),
     * SB_ERR_INVALID (not UTF-8, too big). */
    sb_status (*send_text)(const sb_host *host, uint64_t socket_id, const char *text, size_t size);
    /* [any-thread] Closes it (close frame 1000 when open). Once it returns, no event for the
     * socket starts, not even one already queued for the executor. Unknown ids are ignored. */
    void (*close)(const sb_host *host, uint64_t socket_id);
} sb_host_websocket;

#ifdef __cplusplus
}
#endif

#endif /* SPEAKERBRIDGE_HOST_WEBSOCKET_H */

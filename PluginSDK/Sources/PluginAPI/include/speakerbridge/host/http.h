/*
 * Host service: an asynchronous HTTP client (and the header pair other services share).
 * Part of the speakerbridge plugin ABI; plugins include speakerbridge_plugin.h.
 */
#ifndef SPEAKERBRIDGE_HOST_HTTP_H
#define SPEAKERBRIDGE_HOST_HTTP_H

#include "../core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A header of an HTTP request or response (also of callback routes and WebSocket handshakes). */
typedef struct sb_http_header {
    const char *name;
    const char *value;
} sb_http_header;

/* https:// to a device with a self-signed certificate (Sonos on port 1443): encrypt, but do not
 * verify the certificate. Only for devices on the local network that cannot have a real one.
 * [since 1.1] */
#define SB_HTTP_TLS_NO_VERIFY 0x1u

/* Asynchronous HTTP client with timeouts (UPnP SOAP, device descriptions). */
#define SB_HOST_EXT_HTTP "speakerbridge.host.http/1"
typedef struct sb_http_request {
    uint32_t struct_size;
    const char *method; /* "GET", "POST", "SUBSCRIBE", "NOTIFY" … */
    const char *url;
    const sb_http_header *headers;
    size_t header_count;
    const void *body;
    size_t body_size;
    uint32_t timeout_ms; /* 0: the host's default */
    size_t max_response_size; /* 0: the host's default cap */
    /* [since 1.1] SB_HTTP_* flags; the host reads it only when `struct_size` covers it. */
    uint32_t flags;
} sb_http_request;
typedef struct sb_http_response {
    uint32_t struct_size;
    sb_status status; /* SB_OK when an HTTP answer arrived (any code); else why not */
    int32_t http_status;
    const sb_http_header *headers;
    size_t header_count;
    const void *body;
    size_t body_size;
    const char *error; /* text when status != SB_OK */
} sb_http_response;
/* Called once, on the instance's executor; `response` lives for the call. */
typedef void (*sb_http_done_fn)(void *user, const sb_http_response *response);
typedef struct sb_host_http {
    uint32_t struct_size;
    /* [any-thread] Starts the request; `done` always follows exactly once (unless cancelled). */
    sb_status (*request)(const sb_host *host, const sb_http_request *request, sb_http_done_fn done,
                         void *user, uint64_t *out_request_id);
    /* [any-thread] `done` is not called for a cancelled request. */
    void (*cancel)(const sb_host *host, uint64_t request_id);
} sb_host_http;

#ifdef __cplusplus
}
#endif

#endif /* SPEAKERBRIDGE_HOST_HTTP_H */

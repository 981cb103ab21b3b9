/* Thin wrappers over the host services every module uses: a printf-style log, a monotonic clock,
 * timers, and HTTP requests tracked per instance so destroy can cancel what is still in flight. */
#ifndef SONOS_HOSTAPI_H
#define SONOS_HOSTAPI_H

#include <speakerbridge_plugin.h>
#include <speakerbridge/helpers/host.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* printf-style into the daemon's log (nothing when the host has no log service). */
#define sn_log(inst, level, ...) sbh_log((inst)->host, (inst)->log, (level), __VA_ARGS__)
uint64_t sn_now_ms(void);
/* 0 when the host refused (logged). */
uint64_t sn_timer_start(sb_instance *inst, uint32_t delay_ms, uint32_t period_ms, sb_timer_fn fn, void *user);
/* Cancels the timer if `*timer_id` is not 0, and zeroes it. */
void sn_timer_cancel(sb_instance *inst, uint64_t *timer_id);

/* One HTTP request the instance has in flight: kept in a list so destroy can cancel them. */
typedef struct sn_call sn_call;
typedef void (*sn_http_fn)(sb_instance *inst, void *ctx, const sb_http_response *response);
/* Starts an HTTP request; `done` runs once with the answer (or a failure in response->status).
 * Returns false when it could not start (then `done` does not run). When the request is
 * cancelled instead (destroy), `drop` (may be NULL) frees `ctx`. */
bool sn_http(sb_instance *inst, const char *method, const char *url, const sb_http_header *headers,
             size_t header_count, const char *body, size_t body_size, uint32_t timeout_ms,
             size_t max_size, sn_http_fn done, void *ctx, void (*drop)(void *ctx));
/* The same with SB_HTTP_* flags (SB_HTTP_TLS_NO_VERIFY for a player's self-signed https). */
bool sn_http_flags(sb_instance *inst, const char *method, const char *url, const sb_http_header *headers,
                   size_t header_count, const char *body, size_t body_size, uint32_t timeout_ms,
                   size_t max_size, uint32_t flags, sn_http_fn done, void *ctx, void (*drop)(void *ctx));
void sn_http_cancel_all(sb_instance *inst);
/* The value of header `name` (any case), or NULL. */
const char *sn_header(const sb_http_header *headers, size_t count, const char *name);

#endif

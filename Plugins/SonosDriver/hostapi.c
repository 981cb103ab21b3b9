/* Thin wrappers over the host services: timers that forget their ids, and HTTP requests tracked
 * per instance so destroy can cancel what is still in flight. (The log wrapper is the SDK's
 * sbh_log, see hostapi.h.) */
#define _POSIX_C_SOURCE 200809L

#include "hostapi.h"
#include "instance.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct sn_call {
    sb_instance *inst;
    uint64_t request_id;
    sn_http_fn done;
    void *ctx;
    void (*drop)(void *ctx);
    sn_call *next;
};

uint64_t sn_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t sn_timer_start(sb_instance *inst, uint32_t delay_ms, uint32_t period_ms, sb_timer_fn fn, void *user)
{
    uint64_t id = 0;
    if (inst->timers == NULL || inst->timers->start(inst->host, delay_ms, period_ms, fn, user, &id) != SB_OK) {
        sn_log(inst, SB_LOG_ERROR, "the host refused a timer");
        return 0;
    }
    return id;
}

void sn_timer_cancel(sb_instance *inst, uint64_t *timer_id)
{
    if (*timer_id != 0 && inst->timers != NULL) inst->timers->cancel(inst->host, *timer_id);
    *timer_id = 0;
}

static void unlink_call(sb_instance *inst, sn_call *call)
{
    for (sn_call **p = &inst->calls; *p != NULL; p = &(*p)->next) {
        if (*p == call) {
            *p = call->next;
            return;
        }
    }
}

static void call_done(void *user, const sb_http_response *response)
{
    sn_call *call = user;
    sb_instance *inst = call->inst;
    unlink_call(inst, call);
    sn_http_fn done = call->done;
    void *ctx = call->ctx;
    free(call);
    done(inst, ctx, response);
}

bool sn_http(sb_instance *inst, const char *method, const char *url, const sb_http_header *headers,
             size_t header_count, const char *body, size_t body_size, uint32_t timeout_ms,
             size_t max_size, sn_http_fn done, void *ctx, void (*drop)(void *ctx))
{
    return sn_http_flags(inst, method, url, headers, header_count, body, body_size, timeout_ms, max_size, 0, done,
                         ctx, drop);
}

bool sn_http_flags(sb_instance *inst, const char *method, const char *url, const sb_http_header *headers,
                   size_t header_count, const char *body, size_t body_size, uint32_t timeout_ms,
                   size_t max_size, uint32_t flags, sn_http_fn done, void *ctx, void (*drop)(void *ctx))
{
    if (inst->http == NULL) return false;
    sn_call *call = calloc(1, sizeof *call);
    if (call == NULL) return false;
    call->inst = inst;
    call->done = done;
    call->ctx = ctx;
    call->drop = drop;
    sb_http_request request = {
        .struct_size = sizeof request,
        .method = method,
        .url = url,
        .headers = headers,
        .header_count = header_count,
        .body = body,
        .body_size = body_size,
        .timeout_ms = timeout_ms,
        .max_response_size = max_size,
        /* A host older than the flags reads a shorter struct and ignores them: then https to a
         * self-signed player fails, and the caller treats that as "no such API". */
        .flags = flags,
    };
    /* Linked before the request starts: the answer can only arrive on our executor, after we
     * return, but the list must already know the call when it does. */
    call->next = inst->calls;
    inst->calls = call;
    if (inst->http->request(inst->host, &request, call_done, call, &call->request_id) != SB_OK) {
        unlink_call(inst, call);
        free(call);
        return false;
    }
    return true;
}

void sn_http_cancel_all(sb_instance *inst)
{
    while (inst->calls != NULL) {
        sn_call *call = inst->calls;
        inst->calls = call->next;
        inst->http->cancel(inst->host, call->request_id);
        if (call->drop != NULL) call->drop(call->ctx);
        free(call);
    }
}

const char *sn_header(const sb_http_header *headers, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++) {
        if (headers[i].name != NULL && strcasecmp(headers[i].name, name) == 0) return headers[i].value;
    }
    return NULL;
}

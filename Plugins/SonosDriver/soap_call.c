/* One SOAP action on one speaker, asynchronously, through the host's HTTP client. A request that
 * gets no answer at all makes the speaker UNREACHABLE on the hub (is it still there?); a UPnP
 * fault does not — the device answered, it just refused. */
#define _POSIX_C_SOURCE 200809L

#include "soap_call.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SOAP_RESPONSE_MAX (512u * 1024u)

typedef struct soap_ctx {
    sn_speaker *speaker;
    sn_service_kind kind;
    char action[64];
    sn_soap_fn done;
    void *ctx;
} soap_ctx;

static void soap_done(sb_instance *inst, void *user, const sb_http_response *response)
{
    soap_ctx *c = user;
    c->speaker->requests--;
    sn_soap_result result;
    memset(&result, 0, sizeof result);
    int ok = 0;
    if (response->status != SB_OK) {
        result.unanswered = true;
        snprintf(result.reason, sizeof result.reason, "%s %s: %s", sn_service_name(c->kind), c->action,
                 response->error != NULL ? response->error : "no answer");
        sn_lifecycle_emit(&inst->hub, inst, SN_EV_UNREACHABLE, c->speaker, result.reason);
    } else {
        c->speaker->last_seen_ms = sn_now_ms();
        ok = sn_soap_parse_response(response->http_status, response->body, response->body_size, c->action, &result) == 0;
        if (!ok) {
            char detail[sizeof result.reason];
            sn_copy(detail, sizeof detail, result.reason);
            sn_set_err(result.reason, sizeof result.reason, "%s: %s", c->action, detail);
        }
    }
    c->done(inst, c->ctx, ok, &result);
    sn_soap_result_free(&result);
    free(c);
}

bool sn_soap(sb_instance *inst, sn_speaker *s, sn_service_kind kind, const char *action,
             const char *const *args, sn_soap_fn done, void *ctx, char *err, size_t err_size)
{
    const sn_service *service = s->services[kind];
    if (service == NULL) {
        sn_set_err(err, err_size, "not supported by this device (%s has no %s service)", s->name, sn_service_name(kind));
        return false;
    }
    sn_text body = { 0 };
    sn_soap_envelope(&body, service->type, action, args);
    char soap_action[256];
    snprintf(soap_action, sizeof soap_action, "\"%s#%s\"", service->type, action);
    sb_http_header headers[] = {
        { "Content-Type", "text/xml; charset=\"utf-8\"" },
        { "SOAPACTION", soap_action },
    };
    soap_ctx *c = calloc(1, sizeof *c);
    bool started = false;
    if (c != NULL && !body.failed) {
        c->speaker = s;
        c->kind = kind;
        sn_copy(c->action, sizeof c->action, action);
        c->done = done;
        c->ctx = ctx;
        started = sn_http(inst, "POST", service->control_url, headers, 2, body.data, body.len,
                          inst->config.soap_timeout_ms, SOAP_RESPONSE_MAX, soap_done, c, free);
        if (started) s->requests++;
    }
    sn_text_free(&body);
    if (!started) {
        free(c);
        sn_set_err(err, err_size, "could not send %s to %s", action, s->name);
    }
    return started;
}

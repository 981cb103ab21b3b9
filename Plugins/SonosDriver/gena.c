/* GENA event subscriptions (UPnP DA §4): AVTransport, RenderingControl and, on Sonos,
 * ZoneGroupTopology. Events arrive as NOTIFY on a route of the daemon's HTTP server; a
 * subscription is renewed at half its lifetime and started again when a renewal is refused
 * (412) or the speaker moved. */
#define _POSIX_C_SOURCE 200809L

#include "gena.h"
#include "events.h"
#include "household.h"
#include "state.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RETRY_MS 30000u

static void subscribe(sn_subscription *sub, bool renew);

static void apply_lastchange(void *user, const char *name, const char *channel, const char *value)
{
    sn_subscription *sub = user;
    if (sub->kind == SN_AVT) sn_state_apply_avt(sub->inst, sub->speaker, name, value);
    else if (sub->kind == SN_RC) sn_state_apply_rc(sub->inst, sub->speaker, name, channel, value);
}

static void apply_property(void *user, const char *name, const char *value)
{
    sn_subscription *sub = user;
    char why[200];
    if (strcmp(name, "LastChange") == 0 && (sub->kind == SN_AVT || sub->kind == SN_RC)) {
        if (sn_lastchange_values(value, strlen(value), apply_lastchange, sub, why, sizeof why) != 0) {
            sn_log(sub->inst, SB_LOG_WARNING, "%s: a %s event was not readable: %s", sub->speaker->id,
                   sn_service_name(sub->kind), why);
        }
    } else if (strcmp(name, "ZoneGroupState") == 0 && sub->kind == SN_ZGT) {
        sn_household_apply_topology(sub->inst, value);
    }
}

static int32_t on_notify(void *user, const sb_route_request *request)
{
    sn_subscription *sub = user;
    sb_instance *inst = sub->inst;
    if (request->method == NULL || strcasecmp(request->method, "NOTIFY") != 0) return 405;
    const char *sid = sn_header(request->headers, request->header_count, "SID");
    const char *nts = sn_header(request->headers, request->header_count, "NTS");
    if (sid == NULL || nts == NULL || strcmp(nts, "upnp:propchange") != 0) return 400;
    /* The first event can overtake the answer to our SUBSCRIBE, so a pending subscription takes
     * it; otherwise an SID we do not hold is an old subscription: 412 tells the device to drop it. */
    if (strcmp(sid, sub->sid) != 0) {
        if (!sub->pending) return 412;
        sn_copy(sub->sid, sizeof sub->sid, sid);
    }
    char why[200];
    if (sn_event_properties(request->body, request->body_size, apply_property, sub, why, sizeof why) != 0) {
        sn_log(inst, SB_LOG_WARNING, "%s: unreadable %s event: %s", sub->speaker->id, sn_service_name(sub->kind), why);
        return 400;
    }
    sub->speaker->last_seen_ms = sn_now_ms();
    if (sub->kind == SN_AVT) sn_lifecycle_emit(&inst->hub, inst, SN_EV_TRANSPORT_CHANGED, sub->speaker, "event");
    sn_state_publish(inst, sub->speaker);
    return 200;
}

static void renew_tick(void *user, uint64_t timer_id)
{
    (void)timer_id;
    sn_subscription *sub = user;
    sub->renew_timer = 0;
    subscribe(sub, sub->sid[0] != '\0');
}

static void schedule(sn_subscription *sub, uint32_t delay_ms)
{
    sn_timer_cancel(sub->inst, &sub->renew_timer);
    sub->renew_timer = sn_timer_start(sub->inst, delay_ms, 0, renew_tick, sub);
}

static uint32_t parse_timeout(const char *value, uint32_t fallback)
{
    if (value == NULL) return fallback;
    if (strncasecmp(value, "Second-", 7) != 0) return fallback;
    if (strcasecmp(value + 7, "infinite") == 0) return 86400;
    long n = strtol(value + 7, NULL, 10);
    return n > 0 && n <= 7 * 86400 ? (uint32_t)n : fallback;
}

static void subscribe_done(sb_instance *inst, void *user, const sb_http_response *response)
{
    sn_subscription *sub = user;
    sub->pending = false;
    sn_speaker *s = sub->speaker;
    if (!s->online) return;
    if (response->status == SB_OK && response->http_status == 200) {
        const char *sid = sn_header(response->headers, response->header_count, "SID");
        if (sid != NULL) sn_copy(sub->sid, sizeof sub->sid, sid);
        uint32_t timeout = parse_timeout(sn_header(response->headers, response->header_count, "TIMEOUT"),
                                         inst->config.subscription_s);
        /* Renew at half the lifetime: one lost renewal still leaves time for another. */
        schedule(sub, timeout * 500u);
        s->last_seen_ms = sn_now_ms();
        return;
    }
    bool renewal = sub->sid[0] != '\0';
    sub->sid[0] = '\0';
    if (response->status == SB_OK) {
        sn_log(inst, SB_LOG_INFO, "%s: %s subscription %s answered HTTP %d", s->id, sn_service_name(sub->kind),
               renewal ? "renewal" : "request", (int)response->http_status);
        /* A refused renewal (412: the device forgot us, e.g. after a reboot): subscribe afresh now. */
        if (renewal) {
            subscribe(sub, false);
            return;
        }
    } else {
        sn_log(inst, SB_LOG_INFO, "%s: %s subscription failed: %s", s->id, sn_service_name(sub->kind),
               response->error != NULL ? response->error : "no answer");
        sn_lifecycle_emit(&inst->hub, inst, SN_EV_UNREACHABLE, s,
                          response->error != NULL ? response->error : "subscription failed");
    }
    schedule(sub, RETRY_MS);
}

static void subscribe(sn_subscription *sub, bool renew)
{
    sb_instance *inst = sub->inst;
    sn_speaker *s = sub->speaker;
    const sn_service *service = s->services[sub->kind];
    if (service == NULL || service->event_url[0] == '\0' || !s->online || sub->pending) return;
    char timeout[32];
    snprintf(timeout, sizeof timeout, "Second-%u", (unsigned)inst->config.subscription_s);
    char callback[560];
    sb_http_header headers[3];
    size_t count = 0;
    if (renew) {
        headers[count++] = (sb_http_header){ "SID", sub->sid };
    } else {
        snprintf(callback, sizeof callback, "<%s>", sub->callback);
        headers[count++] = (sb_http_header){ "CALLBACK", callback };
        headers[count++] = (sb_http_header){ "NT", "upnp:event" };
    }
    headers[count++] = (sb_http_header){ "TIMEOUT", timeout };
    sub->pending = !renew;
    sn_log(inst, SB_LOG_DEBUG, "%s: %s %s subscription", s->id, renew ? "renewing the" : "asking for a",
           sn_service_name(sub->kind));
    if (!sn_http(inst, "SUBSCRIBE", service->event_url, headers, count, NULL, 0, inst->config.soap_timeout_ms,
                 16384, subscribe_done, sub, NULL)) {
        sub->pending = false;
        schedule(sub, RETRY_MS);
    }
}

static bool ensure_route(sb_instance *inst, sn_speaker *s, sn_subscription *sub)
{
    if (sub->route_id != 0) return true;
    if (inst->routes == NULL) return false;
    static const char *const short_names[SN_SERVICE_COUNT] = { "avt", "rc", "grc", "zgt" };
    char path[256];
    snprintf(path, sizeof path, "gena/%s/%s", s->uuid, short_names[sub->kind]);
    if (inst->routes->add(inst->host, path, on_notify, sub, sub->callback, sizeof sub->callback, &sub->route_id) != SB_OK) {
        sn_log(inst, SB_LOG_ERROR, "%s: the host refused the event route %s", s->id, path);
        sub->route_id = 0;
        return false;
    }
    return true;
}

static void subscribe_all(sb_instance *inst, sn_speaker *s, const char *why, void *user)
{
    (void)why;
    (void)user;
    if (inst->routes == NULL) {
        static const char warned[] = "the host offers no callback routes: state comes from polling only";
        sn_log(inst, SB_LOG_DEBUG, "%s", warned);
        return;
    }
    const sn_service_kind kinds[] = { SN_AVT, SN_RC, SN_ZGT };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        sn_subscription *sub = &s->subs[kinds[i]];
        sub->inst = inst;
        sub->speaker = s;
        sub->kind = kinds[i];
        if (s->services[kinds[i]] == NULL || s->services[kinds[i]]->event_url[0] == '\0') continue;
        if (!ensure_route(inst, s, sub)) continue;
        if (sub->sid[0] == '\0') subscribe(sub, false);
    }
}

static void drop_all(sb_instance *inst, sn_speaker *s, const char *why, void *user)
{
    (void)why;
    (void)user;
    for (int k = 0; k < SN_SERVICE_COUNT; k++) {
        sn_subscription *sub = &s->subs[k];
        sn_timer_cancel(inst, &sub->renew_timer);
        sub->sid[0] = '\0';
        sub->pending = false;
    }
}

/* The subscriptions point at the old address: start them again at the new one. */
static void resubscribe(sb_instance *inst, sn_speaker *s, const char *why, void *user)
{
    drop_all(inst, s, why, user);
    if (s->online) subscribe_all(inst, s, why, user);
}

void sn_gena_init(sb_instance *inst)
{
    sn_lifecycle_on(&inst->hub, SN_EV_ONLINE, subscribe_all, NULL);
    sn_lifecycle_on(&inst->hub, SN_EV_OFFLINE, drop_all, NULL);
    sn_lifecycle_on(&inst->hub, SN_EV_MOVED, resubscribe, NULL);
}

void sn_gena_stop(sb_instance *inst)
{
    for (size_t i = 0; i < inst->speaker_count; i++) {
        sn_speaker *s = inst->speakers[i];
        drop_all(inst, s, "", NULL);
        for (int k = 0; k < SN_SERVICE_COUNT; k++) {
            if (s->subs[k].route_id != 0 && inst->routes != NULL) inst->routes->remove(inst->host, s->subs[k].route_id);
            s->subs[k].route_id = 0;
        }
    }
}

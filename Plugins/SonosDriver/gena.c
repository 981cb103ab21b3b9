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

#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RETRY_MS 30000u

static void subscribe(sn_subscription *sub, bool renew);

/* Online speakers are subscribed; a player waiting for its place in a large household (no
 * GetZoneGroupState there) has its ZoneGroupTopology events only, which bring that place. */
static bool may_subscribe(const sn_subscription *sub)
{
    return sub->speaker->online || (sub->kind == SN_ZGT && sub->speaker->awaiting_topology);
}

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

/* The address a request came from when the host tells (ABI 1.2); NULL from older hosts. */
static const char *remote_address(const sb_route_request *request)
{
    if (request->struct_size < offsetof(sb_route_request, remote_address) + sizeof request->remote_address) return NULL;
    return request->remote_address;
}

/* True when `address` is an IP literal: only then can it be compared with a peer's address (a
 * description URL with a host name cannot be, and is not). */
static bool is_ip_literal(const char *address)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, address, buf) == 1 || inet_pton(AF_INET6, address, buf) == 1;
}

static void forget_early(sn_subscription *sub)
{
    free(sub->early_body);
    sub->early_body = NULL;
    sub->early_size = 0;
    sub->early_sid[0] = '\0';
}

/* Applies one event's body to the speaker: state, the hub, the published state. */
static int apply_event(sn_subscription *sub, const void *body, size_t size)
{
    sb_instance *inst = sub->inst;
    char why[200];
    if (sn_event_properties(body, size, apply_property, sub, why, sizeof why) != 0) {
        sn_log(inst, SB_LOG_WARNING, "%s: unreadable %s event: %s", sub->speaker->id, sn_service_name(sub->kind), why);
        return 400;
    }
    sub->speaker->last_seen_ms = sn_now_ms();
    if (sub->kind == SN_AVT) sn_lifecycle_emit(&inst->hub, inst, SN_EV_TRANSPORT_CHANGED, sub->speaker, "event");
    sn_state_publish(inst, sub->speaker);
    return 200;
}

/* Trust: anyone on the LAN can send a NOTIFY to the callback URL. An event is applied only when it
 * comes from the speaker's own address and carries the exact SID the speaker granted this
 * subscription; an empty SID, a subscription without an SID (offline, failed, never granted) or
 * an old SID match nothing and get 412, which also tells a device holding an old subscription to
 * drop it (UPnP DA 1.1 §4.2.1). */
static int32_t on_notify(void *user, const sb_route_request *request)
{
    sn_subscription *sub = user;
    sb_instance *inst = sub->inst;
    sn_speaker *s = sub->speaker;
    if (request->method == NULL || strcasecmp(request->method, "NOTIFY") != 0) return 405;
    const char *sid = sn_header(request->headers, request->header_count, "SID");
    const char *nts = sn_header(request->headers, request->header_count, "NTS");
    if (sid == NULL || nts == NULL || strcmp(nts, "upnp:propchange") != 0) return 400;
    const char *from = remote_address(request);
    if (from != NULL && is_ip_literal(s->address) && strcmp(from, s->address) != 0) {
        sn_log(inst, SB_LOG_DEBUG, "%s: a %s event from %s, not from the speaker (%s): refused", s->id,
               sn_service_name(sub->kind), from, s->address);
        return 412;
    }
    if (sid[0] == '\0') return 412;
    if (sub->pending) {
        /* Our SUBSCRIBE is unanswered, so no SID is known yet: keep the event (the first one only)
         * until the answer says whether this SID is ours. */
        if (sub->early_body != NULL || request->body_size == 0) return 412;
        sub->early_body = malloc(request->body_size);
        if (sub->early_body == NULL) return 503;
        memcpy(sub->early_body, request->body, request->body_size);
        sub->early_size = request->body_size;
        sn_copy(sub->early_sid, sizeof sub->early_sid, sid);
        return 200;
    }
    if (sub->sid[0] == '\0' || strcmp(sid, sub->sid) != 0) return 412;
    return apply_event(sub, request->body, request->body_size);
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
    s->requests--;
    if (!may_subscribe(sub)) {
        forget_early(sub);
        return;
    }
    if (response->status == SB_OK && response->http_status == 200) {
        const char *sid = sn_header(response->headers, response->header_count, "SID");
        if (sid != NULL) sn_copy(sub->sid, sizeof sub->sid, sid);
        /* The event that overtook this answer counts only under the SID just granted. */
        if (sub->early_body != NULL && sub->sid[0] != '\0' && strcmp(sub->early_sid, sub->sid) == 0) {
            char *body = sub->early_body;
            size_t size = sub->early_size;
            sub->early_body = NULL;
            forget_early(sub);
            apply_event(sub, body, size);
            free(body);
        }
        forget_early(sub);
        uint32_t timeout = parse_timeout(sn_header(response->headers, response->header_count, "TIMEOUT"),
                                         inst->config.subscription_s);
        /* Renew at half the lifetime: one lost renewal still leaves time for another. */
        schedule(sub, timeout * 500u);
        s->last_seen_ms = sn_now_ms();
        return;
    }
    forget_early(sub);
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
    if (service == NULL || service->event_url[0] == '\0' || !may_subscribe(sub) || sub->pending) return;
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
        return;
    }
    s->requests++;
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

static void subscribe_topology(sb_instance *inst, sn_speaker *s, const char *why, void *user)
{
    (void)why;
    (void)user;
    sn_subscription *sub = &s->subs[SN_ZGT];
    sub->inst = inst;
    sub->speaker = s;
    sub->kind = SN_ZGT;
    if (inst->routes == NULL || s->services[SN_ZGT] == NULL || !ensure_route(inst, s, sub)) {
        sn_log(inst, SB_LOG_WARNING, "%s: no topology events to wait for (no callback routes): taken as a room", s->name);
        s->awaiting_topology = false;
        sn_speaker_set_online(inst, s, true, "found");
        return;
    }
    if (sub->sid[0] == '\0') subscribe(sub, false);
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
        forget_early(sub);
    }
}

/* The subscriptions point at the old address: start them again at the new one. */
static void resubscribe(sb_instance *inst, sn_speaker *s, const char *why, void *user)
{
    drop_all(inst, s, why, user);
    if (s->online) subscribe_all(inst, s, why, user);
}

/* The record is about to be freed: its routes (whose user is a slot in it) go first. */
static void forget_routes(sb_instance *inst, sn_speaker *s, const char *why, void *user)
{
    drop_all(inst, s, why, user);
    for (int k = 0; k < SN_SERVICE_COUNT; k++) {
        if (s->subs[k].route_id != 0 && inst->routes != NULL) inst->routes->remove(inst->host, s->subs[k].route_id);
        s->subs[k].route_id = 0;
    }
}

void sn_gena_init(sb_instance *inst)
{
    sn_lifecycle_on(&inst->hub, SN_EV_FORGOTTEN, forget_routes, NULL);
    sn_lifecycle_on(&inst->hub, SN_EV_ONLINE, subscribe_all, NULL);
    sn_lifecycle_on(&inst->hub, SN_EV_OFFLINE, drop_all, NULL);
    sn_lifecycle_on(&inst->hub, SN_EV_MOVED, resubscribe, NULL);
    sn_lifecycle_on(&inst->hub, SN_EV_TOPOLOGY_BY_EVENTS, subscribe_topology, NULL);
}

void sn_gena_stop(sb_instance *inst)
{
    for (size_t i = 0; i < inst->speaker_count; i++) forget_routes(inst, inst->speakers[i], "", NULL);
}

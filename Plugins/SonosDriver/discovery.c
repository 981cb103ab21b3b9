/* Finding speakers: SSDP M-SEARCH rounds and alive/byebye announcements on the configured
 * interface, the static address list for networks without multicast, and probes that notice a
 * speaker went away or came back. Every speaker is then described from its own XML. */
#define _POSIX_C_SOURCE 200809L

#include "discovery.h"
#include "ssdp.h"
#include "text.h"
#include "url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DESCRIPTION_MAX (256u * 1024u)

typedef struct sn_describe_ctx {
    char location[512];
    char host[256];      /* the location's host: fetch slots are counted per host */
    char household[128]; /* X-RINCON-HOUSEHOLD of the SSDP message that named it, "" otherwise */
    bool from_ssdp;      /* named by an SSDP message, which any LAN host can send */
} describe_ctx;

static void start_fetch(sb_instance *inst, describe_ctx *ctx);

static bool is_fetching(const sb_instance *inst, const char *location)
{
    for (int i = 0; i < SN_MAX_FETCHING; i++) {
        if (strcmp(inst->fetching[i], location) == 0) return true;
    }
    return false;
}

/* A free fetch slot for a location on `host`, or -1: all slots are busy, or this host has
 * SN_FETCHES_PER_HOST fetches running already (a slow or hostile description server delays only
 * its own descriptions). */
static int free_slot_for(const sb_instance *inst, const char *host)
{
    int free_slot = -1, same_host = 0;
    for (int i = 0; i < SN_MAX_FETCHING; i++) {
        if (inst->fetching[i][0] == '\0') {
            if (free_slot < 0) free_slot = i;
            continue;
        }
        sn_url u;
        if (sn_url_parse(inst->fetching[i], &u) && strcmp(u.host, host) == 0) same_host++;
    }
    return same_host >= SN_FETCHES_PER_HOST ? -1 : free_slot;
}

static bool is_queued(const sb_instance *inst, const char *location)
{
    for (size_t i = 0; i < inst->fetch_queued; i++) {
        if (strcmp(inst->fetch_queue[i]->location, location) == 0) return true;
    }
    return false;
}

/* Starts the oldest waiting fetches that have a slot now. */
static void pump_queue(sb_instance *inst)
{
    for (size_t i = 0; i < inst->fetch_queued;) {
        describe_ctx *ctx = inst->fetch_queue[i];
        if (free_slot_for(inst, ctx->host) < 0) {
            i++;
            continue;
        }
        memmove(&inst->fetch_queue[i], &inst->fetch_queue[i + 1], (inst->fetch_queued - i - 1) * sizeof ctx);
        inst->fetch_queued--;
        start_fetch(inst, ctx);
    }
}

static void release_fetch(sb_instance *inst, const char *location)
{
    for (int i = 0; i < SN_MAX_FETCHING; i++) {
        if (strcmp(inst->fetching[i], location) == 0) inst->fetching[i][0] = '\0';
    }
}

/* A known player's UDN at a new location is followed (a new DHCP lease) unless the claim came by
 * SSDP from another household, or without one, for a player whose household we know: anyone on
 * the LAN can announce any UDN, and following it would send that player's announcements, state
 * and commands to them. Claims from the topology, the static list or a reload come from the
 * household itself or the user. */
static bool claim_refused(const sn_speaker *s, const describe_ctx *ctx)
{
    if (!ctx->from_ssdp || !s->described || strcmp(s->location, ctx->location) == 0) return false;
    if (s->household[0] == '\0') return false;
    return strcmp(ctx->household, s->household) != 0;
}

static void describe_done(sb_instance *inst, void *user, const sb_http_response *response)
{
    describe_ctx *ctx = user;
    release_fetch(inst, ctx->location);
    sn_speaker *known = NULL;
    for (size_t i = 0; i < inst->speaker_count; i++) {
        if (strcmp(inst->speakers[i]->location, ctx->location) == 0) known = inst->speakers[i];
    }
    char why[320] = "";
    sn_description *d = NULL;
    if (response->status != SB_OK) {
        snprintf(why, sizeof why, "%s", response->error != NULL ? response->error : "no answer");
    } else if (response->http_status != 200) {
        snprintf(why, sizeof why, "its description answered HTTP %d", (int)response->http_status);
    } else if ((d = calloc(1, sizeof *d)) == NULL) {
        snprintf(why, sizeof why, "out of memory");
    } else if (sn_description_parse(response->body, response->body_size, ctx->location, d, why, sizeof why) != 0) {
        /* Hostile or broken XML ends here: logged, never half-applied. */
        sn_log(inst, SB_LOG_WARNING, "ignoring the device at %s: %s", ctx->location, why);
        free(d);
        free(ctx);
        if (known != NULL) sn_speaker_set_online(inst, known, false, "its description is no longer valid");
        pump_queue(inst);
        return;
    }
    if (why[0] != '\0') {
        free(d);
        if (known != NULL) {
            sn_speaker_set_online(inst, known, false, why);
        } else {
            sn_log(inst, SB_LOG_DEBUG, "no description from %s: %s", ctx->location, why);
        }
        free(ctx);
        pump_queue(inst);
        return;
    }
    if (!d->is_sonos && !inst->config.renderers) {
        sn_log(inst, SB_LOG_DEBUG, "%s is not a Sonos player and renderers are off", ctx->location);
    } else if (sn_description_service(d, "AVTransport") == NULL) {
        sn_log(inst, SB_LOG_INFO, "%s (%s) has no AVTransport service: not a speaker", d->friendly_name, ctx->location);
    } else {
        sn_speaker *s = sn_speaker_by_uuid(inst, d->udn);
        if (s != NULL && claim_refused(s, ctx)) {
            sn_log(inst, SB_LOG_WARNING, "%s at %s claims to be %s (at %s), but its household is \"%s\", not \"%s\": ignored",
                   d->friendly_name, ctx->location, s->id[0] != '\0' ? s->id : s->uuid, s->location, ctx->household,
                   s->household);
        } else {
            if (s == NULL) s = sn_speaker_add(inst, d->udn);
            if (s != NULL) {
                if (ctx->household[0] != '\0') sn_copy(s->household, sizeof s->household, ctx->household);
                sn_speaker_apply_description(inst, s, d, ctx->location);
            }
        }
    }
    free(d);
    free(ctx);
    pump_queue(inst);
}

static void start_fetch(sb_instance *inst, describe_ctx *ctx)
{
    int slot = free_slot_for(inst, ctx->host);
    if (slot < 0) {
        free(ctx);
        return;
    }
    sn_copy(inst->fetching[slot], sizeof inst->fetching[slot], ctx->location);
    char location[512];
    sn_copy(location, sizeof location, ctx->location);
    if (!sn_http(inst, "GET", location, NULL, 0, NULL, 0, inst->config.soap_timeout_ms, DESCRIPTION_MAX,
                 describe_done, ctx, free)) {
        release_fetch(inst, location);
        free(ctx);
    }
}

/* A burst of SSDP answers for one device (root device, MediaRenderer, repeated rounds) must cause
 * one fetch, not several: a location being fetched or waiting is not asked again. */
static void describe(sb_instance *inst, const char *location, const char *household, bool from_ssdp)
{
    if (is_fetching(inst, location) || is_queued(inst, location)) return;
    sn_url u;
    if (!sn_url_parse(location, &u)) {
        sn_log(inst, SB_LOG_DEBUG, "not a description URL: %s", location);
        return;
    }
    describe_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) return;
    sn_copy(ctx->location, sizeof ctx->location, location);
    sn_copy(ctx->host, sizeof ctx->host, u.host);
    sn_copy(ctx->household, sizeof ctx->household, household != NULL ? household : "");
    ctx->from_ssdp = from_ssdp;
    if (free_slot_for(inst, ctx->host) >= 0) {
        start_fetch(inst, ctx);
    } else if (inst->fetch_queued < SN_MAX_FETCH_QUEUE) {
        inst->fetch_queue[inst->fetch_queued++] = ctx;
    } else {
        /* The next search round or probe asks again. */
        sn_log(inst, SB_LOG_DEBUG, "%d description fetches waiting: %s is not fetched now", SN_MAX_FETCH_QUEUE, location);
        free(ctx);
    }
}

void sn_describe(sb_instance *inst, const char *location, const char *household)
{
    describe(inst, location, household, false);
}

/* Something suggests the speaker is gone (a request to it got no answer): its description,
 * fetched again, says whether it is still there. */
static void suspect(sb_instance *inst, sn_speaker *s, const char *why, void *user)
{
    (void)user;
    if (!s->online || s->location[0] == '\0') return;
    sn_log(inst, SB_LOG_INFO, "checking %s: %s", s->id, why);
    sn_describe(inst, s->location, NULL);
}

/* "192.168.1.30" and "192.168.1.30:1400" are Sonos players (their description is always at
 * :1400/xml/device_description.xml); anything with a scheme is a description URL. */
static void static_location(const char *entry, char *out, size_t size)
{
    if (strncmp(entry, "http://", 7) == 0 || strncmp(entry, "HTTP://", 7) == 0) {
        sn_copy(out, size, entry);
    } else if (strchr(entry, ':') != NULL) {
        snprintf(out, size, "http://%s/xml/device_description.xml", entry);
    } else {
        snprintf(out, size, "http://%s:1400/xml/device_description.xml", entry);
    }
}

static void on_datagram(void *user, const char *from, uint16_t port, const void *data, size_t size)
{
    sb_instance *inst = user;
    sn_ssdp_message m;
    char why[160];
    if (sn_ssdp_parse(data, size, &m, why, sizeof why) != 0) {
        sn_log(inst, SB_LOG_DEBUG, "SSDP from %s:%u ignored: %s", from, (unsigned)port, why);
        return;
    }
    bool zoneplayer = strcmp(m.target, SN_ST_ZONEPLAYER) == 0;
    bool renderer = strcmp(m.target, SN_ST_MEDIARENDERER) == 0;
    if (!zoneplayer && !renderer) return; /* other devices and services on the network */
    if (renderer && !inst->config.renderers && m.household[0] == '\0') return;
    if (inst->config.household[0] != '\0' && m.household[0] != '\0' &&
        strcmp(inst->config.household, m.household) != 0) {
        return; /* another Sonos household on the same network */
    }
    if (inst->config.household[0] != '\0' && zoneplayer && m.household[0] == '\0') return;
    if (m.byebye) {
        /* The exact UDN (a prefix would let "uuid:R" take every RINCON_… offline), and from the
         * speaker's own address: a goodbye in someone else's name is ignored. */
        sn_speaker *s = sn_speaker_by_uuid(inst, m.uuid);
        if (s == NULL) return;
        if (s->address[0] != '\0' && strcmp(from, s->address) != 0) {
            sn_log(inst, SB_LOG_DEBUG, "a goodbye for %s from %s, not from its address %s: ignored", s->uuid, from, s->address);
            return;
        }
        sn_speaker_set_online(inst, s, false, "it said goodbye (ssdp:byebye)");
        return;
    }
    for (size_t i = 0; i < inst->speaker_count; i++) {
        sn_speaker *s = inst->speakers[i];
        if (s->described && strcmp(s->location, m.location) == 0) {
            s->last_seen_ms = sn_now_ms();
            if (!s->online) describe(inst, m.location, m.household, true);
            return;
        }
    }
    /* New, or a known player at a new address (DHCP gave it another IP): describe it; the
     * description's UDN says which, and its household whether to follow it (claim_refused). */
    describe(inst, m.location, m.household, true);
}

static void search(sb_instance *inst)
{
    if (inst->search_socket == 0) return;
    const char *targets[2] = { SN_ST_ZONEPLAYER, SN_ST_MEDIARENDERER };
    size_t count = inst->config.renderers ? 2 : 1;
    for (size_t i = 0; i < count; i++) {
        char msg[512];
        size_t n = sn_ssdp_msearch(msg, sizeof msg, targets[i], 1);
        if (n == 0) continue;
        sb_status st = inst->udp->send(inst->host, inst->search_socket, SN_SSDP_GROUP, SN_SSDP_PORT, msg, n);
        if (st != SB_OK) sn_log(inst, SB_LOG_WARNING, "M-SEARCH could not be sent (status %d)", (int)st);
    }
}

static void search_tick(void *user, uint64_t timer_id)
{
    (void)timer_id;
    sb_instance *inst = user;
    inst->search_round++;
    search(inst);
    for (size_t i = 0; i < inst->config.static_count; i++) {
        char location[512];
        static_location(inst->config.static_speakers[i], location, sizeof location);
        sn_describe(inst, location, NULL);
    }
}

/* Offline speakers are asked again (they come back without SSDP on networks without multicast);
 * online ones nobody heard from for a while are checked. */
static void probe_tick(void *user, uint64_t timer_id)
{
    (void)timer_id;
    sb_instance *inst = user;
    uint64_t now = sn_now_ms();
    for (size_t i = 0; i < inst->speaker_count; i++) {
        sn_speaker *s = inst->speakers[i];
        if (!s->described) continue;
        if (!s->online || now - s->last_seen_ms > inst->config.offline_after_ms) sn_describe(inst, s->location, NULL);
    }
}

void sn_discovery_init(sb_instance *inst)
{
    sn_lifecycle_on(&inst->hub, SN_EV_UNREACHABLE, suspect, NULL);
}

void sn_discovery_start(sb_instance *inst)
{
    if (inst->config.discovery) {
        char err[256] = "";
        if (inst->udp == NULL) {
            sn_log(inst, SB_LOG_ERROR, "the host offers no UDP service: SSDP discovery is off; use \"speakers\"");
        } else if (inst->udp->open(inst->host, inst->config.interface, 0, NULL, on_datagram, inst,
                                   &inst->search_socket, err, sizeof err) != SB_OK) {
            inst->search_socket = 0;
            sn_log(inst, SB_LOG_ERROR, "SSDP search socket: %s; discovery is off", err);
        } else if (inst->udp->open(inst->host, inst->config.interface, SN_SSDP_PORT, SN_SSDP_GROUP, on_datagram,
                                   inst, &inst->notify_socket, err, sizeof err) != SB_OK) {
            /* Searching still works; we only miss announcements between rounds. */
            inst->notify_socket = 0;
            sn_log(inst, SB_LOG_WARNING, "not listening for SSDP announcements: %s", err);
        }
    }
    inst->search_timer = sn_timer_start(inst, 0, inst->config.search_interval_ms, search_tick, inst);
    inst->probe_timer = sn_timer_start(inst, inst->config.probe_interval_ms, inst->config.probe_interval_ms, probe_tick, inst);
}

void sn_discovery_stop(sb_instance *inst)
{
    sn_timer_cancel(inst, &inst->search_timer);
    sn_timer_cancel(inst, &inst->probe_timer);
    if (inst->udp != NULL) {
        if (inst->search_socket != 0) inst->udp->close(inst->host, inst->search_socket);
        if (inst->notify_socket != 0) inst->udp->close(inst->host, inst->notify_socket);
    }
    inst->search_socket = inst->notify_socket = 0;
    for (size_t i = 0; i < inst->fetch_queued; i++) free(inst->fetch_queue[i]);
    inst->fetch_queued = 0;
}

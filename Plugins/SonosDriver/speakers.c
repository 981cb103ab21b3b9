/* The speakers this instance knows: found by SSDP or the static list, keyed by UDN, named for
 * MQTT by their room. A speaker that goes away stays known (offline) so it keeps its id and comes
 * back under the same topic. What happens to a speaker is published on the lifecycle hub; this
 * file calls no feature module. */
#define _POSIX_C_SOURCE 200809L

#include "speakers.h"
#include "instance.h"
#include "text.h"
#include "url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *sn_service_name(sn_service_kind kind)
{
    switch (kind) {
    case SN_AVT: return "AVTransport";
    case SN_RC: return "RenderingControl";
    case SN_GRC: return "GroupRenderingControl";
    case SN_ZGT: return "ZoneGroupTopology";
    case SN_CD: return "ContentDirectory";
    case SN_ALARM: return "AlarmClock";
    case SN_DP: return "DeviceProperties";
    case SN_MS: return "MusicServices";
    case SN_SP: return "SystemProperties";
    case SN_QUEUE: return "Queue";
    case SN_AUDIOIN: return "AudioIn";
    case SN_HT: return "HTControl";
    case SN_VLI: return "VirtualLineIn";
    case SN_GM: return "GroupManagement";
    case SN_CM: return "ConnectionManager";
    default: return "?";
    }
}

sn_speaker *sn_speaker_by_uuid(sb_instance *inst, const char *uuid)
{
    for (size_t i = 0; i < inst->speaker_count; i++) {
        if (strcmp(inst->speakers[i]->uuid, uuid) == 0) return inst->speakers[i];
    }
    return NULL;
}

sn_speaker *sn_speaker_find(sb_instance *inst, const char *key)
{
    if (key == NULL) return NULL;
    /* The id first, in a pass of its own: a room named like another room's id still finds that id. */
    for (size_t i = 0; i < inst->speaker_count; i++) {
        sn_speaker *s = inst->speakers[i];
        if (s->described && strcmp(s->id, key) == 0) return s;
    }
    for (size_t i = 0; i < inst->speaker_count; i++) {
        sn_speaker *s = inst->speakers[i];
        if (s->described && (strcasecmp(s->name, key) == 0 || strcmp(s->uuid, key) == 0)) return s;
    }
    return NULL;
}

/* The speaker longest gone among those offline and unseen for forget_after (none waiting for
 * an answer about its topology, none a request in flight still points at), or NULL. */
static sn_speaker *long_gone(sb_instance *inst)
{
    uint64_t now = sn_now_ms();
    sn_speaker *oldest = NULL;
    for (size_t i = 0; i < inst->speaker_count; i++) {
        sn_speaker *s = inst->speakers[i];
        if (s->online || s->awaiting_topology || s->requests != 0 || now - s->last_seen_ms < inst->config.forget_after_ms) {
            continue;
        }
        if (oldest == NULL || s->last_seen_ms < oldest->last_seen_ms) oldest = s;
    }
    return oldest;
}

static void forget(sb_instance *inst, sn_speaker *s)
{
    sn_lifecycle_emit(&inst->hub, inst, SN_EV_FORGOTTEN, s, "its slot is given to a new device");
    size_t n = 0;
    for (size_t i = 0; i < inst->speaker_count; i++) {
        if (inst->speakers[i] != s) inst->speakers[n++] = inst->speakers[i];
    }
    inst->speaker_count = n;
    free(s);
    sn_speakers_rebuild_visible(inst);
}

sn_speaker *sn_speaker_add(sb_instance *inst, const char *uuid)
{
    if (inst->speaker_count >= SN_MAX_SPEAKERS) {
        /* The table keeps speakers that went away, so they come back under their id; but one
         * that has been gone for long gives its slot up, or a network with many devices coming
         * and going (or a host announcing fake ones) would lock new speakers out for good. */
        sn_speaker *old = long_gone(inst);
        if (old == NULL) {
            /* Live devices only: refused, and said so, but not once per SSDP message of a flood. */
            if (inst->refused_full++ % 100 == 0) {
                sn_log(inst, SB_LOG_WARNING, "%d speakers, all online or seen within forget_after: %s is ignored "
                       "(%u refused so far)", SN_MAX_SPEAKERS, uuid, (unsigned)inst->refused_full);
            }
            return NULL;
        }
        sn_log(inst, SB_LOG_INFO, "forgetting %s (%s, %s), offline and unseen for %u s, for the new device %s",
               old->id[0] != '\0' ? old->id : old->uuid, old->name, old->address,
               (unsigned)((sn_now_ms() - old->last_seen_ms) / 1000), uuid);
        forget(inst, old);
    }
    sn_speaker *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    sn_copy(s->uuid, sizeof s->uuid, uuid);
    s->last_seen_ms = sn_now_ms();
    s->volume = -1;
    s->crossfade = -1;
    s->mute = -1;
    inst->speakers[inst->speaker_count++] = s;
    return s;
}

/* "Living Room" -> "living_room": ASCII letters and digits kept (lower case, by hand so the
 * process locale cannot change an id), anything else folds into one '_'. MQTT wildcards and '/'
 * can therefore never reach a topic. */
static void slug(const char *name, char *out, size_t size)
{
    size_t n = 0;
    bool gap = false;
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0' && n + 2 < size; p++) {
        unsigned char c = *p;
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (gap && n > 0) out[n++] = '_';
            out[n++] = (char)c;
            gap = false;
        } else {
            gap = true;
        }
    }
    out[n] = '\0';
    if (n == 0) sn_copy(out, size, "speaker");
}

static void choose_id(sb_instance *inst, sn_speaker *s)
{
    char base[48];
    slug(s->name, base, sizeof base);
    sn_copy(s->id, sizeof s->id, base);
    /* Two rooms with the same name keep distinct topics: the later one gets a suffix. */
    for (int n = 2; n < 100; n++) {
        bool taken = false;
        for (size_t i = 0; i < inst->speaker_count; i++) {
            sn_speaker *o = inst->speakers[i];
            if (o != s && o->described && !o->invisible && strcmp(o->id, s->id) == 0) taken = true;
        }
        if (!taken) return;
        snprintf(s->id, sizeof s->id, "%s_%d", base, n);
    }
}

void sn_speaker_apply_description(sb_instance *inst, sn_speaker *s, const sn_description *d, const char *location)
{
    bool moved = s->described && strcmp(s->location, location) != 0;
    const char *name = d->room_name[0] != '\0' ? d->room_name : d->friendly_name[0] != '\0' ? d->friendly_name : d->udn;
    bool renamed = !s->described || strcmp(s->name, name) != 0;
    s->desc = *d;
    sn_copy(s->location, sizeof s->location, location);
    sn_url u;
    if (sn_url_parse(location, &u)) sn_copy(s->address, sizeof s->address, u.host);
    sn_copy(s->name, sizeof s->name, name);
    if (d->display_name[0] != '\0' && d->model_name[0] != '\0' && strstr(d->model_name, d->display_name) == NULL) {
        sn_set_err(s->model, sizeof s->model, "%s (%s)", d->model_name, d->display_name);
    } else {
        sn_copy(s->model, sizeof s->model, d->model_name[0] != '\0' ? d->model_name : d->device_type);
    }
    for (int k = 0; k < SN_SERVICE_COUNT; k++) s->services[k] = sn_description_service(&s->desc, sn_service_name((sn_service_kind)k));
    if (renamed) s->needs_id = true;
    s->described = true;
    s->last_seen_ms = sn_now_ms();
    if (moved) sn_log(inst, SB_LOG_INFO, "%s moved to %s", s->id, location);
    if (s->online) {
        if (s->needs_id) choose_id(inst, s);
        s->needs_id = false;
        sn_speakers_rebuild_visible(inst);
        /* The host reads a driver's speaker list only when the driver reports availability (there is
         * no poll): a speaker that moved or was renamed while online says "online" again, so the
         * host's copy follows (clip URLs are chosen for the speaker's address). */
        if ((moved || renamed) && inst->publish != NULL && !s->invisible) {
            inst->publish->speaker_availability(inst->host, s->id, true);
        }
    }
    /* Subscriptions and the audioClip probe point at the old address: they start again there. */
    if (moved) sn_lifecycle_emit(&inst->hub, inst, SN_EV_MOVED, s, location);
    if (s->online) return;
    if (s->services[SN_ZGT] != NULL) {
        /* A Sonos player may be a bonded satellite or sub, which is no room of its own: the
         * household's topology says so. Ask first (state.c), then announce it. */
        if (!s->awaiting_topology) {
            s->awaiting_topology = true;
            sn_lifecycle_emit(&inst->hub, inst, SN_EV_NEEDS_TOPOLOGY, s, "found");
        }
    } else {
        sn_speaker_set_online(inst, s, true, moved ? "found at a new address" : "found");
    }
}

void sn_speaker_set_online(sb_instance *inst, sn_speaker *s, bool online, const char *why)
{
    if (s->online == online) return;
    s->online = online;
    sn_copy(s->offline_reason, sizeof s->offline_reason, online ? "" : why);
    if (online && s->needs_id) {
        choose_id(inst, s);
        s->needs_id = false;
    }
    sn_log(inst, online ? SB_LOG_INFO : SB_LOG_WARNING, "%s (%s, %s) is %s: %s", s->id, s->name,
           s->address, online ? "online" : "offline", why);
    if (inst->publish != NULL && !s->invisible) inst->publish->speaker_availability(inst->host, s->id, online);
    sn_speakers_rebuild_visible(inst);
    sn_lifecycle_emit(&inst->hub, inst, online ? SN_EV_ONLINE : SN_EV_OFFLINE, s, why);
}

void sn_speakers_rebuild_visible(sb_instance *inst)
{
    inst->visible_count = 0;
    for (size_t i = 0; i < inst->speaker_count; i++) {
        sn_speaker *s = inst->speakers[i];
        /* Offline speakers stay listed: an announcement to them fails with "offline" instead of
         * "unknown speaker", and they keep their place in groups. */
        /* A player still waiting for its topology has no id yet: it is not a speaker until then. */
        if (s->described && !s->invisible && s->id[0] != '\0' && s->services[SN_AVT] != NULL) {
            inst->visible[inst->visible_count++] = s;
        }
    }
}

sn_speaker *sn_speaker_coordinator(sb_instance *inst, sn_speaker *s)
{
    if (s->coordinator[0] == '\0' || strcmp(s->coordinator, s->uuid) == 0) return s;
    sn_speaker *c = sn_speaker_by_uuid(inst, s->coordinator);
    return c != NULL && c->described ? c : s;
}

void sn_speakers_free(sb_instance *inst)
{
    for (size_t i = 0; i < inst->speaker_count; i++) free(inst->speakers[i]);
    inst->speaker_count = 0;
    inst->visible_count = 0;
}

/* The household as its players describe it: the ZoneGroupState topology places every player in its
 * group, hides bonded satellites, and names players the driver has not found yet (one static address
 * is enough to find them all). Above state, whose publish it calls when a player's group changes. */
#define _POSIX_C_SOURCE 200809L

#include "household.h"
#include "discovery.h"
#include "soap_call.h"
#include "state.h"
#include "text.h"
#include "topology.h"

#include <stdio.h>
#include <string.h>

/* A player the topology names: its group, whether it is a room, and, when it was waiting for
 * exactly this answer, online (a room) or not (a satellite, the right speaker of a stereo pair, a
 * bridge). */
static void place(sb_instance *inst, sn_speaker *s, const sn_zone_group *group, const sn_zone_member *member)
{
    /* A player the household reports at another address moved (a new DHCP lease): fetch its
     * description there, which follows it (speakers.c). */
    if (member->location[0] != '\0' && s->described && strcmp(member->location, s->location) != 0) {
        sn_describe(inst, member->location, NULL);
    }
    bool changed = strcmp(s->coordinator, group->coordinator) != 0 || s->invisible != member->invisible;
    sn_copy(s->coordinator, sizeof s->coordinator, group->coordinator);
    sn_copy(s->group_id, sizeof s->group_id, group->id);
    s->invisible = member->invisible;
    if (s->awaiting_topology) {
        s->awaiting_topology = false;
        if (member->invisible) {
            sn_log(inst, SB_LOG_INFO, "%s (%s) is %s, not a room", s->name, s->address,
                   member->bridge ? "a Boost or Bridge" : "bonded to another player (satellite or stereo pair)");
            sn_speakers_rebuild_visible(inst);
        } else {
            sn_speaker_set_online(inst, s, true, "found");
        }
        return;
    }
    /* Back in the household after it vanished: its description brings it online again. */
    if (!s->online && !member->invisible && s->described && s->location[0] != '\0') sn_describe(inst, s->location, NULL);
    if (changed) sn_state_publish(inst, s);
}

void sn_household_apply_topology(sb_instance *inst, const char *zone_group_state)
{
    sn_topology t;
    char why[200];
    if (sn_topology_parse(zone_group_state, strlen(zone_group_state), &t, why, sizeof why) != 0) {
        sn_log(inst, SB_LOG_WARNING, "unreadable zone group state: %s", why);
        return;
    }
    for (size_t g = 0; g < t.group_count; g++) {
        const sn_zone_group *group = &t.groups[g];
        for (size_t m = 0; m < group->member_count; m++) {
            const sn_zone_member *member = &group->members[m];
            sn_speaker *s = sn_speaker_by_uuid(inst, member->uuid);
            if (s != NULL) {
                place(inst, s, group, member);
            } else if (member->location[0] != '\0' && !member->invisible) {
                /* The topology names every player of the household with its description URL:
                 * one static address is enough to find them all. */
                sn_describe(inst, member->location, NULL);
            }
        }
    }
    /* Players the household lost (switched off, asleep): offline now, with the household's reason,
     * instead of after the next request that gets no answer. */
    for (size_t v = 0; v < t.vanished_count; v++) {
        sn_speaker *s = sn_speaker_by_uuid(inst, t.vanished[v].uuid);
        if (s == NULL || !s->online) continue;
        char reason[96];
        snprintf(reason, sizeof reason, "the household says: %s", t.vanished[v].reason[0] != '\0' ? t.vanished[v].reason : "vanished");
        sn_speaker_set_online(inst, s, false, reason);
    }
    sn_topology_free(&t);
    sn_speakers_rebuild_visible(inst);
}

static void topology_done(sb_instance *inst, void *ctx, int ok, sn_soap_result *result)
{
    sn_speaker *s = ctx;
    const char *state = ok ? sn_soap_out(result, "ZoneGroupState") : NULL;
    if (state != NULL) sn_household_apply_topology(inst, state);
    if (!ok && result->upnp_code == 501 && s->awaiting_topology) {
        /* Households of about 20 players and more answer 501 here (SoCo and Home Assistant fall
         * back to the topology events the same way): the first ZoneGroupTopology event places it. */
        sn_log(inst, SB_LOG_INFO, "%s answers no GetZoneGroupState (501, a large household): waiting for its "
               "topology event", s->name);
        sn_lifecycle_emit(&inst->hub, inst, SN_EV_TOPOLOGY_BY_EVENTS, s, "501");
        return;
    }
    if (!ok) sn_log(inst, SB_LOG_WARNING, "%s: %s", s->name, result->reason);
    if (s->awaiting_topology) {
        /* Not in the answer, or a fault: without the topology we cannot know it is a satellite;
         * a room is the likelier guess. No answer at all: asked again later. */
        if (ok || result->upnp_code != 0) {
            s->awaiting_topology = false;
            if (!s->invisible) sn_speaker_set_online(inst, s, true, "found");
        } else {
            s->awaiting_topology = false;
            sn_log(inst, SB_LOG_INFO, "%s did not answer its topology request; trying again later", s->name);
        }
    }
}

static void topology_refresh(sb_instance *inst, sn_speaker *s, const char *why, void *user)
{
    (void)why;
    (void)user;
    char err[200];
    if (!sn_soap(inst, s, SN_ZGT, "GetZoneGroupState", (const char *const[]){ NULL }, topology_done, s, err, sizeof err)) {
        sn_log(inst, SB_LOG_DEBUG, "%s: %s", s->name, err);
        s->awaiting_topology = false;
    }
}

void sn_household_init(sb_instance *inst)
{
    sn_lifecycle_on(&inst->hub, SN_EV_NEEDS_TOPOLOGY, topology_refresh, NULL);
}

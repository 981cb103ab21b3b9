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

#include <string.h>

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
            if (s == NULL) {
                /* The topology names every player of the household with its description URL:
                 * one static address is enough to find them all. */
                if (member->location[0] != '\0' && !member->invisible) sn_describe(inst, member->location, NULL);
                continue;
            }
            /* A player the household reports at another address moved (a new DHCP lease): fetch
             * its description there, which follows it (speakers.c). */
            if (member->location[0] != '\0' && s->described && strcmp(member->location, s->location) != 0) {
                sn_describe(inst, member->location, NULL);
            }
            bool changed = strcmp(s->coordinator, group->coordinator) != 0 || s->invisible != member->invisible;
            sn_copy(s->coordinator, sizeof s->coordinator, group->coordinator);
            sn_copy(s->group_id, sizeof s->group_id, group->id);
            s->invisible = member->invisible;
            if (changed) sn_state_publish(inst, s);
        }
    }
    sn_topology_free(&t);
    sn_speakers_rebuild_visible(inst);
}

static void topology_done(sb_instance *inst, void *ctx, int ok, sn_soap_result *result)
{
    sn_speaker *s = ctx;
    const char *state = ok ? sn_soap_out(result, "ZoneGroupState") : NULL;
    if (!ok) sn_log(inst, SB_LOG_WARNING, "%s: %s", s->name, result->reason);
    if (state != NULL) sn_household_apply_topology(inst, state);
    if (s->awaiting_topology) {
        s->awaiting_topology = false;
        /* Without an answer we cannot know it is a satellite; a room is the likelier guess. */
        if (ok || result->upnp_code != 0) {
            if (!s->invisible) sn_speaker_set_online(inst, s, true, "found");
        } else {
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

/* The household's topology (groups, bonded satellites, players not found yet), from GetZoneGroupState
 * answers and ZoneGroupTopology events. */
#ifndef SONOS_HOUSEHOLD_H
#define SONOS_HOUSEHOLD_H

#include "instance.h"

/* Registers on the hub: NEEDS_TOPOLOGY asks the player for its household's topology (and brings it
 * online when it is a room). */
void sn_household_init(sb_instance *inst);
/* A ZoneGroupState document: coordinators, groups, satellites; unknown members are described. */
void sn_household_apply_topology(sb_instance *inst, const char *zone_group_state);

#endif

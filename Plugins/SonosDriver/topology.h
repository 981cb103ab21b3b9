/* Sonos ZoneGroupTopology: which players form a group and who coordinates it. Read from the
 * ZoneGroupState state variable (GetZoneGroupState or a GENA event). Newer firmware wraps
 * <ZoneGroups> in <ZoneGroupState>; both shapes are accepted. */
#ifndef SONOS_TOPOLOGY_H
#define SONOS_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sn_zone_member {
    char uuid[64];
    char name[128];      /* ZoneName */
    char location[512];  /* its description URL */
    bool invisible;      /* Invisible="1": bonded satellites/subwoofers, the right speaker of a
                          * stereo pair, bridges: not rooms of their own */
    bool bridge;         /* IsZoneBridge="1": a Boost or Bridge (no speaker; also invisible) */
} sn_zone_member;

/* A player the household lost: <VanishedDevices><Device UUID=… Reason="powered off"/> (newer
 * firmware; Home Assistant's sonos integration reads the same). */
typedef struct sn_vanished {
    char uuid[64];
    char reason[64];     /* "powered off", "sleeping" …; "" when none given */
} sn_vanished;

typedef struct sn_zone_group {
    char id[160];
    char coordinator[64];
    sn_zone_member *members;
    size_t member_count;
} sn_zone_group;

typedef struct sn_topology {
    sn_zone_group *groups;
    size_t group_count;
    sn_vanished *vanished;
    size_t vanished_count;
} sn_topology;

/* `xml` is the ZoneGroupState value (already unescaped once from the SOAP/GENA envelope).
 * 0, or -1 with a reason; on failure `out` is left empty. */
int sn_topology_parse(const char *xml, size_t size, sn_topology *out, char *err, size_t err_size);
void sn_topology_free(sn_topology *t);
/* The group `uuid` belongs to (as coordinator or member), or NULL. */
const sn_zone_group *sn_topology_group_of(const sn_topology *t, const char *uuid);

#endif

/* Finding speakers: SSDP, the static address list, probes of silent and offline speakers, and
 * description fetches, whose results go to the model (speakers.c). */
#ifndef SONOS_DISCOVERY_H
#define SONOS_DISCOVERY_H

#include "instance.h"

/* Registers on the hub: an UNREACHABLE speaker has its description fetched again, which decides
 * whether it is still there. */
void sn_discovery_init(sb_instance *inst);
/* Opens the SSDP sockets (when `discovery` is on) and starts the search and probe timers. */
void sn_discovery_start(sb_instance *inst);
void sn_discovery_stop(sb_instance *inst);
/* Fetches (again) the description at `location` and updates or adds its speaker. `household`
 * (may be NULL) is the Sonos household the SSDP answer named. */
void sn_describe(sb_instance *inst, const char *location, const char *household);

#endif

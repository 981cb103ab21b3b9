/* GENA event subscriptions (UPnP DA §4) and their NOTIFY routes. Events update state.c and tell
 * the hub when the transport changed. */
#ifndef SONOS_GENA_H
#define SONOS_GENA_H

#include "instance.h"

/* Registers on the hub: ONLINE subscribes, OFFLINE drops the subscriptions, MOVED starts them
 * again at the new address. */
void sn_gena_init(sb_instance *inst);
/* Drops every subscription and removes the NOTIFY routes (destroy). */
void sn_gena_stop(sb_instance *inst);

#endif

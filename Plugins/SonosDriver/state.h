/* What each speaker is doing, from its events, and the retained `<base>/<speaker>/state` built from
 * it. The household's topology is in household.h. */
#ifndef SONOS_STATE_H
#define SONOS_STATE_H

#include "instance.h"

/* Registers on the hub: ONLINE and OFFLINE publish the state. Register it after the other
 * feature modules, so the published state is the one after they reacted. */
void sn_state_init(sb_instance *inst);
/* One variable of an AVTransport or RenderingControl LastChange event. */
void sn_state_apply_avt(sb_instance *inst, sn_speaker *s, const char *name, const char *value);
void sn_state_apply_rc(sb_instance *inst, sn_speaker *s, const char *name, const char *channel, const char *value);
/* True when the speaker's AVTransport and RenderingControl subscriptions are live (a SID, not
 * pending) and each has delivered its initial (complete) event since it was granted: then the
 * record's transport, URI, metadata, play mode, crossfade, volume, mute and fixed output are
 * current, and an announcement's snapshot need not ask for them again. */
bool sn_state_fresh(const sn_speaker *s);
/* Publishes the speaker's state when it changed since the last publish. */
void sn_state_publish(sb_instance *inst, sn_speaker *s);

#endif

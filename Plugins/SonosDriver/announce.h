/* Announcements: the local audioClip API where the player has it, else snapshot → play → wait →
 * restore over UPnP. */
#ifndef SONOS_ANNOUNCE_H
#define SONOS_ANNOUNCE_H

#include "instance.h"

/* Registers on the hub: OFFLINE fails the speaker's announcement; TRANSPORT_CHANGED may end its
 * wait for STOPPED. */
void sn_announce_init(sb_instance *inst);
/* SB_OK when started: the end is reported through the host's operations->complete. */
sb_status sn_announce_start(sb_instance *inst, const char *speaker_id, const sb_clip *clip,
                            uint64_t operation_id, char *err, size_t err_size);
sb_status sn_announce_cancel(sb_instance *inst, uint64_t operation_id);
/* Frees every announcement without completing it (destroy: the host completes them). */
void sn_announce_free_all(sb_instance *inst);

#endif

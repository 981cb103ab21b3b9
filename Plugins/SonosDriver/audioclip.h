/* The Sonos local audioClip API: one clip over a WebSocket, played over the music (ducking it). */
#ifndef SONOS_AUDIOCLIP_H
#define SONOS_AUDIOCLIP_H

#include "instance.h"

typedef enum {
    SN_CLIP_PLAYED,      /* it played: DONE, or (unconfirmed) its length + margin passed after loading */
    SN_CLIP_FALLBACK,    /* it never played (no connection, refused, ERROR before ACTIVE): use UPnP */
    SN_CLIP_FAILED,      /* it started and then failed (ERROR after ACTIVE): nothing else to try */
    SN_CLIP_INTERRUPTED, /* the player cut it: INTERRUPTED (another clip) or DISMISSED (a user, an app) */
} sn_clip_outcome;

typedef struct sn_clip_result {
    sn_clip_outcome outcome;
    const char *reason;    /* why (FALLBACK, FAILED, INTERRUPTED; PLAYED unconfirmed); "" when none */
    uint64_t ack_ms;       /* from the start to the player's answer to loadAudioClip; 0 when none */
    bool confirmed;        /* PLAYED: the player said DONE (false: only the time passed) */
} sn_clip_result;

typedef struct sn_audio_clip sn_audio_clip;
/* Runs once with the outcome; the clip object is already gone (its socket closed) by then. */
typedef void (*sn_clip_done_fn)(void *ctx, const sn_clip_result *result);

/* Registers on the hub: ONLINE and MOVED ask the player whether it has the API (quietly not when
 * the setting is off, the host has no WebSocket service, or the player is no Sonos); OFFLINE
 * forgets the answer and closes a cancelled clip's socket. */
void sn_audio_clip_init(sb_instance *inst);
bool sn_audio_clip_usable(const sb_instance *inst, const sn_speaker *s);
/* Starts playing; NULL (and `done` never runs) when it could not even start, `err` says why. */
sn_audio_clip *sn_audio_clip_play(sb_instance *inst, sn_speaker *s, const char *url, int32_t volume,
                                  uint32_t duration_ms, sn_clip_done_fn done, void *ctx, char *err, size_t err_size);
/* Stops the clip on the player: cancelAudioClip (as soon as its id is known), then the socket
 * closes when the player confirms or after soap_timeout. Frees `c` at once; `done` does not run. */
void sn_audio_clip_cancel(sn_audio_clip *c);
/* Closes its socket and timers and frees it; `done` does not run (speaker gone, destroy). The
 * player keeps playing a loaded clip: use sn_audio_clip_cancel to stop it. */
void sn_audio_clip_free(sn_audio_clip *c);

#endif

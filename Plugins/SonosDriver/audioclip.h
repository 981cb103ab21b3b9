/* The Sonos local audioClip API: one clip over a WebSocket, played over the music (ducking it). */
#ifndef SONOS_AUDIOCLIP_H
#define SONOS_AUDIOCLIP_H

#include "instance.h"

typedef enum {
    SN_CLIP_PLAYED,   /* it played (DONE, DISMISSED, or its length + margin passed after loading) */
    SN_CLIP_FALLBACK, /* it never played (no connection, refused, ERROR before playing): use UPnP */
    SN_CLIP_FAILED,   /* it started and then failed: nothing else to try */
} sn_clip_outcome;

typedef struct sn_clip_result {
    sn_clip_outcome outcome;
    const char *reason;    /* why (FALLBACK, FAILED) or a note (PLAYED: "dismissed" …); "" when none */
    uint64_t ack_ms;       /* from the start to the player's answer to loadAudioClip; 0 when none */
    bool confirmed;        /* PLAYED: the player said DONE (false: only the time passed) */
    bool dismissed;        /* PLAYED: the player said DISMISSED (another clip or a user cut it) */
} sn_clip_result;

typedef struct sn_audio_clip sn_audio_clip;
/* Runs once with the outcome; the clip object is already gone (its socket closed) by then. */
typedef void (*sn_clip_done_fn)(void *ctx, const sn_clip_result *result);

/* Registers on the hub: ONLINE and MOVED ask the player whether it has the API (quietly not when
 * the setting is off, the host has no WebSocket service, or the player is no Sonos); OFFLINE
 * forgets the answer. */
void sn_audio_clip_init(sb_instance *inst);
bool sn_audio_clip_usable(const sb_instance *inst, const sn_speaker *s);
/* Starts playing; NULL (and `done` never runs) when it could not even start, `err` says why. */
sn_audio_clip *sn_audio_clip_play(sb_instance *inst, sn_speaker *s, const char *url, int32_t volume,
                                  uint32_t duration_ms, sn_clip_done_fn done, void *ctx, char *err, size_t err_size);
/* Closes its socket and timers and frees it; `done` does not run (cancel, speaker gone, destroy). */
void sn_audio_clip_free(sn_audio_clip *c);

#endif

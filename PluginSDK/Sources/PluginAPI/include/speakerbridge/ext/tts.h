/*
 * Plugin capability: a text-to-speech engine.
 * Part of the speakerbridge plugin ABI; plugins include speakerbridge_plugin.h.
 */
#ifndef SPEAKERBRIDGE_EXT_TTS_H
#define SPEAKERBRIDGE_EXT_TTS_H

#include "../core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A text-to-speech engine. */
#define SB_EXT_TTS "speakerbridge.tts/1"
typedef struct sb_tts_request {
    uint32_t struct_size;
    const char *text;
    const char *voice; /* NULL: the default */
    int32_t rate;      /* words per minute, 0: default */
    int32_t pitch;     /* 0..100, -1: default */
    bool ssml;
} sb_tts_request;
typedef struct sb_plugin_tts {
    uint32_t struct_size;
    /* [executor] Voices as a JSON array of {"id","language","name"}, written into `out`
     * (`out_size` is at least 65536). */
    sb_status (*voices)(sb_instance *instance, char *out, size_t out_size);
    /* [executor] Starts synthesis; completes with `{"url":…,"duration_ms":…}` (via the media
     * store) or a reason. A negative return means nothing started: no `complete` follows.
     * An engine may synthesise right here (blocking only this instance's executor, within the
     * host's call deadline) or on a thread of its own. */
    sb_status (*synthesize)(sb_instance *instance, const sb_tts_request *request,
                            uint64_t operation_id, char *err, size_t err_size);
} sb_plugin_tts;

#ifdef __cplusplus
}
#endif

#endif /* SPEAKERBRIDGE_EXT_TTS_H */

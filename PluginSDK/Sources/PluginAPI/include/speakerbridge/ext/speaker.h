/*
 * Plugin capability: a speaker driver.
 * Part of the speakerbridge plugin ABI; plugins include speakerbridge_plugin.h.
 */
#ifndef SPEAKERBRIDGE_EXT_SPEAKER_H
#define SPEAKERBRIDGE_EXT_SPEAKER_H

#include "../core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A speaker driver. */
#define SB_EXT_SPEAKER "speakerbridge.speaker/1"
typedef struct sb_speaker_info {
    uint32_t struct_size;
    const char *id;    /* stable: a UUID, a serial number */
    const char *name;  /* the room: "Kitchen" */
    const char *model;
    const char *group; /* group or zone name, or NULL */
    /* [since 1.1] IP address the speaker fetches clips from, or NULL (the host then advertises its
     * configured media address). Write it only when the host's `struct_size` covers it. */
    const char *address;
} sb_speaker_info;
typedef struct sb_clip {
    uint32_t struct_size;
    const char *url;      /* served by the host's media store */
    const char *mime;     /* "audio/wav", "audio/mpeg" */
    uint32_t duration_ms; /* 0 when unknown */
    int32_t volume;       /* 0..100, or -1 to keep the speaker's volume */
    /* [since 1.2] The announcement this clip belongs to: the same id for every speaker it goes to
     * (the MQTT request's `id`), or NULL. */
    const char *announcement_id;
    /* [since 1.2] SB_CLIP_* flags. */
    uint32_t flags;
    /* [since 1.2] With SB_CLIP_GROUP: the ids of every speaker of this instance the announcement
     * goes to (this one included), in the request's order; the driver may play the clip once on a
     * temporary group of them. `group_count` is 0 otherwise. */
    const char *const *group;
    uint32_t group_count;
} sb_clip;

/* Play only if the speaker is playing something now; otherwise complete at once with SB_OK and
 * the detail {"skipped":"not playing"}. A driver that cannot tell plays the clip. */
#define SB_CLIP_ONLY_WHEN_PLAYING (1u << 0)
/* The announcement asked for one synchronised temporary group of its speakers (`mode: group`);
 * a driver that cannot group plays the clip on each speaker as usual. */
#define SB_CLIP_GROUP (1u << 1)
typedef struct sb_plugin_speaker {
    uint32_t struct_size;
    /* [executor] The speakers this instance drives right now. `out->struct_size` is set by the
     * host; the strings stay valid until the next call into the instance. */
    uint32_t (*count)(sb_instance *instance);
    bool (*get)(sb_instance *instance, uint32_t index, sb_speaker_info *out);
    /* [executor] Starts playing `clip` on `speaker_id` and returns at once; the end (played,
     * failed, cancelled) is reported with SB_HOST_EXT_OPERATIONS `complete(operation_id, …)`.
     * A negative return means nothing started: no `complete` follows. */
    sb_status (*play_clip)(sb_instance *instance, const char *speaker_id, const sb_clip *clip,
                           uint64_t operation_id, char *err, size_t err_size);
    /* [executor] Stops an operation early; it still completes (with SB_ERR_CANCELLED). */
    sb_status (*cancel)(sb_instance *instance, uint64_t operation_id);
} sb_plugin_speaker;

#ifdef __cplusplus
}
#endif

#endif /* SPEAKERBRIDGE_EXT_SPEAKER_H */

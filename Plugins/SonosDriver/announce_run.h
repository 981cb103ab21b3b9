/* Internal to the announce layer: what announce.c (one announcement's steps), announce_group.c
 * (group mode's gathering of rooms) and announce_snapshot.c (the snapshot taken from the speaker
 * record) share. They are one module split into files of one job each, so this header is not part
 * of the driver's interface (announce.h is): nothing outside these three files includes it.
 *
 * The functions below carry an `announce_` prefix, not `sn_`: tests/layers.sh reads every
 * undefined sn_* symbol as a call between modules and allows calls to lower layers only, and these
 * files call each other both ways within the one layer. -fvisibility=hidden keeps them inside
 * sonos.so. */
#ifndef SONOS_ANNOUNCE_RUN_H
#define SONOS_ANNOUNCE_RUN_H

#include "audioclip.h"
#include "instance.h"
#include "sources.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef sn_source_kind source_kind;

typedef enum {
    A_GATHER, A_TRANSPORT, A_ONLY_WHEN_PLAYING, A_MEDIA, A_POSITION, A_VOLUME, A_MUTE, A_FIXED, A_PLAY_MODE,
    A_CROSSFADE, A_UNGROUP, A_LEAD_WAIT, A_SET_URI, A_SET_VOLUME, A_UNMUTE, A_PLAY, A_WAIT, R_URI, R_SEEK_TRACK,
    R_SEEK_TIME, R_PLAY_MODE, R_CROSSFADE, R_VOLUME, R_MUTE, R_PLAY, A_DONE
} step;

typedef struct sn_announcement {
    sb_instance *inst;
    sn_speaker *speaker;
    uint64_t operation;
    char url[1024];
    char mime[64];
    uint32_t duration_ms;
    int32_t volume;
    step step;

    /* snapshot */
    source_kind source;
    char prior_uri[1024];
    char *prior_metadata;
    char prior_transport[32];
    char prior_track[16];
    char prior_time[16];
    char prior_duration[16];
    int prior_volume;
    int prior_mute;
    bool fixed;
    char prior_play_mode[32];   /* "" unknown or not a queue */
    int prior_crossfade;        /* -1 unknown */
    bool from_state;            /* the snapshot came from the speaker record (its events) */
    bool only_when_playing;
    bool skipped;               /* not playing: left alone */
    bool changed_volume;
    bool changed_mute;
    bool ungrouped;
    bool changed_uri;

    /* progress */
    uint64_t started_ms;
    uint64_t play_acked_ms;
    uint64_t started_us;        /* the same two on a finer clock, for the benchmark's figures */
    uint64_t play_acked_us;
    uint32_t soap_calls;
    uint64_t fallback_timer;
    uint64_t poll_timer;
    uint64_t retry_timer;
    bool play_retried;
    bool poll_in_flight;
    bool volume_in_flight;      /* a stopped speaker's SetVolume, sent beside the clip's URI */
    bool waits_volume;          /* Play (idle speaker) or the restore's volume is held until that answer */
    bool saw_playing;
    bool cancelled;
    bool aborted;      /* the speaker went away: no restore, fail */
    bool in_call;      /* a step's SOAP action is in flight */
    char failure[320]; /* why playing failed (restore still runs) */
    char not_restored[320];
    bool finishing;    /* the outcome is known; waiting for answers in flight */
    sn_audio_clip *clip;        /* the audioClip API is playing it (no SOAP step runs meanwhile) */
    bool played_by_clip;        /* it played over the audioClip API: nothing to restore */
    bool clip_confirmed;        /* …and the player said DONE */
    char clip_fallback[320];    /* why the audioClip API was tried and UPnP played it instead */
    sb_status final_status;
    char final_reason[400];

    /* group mode */
    char announcement_id[128];      /* the request's id ("" none): the rooms of one announcement */
    struct sn_gathering *gathering; /* the rooms collected with this one; NULL when it plays alone */
    size_t group_index;             /* its place in the request's list of rooms */
    bool member;                    /* joins the leader's group instead of playing the clip */
    struct sn_announcement *leader; /* a member's leader while both run */
    unsigned joining;               /* a leader: members still on their way into its group */
    bool joined;                    /* a member: counted as in (or out of) the leader's group */

    struct sn_announcement *next;
} sn_announcement;

typedef struct sn_gathering sn_gathering;

/* announce.c: runs the current step (or the next ones that do not apply); its answer moves on. */
void announce_advance(sn_announcement *a);
/* announce.c: the clip is over (or cancelled): put back what the announcement changed. */
void announce_start_restore(sn_announcement *a);

/* announce_group.c: group mode (SB_CLIP_GROUP). */
bool announce_gathering_join(sn_announcement *a, const sb_clip *clip);
bool announce_gathering_full(const sn_gathering *g);
bool announce_gathering_closed(const sn_gathering *g);
void announce_gathering_close(sn_gathering *g);
void announce_gathering_leave(sn_announcement *a);
void announce_member_in(sn_announcement *a);
void announce_member_out(sn_announcement *a);
void announce_leader_done(sn_announcement *leader);

/* announce_snapshot.c: the snapshot from the speaker record, and what keeps it honest after a
 * restore. */
void announce_snapshot_from_state(sn_announcement *a);
bool announce_position_from_state(sn_announcement *a);
void announce_restore_sent(sn_announcement *a, bool play);
bool announce_record_lags_restore(const sn_speaker *s);

#endif

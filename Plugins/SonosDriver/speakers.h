/* The model: the speakers this instance knows, keyed by UDN and named for MQTT by their room.
 * It calls no feature module: what happens to a speaker (online, offline, moved, a Sonos player to
 * place in its household) is published on the lifecycle hub, and the feature modules react there.
 *
 * The speaker record holds each feature module's per-speaker slots too (subscriptions for gena.c,
 * the transport state for state.c, the audioClip API for audioclip.c, the running announcement for
 * announce.c): one allocation per speaker, freed with it. Only the owning module writes its slots. */
#ifndef SONOS_SPEAKERS_H
#define SONOS_SPEAKERS_H

#include <speakerbridge_plugin.h>

#include "description.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SN_MAX_SPEAKERS 64

/* The services a speaker is driven through, by short name (see sn_speaker.services). The first
 * four carry announcements, state and topology; the rest are reached by the typed commands and the
 * raw `upnp` command (all but ConnectionManager are Sonos's own: a plain renderer lacks them). */
typedef enum {
    SN_AVT, SN_RC, SN_GRC, SN_ZGT,
    SN_CD, SN_ALARM, SN_DP, SN_MS, SN_SP, SN_QUEUE, SN_AUDIOIN, SN_HT, SN_VLI, SN_GM, SN_CM,
    SN_SERVICE_COUNT
} sn_service_kind;

typedef struct sn_speaker sn_speaker;

/* gena.c's slot: one GENA subscription. */
typedef struct sn_subscription {
    sb_instance *inst;       /* back pointers for the NOTIFY route's callback */
    sn_speaker *speaker;
    sn_service_kind kind;
    char sid[160];
    uint64_t route_id;
    char callback[512];
    uint64_t renew_timer;
    bool pending;    /* a SUBSCRIBE is in flight */
    uint32_t seq;
    /* The first NOTIFY can overtake the answer to our SUBSCRIBE: while it is pending, one event is
     * kept (its SID and body) and applied only if the answer grants that very SID. */
    char early_sid[160];
    char *early_body;
    size_t early_size;
} sn_subscription;

struct sn_announcement;
struct sn_audio_clip;

struct sn_speaker {
    char id[64];        /* MQTT id: the room name as a slug ("living_room") */
    char uuid[128];
    char name[128];
    char model[128];
    char location[512];
    char address[64];   /* IPv4 from the location */
    char household[128];
    bool online;
    bool described;
    bool invisible;     /* bonded satellite or sub: not a room of its own */
    bool needs_id;      /* new or renamed: choose its MQTT id when it goes online */
    bool awaiting_topology; /* a Sonos player goes online once we know it is not a satellite */
    char offline_reason[96]; /* why it went offline ("the household says: powered off"); "" online */
    uint32_t requests;      /* SOAP requests and SUBSCRIBEs in flight that point at this record: it is
                             * not forgotten (freed) while any is (soap_call.c, gena.c count them) */
    uint64_t last_seen_ms;
    sn_description desc;
    const sn_service *services[SN_SERVICE_COUNT];

    /* gena.c */
    sn_subscription subs[SN_SERVICE_COUNT];

    /* state.c: what the events tell. */
    char transport[32];  /* PLAYING, PAUSED_PLAYBACK, STOPPED, TRANSITIONING, NO_MEDIA_PRESENT */
    int volume;          /* -1 unknown */
    int mute;            /* -1 unknown */
    bool output_fixed;
    char av_uri[1024];
    char track_uri[1024];
    char title[256];
    char artist[256];
    char album[256];
    char play_mode[32];
    char coordinator[64]; /* uuid of the group coordinator ("" unknown: itself) */
    char group_id[160];
    char last_state_json[8192];
    /* state.c, added for restores from events and the richer state. Events after the first carry
     * only what changed: a field keeps its value until an event names it. */
    char av_metadata[4096];   /* AVTransportURIMetaData as the event gave it (XML, unescaped) */
    int crossfade;            /* CurrentCrossfadeMode: 0, 1, -1 unknown */
    int track_number;         /* CurrentTrack (1-based in the queue), 0 unknown */
    char track_duration[16];  /* CurrentTrackDuration "0:03:25", "" unknown */
    char album_art[512];      /* upnp:albumArtURI, absolute (resolved against the location) */
    char next_title[256];     /* NextTrackMetaData / r:NextTrackMetaData */
    char next_artist[256];
    uint64_t avt_event_ms;    /* when the last AVTransport event arrived, 0 never */
    uint64_t rc_event_ms;     /* when the last RenderingControl event arrived, 0 never */
    /* The subscription SID each service's last event came under: a new SID (a new subscription)
     * makes the record stale until its initial, complete event arrives (sn_state_fresh). */
    char avt_event_sid[160];
    char rc_event_sid[160];
    /* The play position: RelTime in seconds as of position_at_ms (it runs on from there while
     * playing; position_at_ms 0: unknown), read with GetPositionInfo every 10 s while a
     * coordinator plays. */
    int position_s;
    uint64_t position_at_ms;
    uint64_t position_timer;

    /* audioclip.c: the local audioClip API, from GET /api/v1/players/local/info when the player
     * goes online. Players without it (S1, other renderers) keep audio_clip false. */
    bool audio_clip;
    char player_id[128];   /* the API's playerId (RINCON_…, the same as the uuid) */
    char ws_url[256];      /* wss://<address>:1443/websocket/api */
    uint32_t clip_probe;   /* numbers the info requests: only the newest answer counts */
    struct sn_audio_clip *clip;   /* the clip playing now (its announcement owns it), or NULL */
    sb_instance *clip_inst;       /* for the clip sockets' and timers' callbacks, which get the speaker */
    /* A cancelled clip's socket stays open a moment after its announcement ended: long enough to
     * send cancelAudioClip (once the clip's id is known) and hear the player confirm it. */
    uint64_t clip_cancel_socket;
    uint64_t clip_cancel_timer;
    char clip_cancel_id[128];     /* "" while the answer to loadAudioClip is still due */

    /* announce.c */
    struct sn_announcement *announcement; /* the one playing now, or NULL */
    /* What the last restore sent (its URI, and whether it sent Play) and until when the record may
     * still lag it: the restore's own events can arrive after the next announcement starts. */
    char restore_uri[1024];
    bool restore_playing;
    uint64_t restore_until_ms;

    /* commands_group.c */
    bool paused_by_pauseall;  /* pauseall paused this coordinator; resumeall plays it again */
};

/* "AVTransport", "RenderingControl" …: the service type's name in descriptions and logs. */
const char *sn_service_name(sn_service_kind kind);

sn_speaker *sn_speaker_by_uuid(sb_instance *inst, const char *uuid);
/* A described speaker by MQTT id (what the host passes); for commands typed by hand also by room
 * name (any case) or uuid, when no speaker has that id. */
sn_speaker *sn_speaker_find(sb_instance *inst, const char *key);
/* A new, undescribed speaker; NULL when the table is full (logged) or out of memory. */
sn_speaker *sn_speaker_add(sb_instance *inst, const char *uuid);
/* Takes a (new or repeated) description fetched from `location`. Publishes MOVED when the location
 * changed, then ONLINE for a plain renderer or NEEDS_TOPOLOGY for a Sonos player not online yet. */
void sn_speaker_apply_description(sb_instance *inst, sn_speaker *s, const sn_description *d, const char *location);
/* Publishes availability to the host and ONLINE or OFFLINE on the hub; nothing when unchanged. */
void sn_speaker_set_online(sb_instance *inst, sn_speaker *s, bool online, const char *why);
/* The list handed to the host: described rooms with an AVTransport and an id. */
void sn_speakers_rebuild_visible(sb_instance *inst);
/* The speaker that takes transport commands for `s`: its group coordinator when known. */
sn_speaker *sn_speaker_coordinator(sb_instance *inst, sn_speaker *s);
void sn_speakers_free(sb_instance *inst);

#endif

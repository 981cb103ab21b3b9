/* The Sonos/UPnP driver's shared types: the instance, its speakers and the async plumbing every
 * module uses. All of it lives on the instance's serial executor (the host delivers HTTP answers,
 * datagrams, timer ticks and NOTIFY routes there), so nothing here needs a lock. */
#ifndef SONOS_DRIVER_H
#define SONOS_DRIVER_H

#include <speakerbridge_plugin.h>

#include "description.h"
#include "soap.h"
#include "text.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SN_PLUGIN_ID "org.speakerbridge.sonos"
#define SN_PLUGIN_VERSION "1.0.0"
#define SN_MAX_SPEAKERS 64
#define SN_MAX_STATIC 32
#define SN_MAX_FETCHING 16

/* The services a speaker is driven through, by short name (see sn_speaker.service). */
typedef enum { SN_AVT, SN_RC, SN_GRC, SN_ZGT, SN_SERVICE_COUNT } sn_service_kind;

typedef struct sn_config {
    bool discovery;             /* SSDP on the interface; false: the static list only */
    char interface[64];         /* "" = the host's network.interface */
    char household[128];        /* Sonos household filter ("" = any) */
    char *static_speakers[SN_MAX_STATIC];
    size_t static_count;
    uint32_t search_interval_ms;  /* M-SEARCH rounds */
    uint32_t probe_interval_ms;   /* offline speakers are probed this often */
    uint32_t offline_after_ms;    /* not seen (SSDP, events, answers) for this long: probe it */
    uint32_t subscription_s;      /* GENA TIMEOUT asked for */
    uint32_t soap_timeout_ms;
    uint32_t announce_margin_ms;  /* wait past the clip's duration before giving up on STOPPED */
    bool renderers;               /* also plain MediaRenderer:1 devices */
    bool interrupt_unrestorable;  /* announce over a cloud queue / AirPlay anyway (and say so) */
    bool audio_clip;              /* the local audioClip API on players that list AUDIO_CLIP */
    char api_key[128];            /* X-Sonos-Api-Key for that API */
    uint16_t audio_clip_port;     /* its port: 1443 on every Sonos player (tests use another) */
} sn_config;

typedef struct sn_speaker sn_speaker;

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
} sn_subscription;

struct sn_announcement;

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
    uint64_t last_seen_ms;
    sn_description desc;
    const sn_service *services[SN_SERVICE_COUNT];
    sn_subscription subs[SN_SERVICE_COUNT];

    /* State as the events tell it. */
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
    char last_state_json[4096];

    /* The local audioClip API (audioclip.c), from GET /api/v1/players/local/info when the
     * player goes online. Players without it (S1, other renderers) keep audio_clip false. */
    bool audio_clip;
    char player_id[128];   /* the API's playerId (RINCON_…, the same as the uuid) */
    char ws_url[256];      /* wss://<address>:1443/websocket/api */
    uint32_t clip_probe;   /* numbers the info requests: only the newest answer counts */

    struct sn_announcement *announcement; /* the one playing now, or NULL */
};

/* One HTTP request the instance has in flight: kept in a list so destroy can cancel them. */
typedef struct sn_call sn_call;
typedef void (*sn_http_fn)(sb_instance *inst, void *ctx, const sb_http_response *response);
typedef void (*sn_soap_fn)(sb_instance *inst, void *ctx, int ok, sn_soap_result *result);

struct sb_instance {
    const sb_host *host;
    const sb_host_log *log;
    const sb_host_timers *timers;
    const sb_host_publish *publish;
    const sb_host_operations *operations;
    const sb_host_http *http;
    const sb_host_udp *udp;
    const sb_host_routes *routes;
    const sb_host_websocket *ws;   /* NULL on hosts without it: no audioClip API then */
    sn_config config;

    sn_speaker *speakers[SN_MAX_SPEAKERS];
    size_t speaker_count;
    /* The list handed to the host by count/get: visible speakers only, rebuilt on change. */
    sn_speaker *visible[SN_MAX_SPEAKERS];
    uint32_t visible_count;

    uint64_t search_socket;    /* 0 when discovery is off or failed */
    uint64_t notify_socket;    /* port 1900 listener for alive/byebye; 0 when unavailable */
    uint64_t search_timer;
    uint64_t probe_timer;
    uint32_t search_round;

    char fetching[SN_MAX_FETCHING][512]; /* description URLs being fetched */
    sn_call *calls;            /* in-flight HTTP requests */
    struct sn_announcement *announcements;
    uint64_t clock_ms;         /* monotonic, refreshed by sn_now_ms */
};

/* hostapi.c */
void sn_log(sb_instance *inst, int32_t level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
uint64_t sn_now_ms(void);
uint64_t sn_timer_start(sb_instance *inst, uint32_t delay_ms, uint32_t period_ms, sb_timer_fn fn, void *user);
void sn_timer_cancel(sb_instance *inst, uint64_t *timer_id);
/* Starts an HTTP request; `done` runs once with the answer (or a failure in response->status).
 * Returns false when it could not start (then `done` does not run). When the request is
 * cancelled instead (destroy), `drop` (may be NULL) frees `ctx`. */
bool sn_http(sb_instance *inst, const char *method, const char *url, const sb_http_header *headers,
             size_t header_count, const char *body, size_t body_size, uint32_t timeout_ms,
             size_t max_size, sn_http_fn done, void *ctx, void (*drop)(void *ctx));
/* The same with SB_HTTP_* flags (SB_HTTP_TLS_NO_VERIFY for a player's self-signed https). */
bool sn_http_flags(sb_instance *inst, const char *method, const char *url, const sb_http_header *headers,
                   size_t header_count, const char *body, size_t body_size, uint32_t timeout_ms,
                   size_t max_size, uint32_t flags, sn_http_fn done, void *ctx, void (*drop)(void *ctx));
void sn_http_cancel_all(sb_instance *inst);
const char *sn_header(const sb_http_header *headers, size_t count, const char *name);

/* config.c */
int sn_config_parse(const char *json, sn_config *out, char *err, size_t err_size);
void sn_config_free(sn_config *c);

/* speakers.c */
sn_speaker *sn_speaker_by_uuid(sb_instance *inst, const char *uuid);
/* By MQTT id, room name (any case) or uuid. */
sn_speaker *sn_speaker_find(sb_instance *inst, const char *key);
sn_speaker *sn_speaker_add(sb_instance *inst, const char *uuid);
void sn_speaker_apply_description(sb_instance *inst, sn_speaker *s, const sn_description *d, const char *location);
void sn_speaker_set_online(sb_instance *inst, sn_speaker *s, bool online, const char *why);
void sn_speakers_rebuild_visible(sb_instance *inst);
/* The speaker that takes transport commands for `s`: its group coordinator when known. */
sn_speaker *sn_speaker_coordinator(sb_instance *inst, sn_speaker *s);
void sn_speakers_free(sb_instance *inst);

/* discovery.c */
void sn_discovery_start(sb_instance *inst);
void sn_discovery_stop(sb_instance *inst);
/* Fetches (again) the description at `location` and updates or adds its speaker. */
void sn_describe(sb_instance *inst, const char *location, const char *household);
/* Something suggests the speaker is gone (a request to it failed): check its description now. */
void sn_suspect(sb_instance *inst, sn_speaker *s, const char *why);

/* soap_call.c */
/* Sends `action` to the speaker's `kind` service; `done` gets ok=1 and the parsed answer, or ok=0
 * and the reason in result->reason. Returns false (and `done` does not run) when the speaker has
 * no such service or the request could not start; `err` says which. */
bool sn_soap(sb_instance *inst, sn_speaker *s, sn_service_kind kind, const char *action,
             const char *const *args, sn_soap_fn done, void *ctx, char *err, size_t err_size);
const char *sn_service_name(sn_service_kind kind);

/* gena.c */
void sn_gena_subscribe_all(sb_instance *inst, sn_speaker *s);
void sn_gena_drop_all(sb_instance *inst, sn_speaker *s);

/* state.c */
void sn_state_apply_avt(sb_instance *inst, sn_speaker *s, const char *name, const char *value);
void sn_state_apply_rc(sb_instance *inst, sn_speaker *s, const char *name, const char *channel, const char *value);
void sn_state_apply_topology(sb_instance *inst, const char *zone_group_state);
void sn_state_publish(sb_instance *inst, sn_speaker *s);
void sn_topology_refresh(sb_instance *inst, sn_speaker *s);

/* announce.c */
sb_status sn_announce_start(sb_instance *inst, const char *speaker_id, const sb_clip *clip,
                            uint64_t operation_id, char *err, size_t err_size);
sb_status sn_announce_cancel(sb_instance *inst, uint64_t operation_id);
/* Transport state changed by an event: an announcement waiting for STOPPED may finish. */
void sn_announce_transport_changed(sb_instance *inst, sn_speaker *s);
void sn_announce_speaker_gone(sb_instance *inst, sn_speaker *s);
void sn_announce_free_all(sb_instance *inst);

/* audioclip.c: one clip over the local audioClip API, which plays it over the music (ducking). */
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
/* Asks a player that just went online (or moved) whether it has the API. Quietly not when the
 * setting is off, the host has no WebSocket service, or the player is no Sonos. */
void sn_audio_clip_probe(sb_instance *inst, sn_speaker *s);
bool sn_audio_clip_usable(const sb_instance *inst, const sn_speaker *s);
/* Starts playing; NULL (and `done` never runs) when it could not even start, `err` says why. */
sn_audio_clip *sn_audio_clip_play(sb_instance *inst, sn_speaker *s, const char *url, int32_t volume,
                                  uint32_t duration_ms, sn_clip_done_fn done, void *ctx, char *err, size_t err_size);
/* Closes its socket and timers and frees it; `done` does not run (cancel, speaker gone, destroy). */
void sn_audio_clip_free(sn_audio_clip *c);

/* commands.c */
extern const sb_plugin_commands sn_commands_table;

#endif

/* The Sonos local audioClip API: S2 players that list AUDIO_CLIP in their capabilities play a
 * clip over whatever they are playing, ducking the music instead of stopping it. Nothing is
 * snapshotted and nothing needs restoring: the queue, the group and the volume stay as they were.
 *
 *   probe: GET https://<ip>:1443/api/v1/players/local/info (self-signed certificate, the API key
 *          header) when a player goes online: capabilities, playerId, websocketUrl
 *   play:  wss://<ip>:1443/websocket/api, subprotocol v1.api.smartspeaker.audio;
 *          loadAudioClip -> its answer (the clip's id) -> audioClipStatus events ACTIVE … DONE
 *
 * A player that cannot take the clip (no connection, an error answer, ERROR before it played)
 * hands the announcement back to the UPnP path (announce.c). The socket is closed on every way
 * out, and the object is freed with it, so nothing outlives the announcement. */
#define _POSIX_C_SOURCE 200809L

#include "audioclip.h"
#include "json.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INFO_MAX (64u * 1024u)
#define MESSAGE_MAX (256u * 1024u)
#define SUBPROTOCOL "v1.api.smartspeaker.audio"
#define NAMESPACE "audioClip:1"
#define UNKNOWN_DURATION_WAIT_MS 120000u

typedef enum { C_CONNECTING, C_LOADING, C_PLAYING } clip_phase;

struct sn_audio_clip {
    sb_instance *inst;
    char speaker[64];     /* the speaker's id, for logs */
    uint64_t socket;      /* 0 once closed (by us or by the host's SB_WS_CLOSED) */
    uint64_t answer_timer; /* no loadAudioClip answer in time: fall back */
    uint64_t end_timer;   /* the clip's length + margin: it has played, DONE or not */
    clip_phase phase;
    char *command;        /* loadAudioClip, sent once the socket is open */
    char clip_id[128];    /* the player's id for our clip, from the answer */
    bool saw_active;      /* an ACTIVE status event: the clip is audible */
    uint64_t started_ms;
    uint64_t acked_ms;
    uint32_t duration_ms;
    sn_clip_done_fn done;
    void *ctx;
};

/* --- capabilities ------------------------------------------------------------------------------ */

typedef struct probe_ctx {
    char uuid[128];
    uint32_t probe;
} probe_ctx;

static bool has_capability(const sn_json *info, const char *name)
{
    const sn_json *caps = sn_json_get(sn_json_get(info, "device"), "capabilities");
    if (caps == NULL || caps->type != SN_JSON_ARRAY) return false;
    for (size_t i = 0; i < caps->count; i++) {
        if (caps->items[i].type == SN_JSON_STRING && strcmp(caps->items[i].string, name) == 0) return true;
    }
    return false;
}

static void info_done(sb_instance *inst, void *user, const sb_http_response *response)
{
    probe_ctx *ctx = user;
    sn_speaker *s = sn_speaker_by_uuid(inst, ctx->uuid);
    /* An older probe (the player moved, or went offline and came back since) says nothing now. */
    if (s == NULL || s->clip_probe != ctx->probe || !s->online) {
        free(ctx);
        return;
    }
    free(ctx);
    char why[200] = "";
    sn_json *info = NULL;
    if (response->status != SB_OK) {
        sn_set_err(why, sizeof why, "%s", response->error != NULL ? response->error : "no answer");
    } else if (response->http_status != 200) {
        sn_set_err(why, sizeof why, "HTTP %d", (int)response->http_status);
    } else if ((info = sn_json_parse(response->body, response->body_size, why, sizeof why)) == NULL) {
        /* why says where the JSON broke */
    } else if (!has_capability(info, "AUDIO_CLIP")) {
        sn_set_err(why, sizeof why, "AUDIO_CLIP is not among its capabilities");
    }
    const sn_json *player_id = sn_json_get(info, "playerId");
    const sn_json *ws_url = sn_json_get(info, "websocketUrl");
    if (why[0] == '\0' && (player_id == NULL || player_id->type != SN_JSON_STRING || strcmp(player_id->string, s->uuid) != 0)) {
        /* The API speaks for the player at that address; a different playerId means the address
         * belongs to someone else now (or the answer is not to be trusted). */
        sn_set_err(why, sizeof why, "its playerId is not %s", s->uuid);
    }
    if (why[0] != '\0') {
        /* S1 players and other renderers have no such API: that is normal, not a warning. */
        sn_log(inst, SB_LOG_DEBUG, "%s: no audioClip API (%s); announcements use UPnP", s->id, why);
        sn_json_free(info);
        return;
    }
    /* The socket the player names, as long as it is on the player's own address: the API key
     * goes nowhere else. Otherwise the documented place. */
    char expected[96];
    snprintf(expected, sizeof expected, "wss://%s:", s->address);
    if (ws_url != NULL && ws_url->type == SN_JSON_STRING && strncmp(ws_url->string, expected, strlen(expected)) == 0 &&
        strlen(ws_url->string) < sizeof s->ws_url) {
        sn_copy(s->ws_url, sizeof s->ws_url, ws_url->string);
    } else {
        snprintf(s->ws_url, sizeof s->ws_url, "wss://%s:%u/websocket/api", s->address, (unsigned)inst->config.audio_clip_port);
    }
    sn_copy(s->player_id, sizeof s->player_id, player_id->string);
    s->audio_clip = true;
    sn_log(inst, SB_LOG_INFO, "%s plays announcements through the audioClip API (%s)", s->id, s->ws_url);
    sn_json_free(info);
}

/* Asks a player that just went online (or moved) whether it has the API. */
static void probe(sb_instance *inst, sn_speaker *s, const char *why, void *user)
{
    (void)why;
    (void)user;
    /* Whatever an earlier answer said is stale now: a moved or rebooted player is asked again. */
    s->audio_clip = false;
    s->player_id[0] = '\0';
    s->ws_url[0] = '\0';
    s->clip_probe++;
    if (!inst->config.audio_clip || inst->ws == NULL || !s->desc.is_sonos || s->address[0] == '\0') return;
    probe_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) return;
    sn_copy(ctx->uuid, sizeof ctx->uuid, s->uuid);
    ctx->probe = s->clip_probe;
    char url[160];
    snprintf(url, sizeof url, "https://%s:%u/api/v1/players/local/info", s->address, (unsigned)inst->config.audio_clip_port);
    sb_http_header headers[] = { { "X-Sonos-Api-Key", inst->config.api_key }, { "Accept", "application/json" } };
    if (!sn_http_flags(inst, "GET", url, headers, 2, NULL, 0, inst->config.soap_timeout_ms, INFO_MAX,
                       SB_HTTP_TLS_NO_VERIFY, info_done, ctx, free)) {
        free(ctx);
    }
}

static void forget(sb_instance *inst, sn_speaker *s, const char *why, void *user)
{
    (void)inst;
    (void)why;
    (void)user;
    s->audio_clip = false;
}

/* After a move the old answer spoke for the old address; offline players are asked when back. */
static void probe_if_online(sb_instance *inst, sn_speaker *s, const char *why, void *user)
{
    if (s->online) probe(inst, s, why, user);
}

void sn_audio_clip_init(sb_instance *inst)
{
    sn_lifecycle_on(&inst->hub, SN_EV_ONLINE, probe, NULL);
    sn_lifecycle_on(&inst->hub, SN_EV_OFFLINE, forget, NULL);
    sn_lifecycle_on(&inst->hub, SN_EV_MOVED, probe_if_online, NULL);
}

bool sn_audio_clip_usable(const sb_instance *inst, const sn_speaker *s)
{
    return inst->config.audio_clip && inst->ws != NULL && s->audio_clip && s->ws_url[0] != '\0' && s->player_id[0] != '\0';
}

/* --- one clip ---------------------------------------------------------------------------------- */

void sn_audio_clip_free(sn_audio_clip *c)
{
    if (c == NULL) return;
    sb_instance *inst = c->inst;
    sn_timer_cancel(inst, &c->answer_timer);
    sn_timer_cancel(inst, &c->end_timer);
    /* After close no event follows, so freeing right after is safe. */
    if (c->socket != 0) inst->ws->close(inst->host, c->socket);
    c->socket = 0;
    free(c->command);
    free(c);
}

/* Ends the clip: everything is released before `done` runs, which may start the UPnP path or
 * complete (and free) the announcement. Nothing here touches `c` after that. */
static void end(sn_audio_clip *c, sn_clip_outcome outcome, const char *reason, bool confirmed, bool dismissed)
{
    char why[320];
    sn_copy(why, sizeof why, reason != NULL ? reason : "");
    sn_clip_result result = {
        .outcome = outcome,
        .reason = why,
        .ack_ms = c->acked_ms > 0 ? c->acked_ms - c->started_ms : 0,
        .confirmed = confirmed,
        .dismissed = dismissed,
    };
    sn_clip_done_fn done = c->done;
    void *ctx = c->ctx;
    sn_audio_clip_free(c);
    done(ctx, &result);
}

static void answer_tick(void *user, uint64_t timer_id)
{
    (void)timer_id;
    sn_audio_clip *c = user;
    c->answer_timer = 0;
    if (c->phase == C_PLAYING) return;
    end(c, SN_CLIP_FALLBACK, c->phase == C_CONNECTING ? "the audioClip API did not connect in time"
                                                      : "the audioClip API did not answer loadAudioClip in time",
        false, false);
}

static void end_tick(void *user, uint64_t timer_id)
{
    (void)timer_id;
    sn_audio_clip *c = user;
    c->end_timer = 0;
    /* The player took the clip and plays it without us; a lost DONE must not hold the queue. */
    sn_log(c->inst, SB_LOG_INFO, "%s: no DONE from the audioClip API within the clip's length + margin", c->speaker);
    end(c, SN_CLIP_PLAYED, "", false, false);
}

static const char *string_of(const sn_json *object, const char *key)
{
    const sn_json *v = sn_json_get(object, key);
    return v != NULL && v->type == SN_JSON_STRING ? v->string : NULL;
}

/* The answer to our loadAudioClip: success with the clip (its id), or an error. */
static void on_load_answer(sn_audio_clip *c, const sn_json *header, const sn_json *body)
{
    const sn_json *success = sn_json_get(header, "success");
    const char *object_type = string_of(body, "_objectType");
    const char *id = string_of(body, "id");
    if (success == NULL || success->type != SN_JSON_BOOL || !success->boolean || object_type == NULL ||
        strcmp(object_type, "audioClip") != 0 || id == NULL || id[0] == '\0' || strlen(id) >= sizeof c->clip_id) {
        const char *code = string_of(body, "errorCode");
        const char *reason = string_of(body, "reason");
        char why[320];
        sn_set_err(why, sizeof why, "loadAudioClip was refused: %s%s%s", code != NULL ? code : "no clip in the answer",
                   reason != NULL ? ": " : "", reason != NULL ? reason : "");
        end(c, SN_CLIP_FALLBACK, why, false, false);
        return;
    }
    sn_copy(c->clip_id, sizeof c->clip_id, id);
    c->phase = C_PLAYING;
    c->acked_ms = sn_now_ms();
    sn_timer_cancel(c->inst, &c->answer_timer);
    uint32_t wait = c->duration_ms > 0 ? c->duration_ms + c->inst->config.announce_margin_ms : UNKNOWN_DURATION_WAIT_MS;
    c->end_timer = sn_timer_start(c->inst, wait, 0, end_tick, c);
}

/* audioClipStatus: the state of every clip the player knows; ours is found by its id. */
static void on_status(sn_audio_clip *c, const sn_json *body)
{
    const sn_json *clips = sn_json_get(body, "audioClips");
    if (clips == NULL || clips->type != SN_JSON_ARRAY || c->clip_id[0] == '\0') return;
    for (size_t i = 0; i < clips->count; i++) {
        const char *id = string_of(&clips->items[i], "id");
        const char *status = string_of(&clips->items[i], "status");
        if (id == NULL || status == NULL || strcmp(id, c->clip_id) != 0) continue;
        if (strcmp(status, "ACTIVE") == 0) {
            c->saw_active = true;
        } else if (strcmp(status, "DONE") == 0) {
            end(c, SN_CLIP_PLAYED, "", true, false);
            return;
        } else if (strcmp(status, "DISMISSED") == 0) {
            end(c, SN_CLIP_PLAYED, "dismissed", true, true);
            return;
        } else if (strcmp(status, "ERROR") == 0) {
            const char *code = string_of(&clips->items[i], "errorCode");
            char why[320];
            sn_set_err(why, sizeof why, "the player could not play the clip (%s)", code != NULL ? code : "ERROR");
            /* Before it was heard, UPnP may still get it through (another decoder path, a
             * different fetch); after, playing it again would be worse than failing. */
            end(c, c->saw_active ? SN_CLIP_FAILED : SN_CLIP_FALLBACK, why, false, false);
            return;
        }
    }
}

static void on_message(sn_audio_clip *c, const char *data, size_t size)
{
    char why[200];
    sn_json *message = sn_json_parse(data, size, why, sizeof why);
    if (message == NULL || message->type != SN_JSON_ARRAY || message->count < 2 ||
        message->items[0].type != SN_JSON_OBJECT || message->items[1].type != SN_JSON_OBJECT) {
        sn_log(c->inst, SB_LOG_DEBUG, "%s: audioClip API message ignored: %s", c->speaker,
               message == NULL ? why : "not [header, body]");
        sn_json_free(message);
        return;
    }
    const sn_json *header = &message->items[0];
    const sn_json *body = &message->items[1];
    const char *response = string_of(header, "response");
    const char *type = string_of(header, "type");
    const char *object_type = string_of(body, "_objectType");
    const char *cmd_id = string_of(header, "cmdId");
    if (c->phase == C_LOADING && response != NULL && strcmp(response, "loadAudioClip") == 0 &&
        (cmd_id == NULL || strcmp(cmd_id, "1") == 0)) {
        on_load_answer(c, header, body);
    } else if (c->phase == C_LOADING && object_type != NULL && strcmp(object_type, "globalError") == 0) {
        /* An error not tied to our command (a bad key, an unknown player): the same verdict. */
        on_load_answer(c, header, body);
    } else if (c->phase == C_PLAYING && type != NULL && strcmp(type, "audioClipStatus") == 0) {
        on_status(c, body);
    }
    /* `c` may be gone here (the clip ended): only the message is freed. */
    sn_json_free(message);
}

static void on_event(void *user, uint64_t socket_id, int32_t event, const char *data, size_t size)
{
    sn_audio_clip *c = user;
    if (socket_id != c->socket) return;
    switch (event) {
    case SB_WS_OPEN: {
        if (c->phase != C_CONNECTING) return;
        c->phase = C_LOADING;
        sb_status st = c->inst->ws->send_text(c->inst->host, c->socket, c->command, strlen(c->command));
        if (st != SB_OK) {
            char why[96];
            sn_set_err(why, sizeof why, "loadAudioClip could not be sent (status %d)", (int)st);
            end(c, SN_CLIP_FALLBACK, why, false, false);
        }
        return;
    }
    case SB_WS_TEXT:
        on_message(c, data, size);
        return;
    case SB_WS_CLOSED: {
        c->socket = 0; /* nothing follows; free must not close it again */
        char why[320];
        sn_set_err(why, sizeof why, "the audioClip connection closed: %.*s", (int)(size < 200 ? size : 200),
                   data != NULL ? data : "");
        if (c->phase != C_PLAYING) {
            end(c, SN_CLIP_FALLBACK, why, false, false);
        } else {
            /* The player plays a loaded clip on its own; only its DONE is lost. The end timer
             * finishes the announcement at the clip's length + margin. */
            sn_log(c->inst, SB_LOG_INFO, "%s: %s while the clip plays; waiting for its length", c->speaker, why);
        }
        return;
    }
    default:
        return;
    }
}

static char *load_command(const sn_speaker *s, const char *url, int32_t volume)
{
    sn_text t = { 0 };
    sn_text_puts(&t, "[{\"namespace\":\"" NAMESPACE "\",\"command\":\"loadAudioClip\",\"playerId\":");
    sn_text_json_string(&t, s->player_id);
    sn_text_puts(&t, ",\"cmdId\":\"1\"},{\"name\":\"speakerbridge\",\"appId\":\"org.speakerbridge\",\"streamUrl\":");
    sn_text_json_string(&t, url);
    /* The clip's own level; the music underneath keeps the room's volume (ducked). */
    if (volume >= 0 && volume <= 100) sn_text_printf(&t, ",\"volume\":%d", (int)volume);
    sn_text_puts(&t, ",\"priority\":\"HIGH\",\"clipType\":\"CUSTOM\"}]");
    if (t.failed) {
        sn_text_free(&t);
        return NULL;
    }
    return t.data;
}

sn_audio_clip *sn_audio_clip_play(sb_instance *inst, sn_speaker *s, const char *url, int32_t volume,
                                  uint32_t duration_ms, sn_clip_done_fn done, void *ctx, char *err, size_t err_size)
{
    if (!sn_audio_clip_usable(inst, s)) {
        sn_set_err(err, err_size, "%s has no audioClip API", s->id);
        return NULL;
    }
    sn_audio_clip *c = calloc(1, sizeof *c);
    if (c == NULL || (c->command = load_command(s, url, volume)) == NULL) {
        free(c);
        sn_set_err(err, err_size, "out of memory");
        return NULL;
    }
    c->inst = inst;
    sn_copy(c->speaker, sizeof c->speaker, s->id);
    c->phase = C_CONNECTING;
    c->started_ms = sn_now_ms();
    c->duration_ms = duration_ms;
    c->done = done;
    c->ctx = ctx;
    sb_http_header headers[] = { { "X-Sonos-Api-Key", inst->config.api_key } };
    sb_ws_request request = {
        .struct_size = sizeof request,
        .url = s->ws_url,
        .headers = headers,
        .header_count = 1,
        .subprotocol = SUBPROTOCOL,
        .flags = SB_HTTP_TLS_NO_VERIFY,
        .timeout_ms = inst->config.soap_timeout_ms,
        .max_message_size = MESSAGE_MAX,
    };
    sb_status st = inst->ws->open(inst->host, &request, on_event, c, &c->socket);
    if (st != SB_OK) {
        c->socket = 0;
        sn_set_err(err, err_size, "the host could not open %s (status %d)", s->ws_url, (int)st);
        sn_audio_clip_free(c);
        return NULL;
    }
    /* Connecting and the answer to loadAudioClip together; the host's own connect timeout
     * normally ends a dead connection first (SB_WS_CLOSED). */
    c->answer_timer = sn_timer_start(inst, 2 * inst->config.soap_timeout_ms, 0, answer_tick, c);
    return c;
}

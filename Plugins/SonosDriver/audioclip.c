/* The Sonos local audioClip API: S2 players that list AUDIO_CLIP in their capabilities play a
 * clip over whatever they are playing, ducking the music instead of stopping it. Nothing is
 * snapshotted and nothing needs restoring: the queue, the group and the volume stay as they were.
 *
 *   probe:  GET https://<ip>:1443/api/v1/players/local/info (self-signed certificate, the API key
 *           header) when a player goes online: capabilities, playerId, websocketUrl
 *   play:   wss://<ip>:1443/websocket/api, subprotocol v1.api.smartspeaker.audio;
 *           subscribe -> its answer -> loadAudioClip -> its answer (the clip's id) ->
 *           audioClipStatus events (ACTIVE … DONE, INTERRUPTED, DISMISSED, ERROR)
 *   cancel: cancelAudioClip {id} -> its answer or DISMISSED, then the socket closes
 *
 * What real players do (Sonos control API reference, audioClip namespace; the clients
 * music-assistant/aiosonos and jjlawren/sonos-websocket): status events reach only a connection
 * that subscribed, and list every clip the player knows (other apps' too), so ours is picked by
 * its id; replies carry `success`, events never do; closing the socket does not stop a loaded
 * clip. A player that cannot take the clip (no connection, an error answer, ERROR before it
 * played) hands the announcement back to the UPnP path (announce.c). */
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

static void cancel_close(sb_instance *inst, sn_speaker *s, const char *why);

static void forget(sb_instance *inst, sn_speaker *s, const char *why, void *user)
{
    (void)user;
    s->audio_clip = false;
    cancel_close(inst, s, why);
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

/* --- messages ---------------------------------------------------------------------------------- */

/* Every command carries the namespace, the command, the playerId and a cmdId in its header
 * (Sonos control API; music-assistant/aiosonos and jjlawren/sonos-websocket send the same). */
static char *command_text(const char *player_id, const char *command, const char *cmd_id, const char *clip_id,
                          const char *url, int32_t volume)
{
    sn_text t = { 0 };
    sn_text_puts(&t, "[{\"namespace\":\"" NAMESPACE "\",\"command\":\"");
    sn_text_puts(&t, command);
    sn_text_puts(&t, "\",\"playerId\":");
    sn_text_json_string(&t, player_id);
    sn_text_printf(&t, ",\"cmdId\":\"%s\"", cmd_id);
    if (clip_id != NULL) {
        /* The clip's id is a path parameter of cancelAudioClip (DELETE …/audioClip/{id}); path
         * parameters travel in the header on the socket (as aiosonos sends playerId), and some
         * clients put it in the body: a player reads the one it knows, so both carry it. */
        sn_text_puts(&t, ",\"id\":");
        sn_text_json_string(&t, clip_id);
        sn_text_puts(&t, "},{\"id\":");
        sn_text_json_string(&t, clip_id);
        sn_text_puts(&t, "}]");
    } else if (url != NULL) {
        sn_text_puts(&t, "},{\"name\":\"speakerbridge\",\"appId\":\"org.speakerbridge\",\"streamUrl\":");
        sn_text_json_string(&t, url);
        /* The clip's own level; the music underneath keeps the room's volume (ducked). */
        if (volume >= 0 && volume <= 100) sn_text_printf(&t, ",\"volume\":%d", (int)volume);
        sn_text_puts(&t, ",\"priority\":\"HIGH\",\"clipType\":\"CUSTOM\"}]");
    } else {
        sn_text_puts(&t, "},{}]");
    }
    if (t.failed) {
        sn_text_free(&t);
        return NULL;
    }
    return t.data;
}

static const char *string_of(const sn_json *object, const char *key)
{
    const sn_json *v = sn_json_get(object, key);
    return v != NULL && v->type == SN_JSON_STRING ? v->string : NULL;
}

/* One [header, body] message, sorted: a reply to a command (it carries `success`), or an event
 * (it never does). */
typedef struct message {
    sn_json *json;
    const sn_json *header;
    const sn_json *body;
    const char *response;  /* replies: the command answered */
    const char *cmd_id;
    bool is_reply;
    bool success;
    bool is_status;        /* an audioClipStatus event */
} message;

static bool parse_message(message *m, const char *data, size_t size, char *why, size_t why_size)
{
    *m = (message){ 0 };
    m->json = sn_json_parse(data, size, why, why_size);
    if (m->json == NULL) return false;
    if (m->json->type != SN_JSON_ARRAY || m->json->count < 2 || m->json->items[0].type != SN_JSON_OBJECT ||
        m->json->items[1].type != SN_JSON_OBJECT) {
        sn_set_err(why, why_size, "not [header, body]");
        sn_json_free(m->json);
        m->json = NULL;
        return false;
    }
    m->header = &m->json->items[0];
    m->body = &m->json->items[1];
    m->response = string_of(m->header, "response");
    m->cmd_id = string_of(m->header, "cmdId");
    const sn_json *success = sn_json_get(m->header, "success");
    m->is_reply = success != NULL;
    m->success = success != NULL && success->type == SN_JSON_BOOL && success->boolean;
    const char *type = string_of(m->header, "type");
    const char *object_type = string_of(m->body, "_objectType");
    m->is_status = !m->is_reply && ((type != NULL && strcmp(type, "audioClipStatus") == 0) ||
                                    (object_type != NULL && strcmp(object_type, "audioClipStatus") == 0));
    return true;
}

/* A reply names its command in `response` and echoes our cmdId; either one is enough to match
 * (aiosonos matches replies by cmdId alone), but neither may name another command. */
static bool is_reply_to(const message *m, const char *command, const char *cmd_id)
{
    if (!m->is_reply || (m->response == NULL && m->cmd_id == NULL)) return false;
    return (m->response == NULL || strcmp(m->response, command) == 0) && (m->cmd_id == NULL || strcmp(m->cmd_id, cmd_id) == 0);
}

/* The status of clip `id` in an audioClipStatus event (which lists every clip the player knows,
 * also other apps' clips), or NULL when the event does not name it. */
static const sn_json *clip_in_status(const message *m, const char *id)
{
    const sn_json *clips = sn_json_get(m->body, "audioClips");
    if (clips == NULL || clips->type != SN_JSON_ARRAY || id[0] == '\0') return NULL;
    for (size_t i = 0; i < clips->count; i++) {
        const char *clip_id = string_of(&clips->items[i], "id");
        if (clip_id != NULL && strcmp(clip_id, id) == 0 && string_of(&clips->items[i], "status") != NULL) {
            return &clips->items[i];
        }
    }
    return NULL;
}

/* --- a cancelled clip's last moments ------------------------------------------------------------ */

#define CMD_SUBSCRIBE "1"
#define CMD_LOAD "2"
#define CMD_CANCEL "3"

/* Closes the socket unless the host has (SB_WS_CLOSED). */
static void cancel_close(sb_instance *inst, sn_speaker *s, const char *why)
{
    if (s->clip_cancel_socket == 0) return;
    sn_log(inst, SB_LOG_DEBUG, "%s: cancelled clip %s: %s", s->id, s->clip_cancel_id[0] != '\0' ? s->clip_cancel_id : "(no id)",
           why);
    if (strcmp(why, "closed") != 0) inst->ws->close(inst->host, s->clip_cancel_socket);
    s->clip_cancel_socket = 0;
    s->clip_cancel_id[0] = '\0';
    sn_timer_cancel(inst, &s->clip_cancel_timer);
}

static void cancel_tick(void *user, uint64_t timer_id)
{
    sn_speaker *s = user;
    if (s->clip_cancel_timer != timer_id) return;
    s->clip_cancel_timer = 0;
    cancel_close(s->clip_inst, s, "the player did not confirm the cancel in time");
}

static bool send_cancel(sb_instance *inst, sn_speaker *s)
{
    char *text = command_text(s->player_id, "cancelAudioClip", CMD_CANCEL, s->clip_cancel_id, NULL, -1);
    sb_status st = text != NULL ? inst->ws->send_text(inst->host, s->clip_cancel_socket, text, strlen(text)) : SB_ERR_FAILED;
    free(text);
    return st == SB_OK;
}

static void cancel_message(sb_instance *inst, sn_speaker *s, const char *data, size_t size)
{
    char why[200];
    message m;
    if (!parse_message(&m, data, size, why, sizeof why)) return;
    if (s->clip_cancel_id[0] == '\0' && is_reply_to(&m, "loadAudioClip", CMD_LOAD)) {
        /* Cancelled while the player was still taking it: now it can be named. */
        const char *id = string_of(m.body, "id");
        if (!m.success || id == NULL || id[0] == '\0' || strlen(id) >= sizeof s->clip_cancel_id) {
            cancel_close(inst, s, "the player did not take it");
        } else {
            sn_copy(s->clip_cancel_id, sizeof s->clip_cancel_id, id);
            if (!send_cancel(inst, s)) cancel_close(inst, s, "cancelAudioClip could not be sent");
        }
    } else if (is_reply_to(&m, "cancelAudioClip", CMD_CANCEL)) {
        /* An error here is ERROR_AUDIO_CLIP_ID_NOT_FOUND: it had ended already. Either way done. */
        const char *code = string_of(m.body, "errorCode");
        cancel_close(inst, s, m.success ? "the player confirmed cancelAudioClip" : code != NULL ? code : "cancelAudioClip refused");
    } else if (m.is_status) {
        const sn_json *clip = clip_in_status(&m, s->clip_cancel_id);
        const char *status = clip != NULL ? string_of(clip, "status") : NULL;
        if (status != NULL && strcmp(status, "ACTIVE") != 0) cancel_close(inst, s, status);
    }
    sn_json_free(m.json);
}

/* Takes over the socket of a clip being cancelled; `clip_id` "" when not known yet. */
static void cancel_linger(sb_instance *inst, sn_speaker *s, uint64_t socket, const char *clip_id)
{
    cancel_close(inst, s, "a newer clip was cancelled");
    s->clip_cancel_socket = socket;
    sn_copy(s->clip_cancel_id, sizeof s->clip_cancel_id, clip_id);
    if (clip_id[0] != '\0' && !send_cancel(inst, s)) {
        cancel_close(inst, s, "cancelAudioClip could not be sent");
        return;
    }
    s->clip_cancel_timer = sn_timer_start(inst, inst->config.soap_timeout_ms, 0, cancel_tick, s);
    if (s->clip_cancel_timer == 0) cancel_close(inst, s, "no timer");
}

/* --- one clip ---------------------------------------------------------------------------------- */

typedef enum { C_CONNECTING, C_SUBSCRIBING, C_LOADING, C_PLAYING } clip_phase;

struct sn_audio_clip {
    sb_instance *inst;
    sn_speaker *speaker;
    uint64_t socket;      /* 0 once closed (by us or by the host's SB_WS_CLOSED) */
    uint64_t answer_timer; /* connecting, subscribing and loading took too long: fall back */
    uint64_t end_timer;   /* the clip's length + margin: it has played, confirmed or not */
    clip_phase phase;
    char *load;           /* loadAudioClip, sent once the subscription is answered */
    char clip_id[128];    /* the player's id for our clip, from the answer */
    bool subscribed;      /* the player accepted the subscription: status events will come */
    bool saw_active;      /* an ACTIVE status event: the clip is audible */
    uint64_t started_ms;
    uint64_t acked_ms;
    uint32_t duration_ms;
    sn_clip_done_fn done;
    void *ctx;
};

static void release_clip(sn_audio_clip *c, bool close_socket)
{
    sb_instance *inst = c->inst;
    sn_timer_cancel(inst, &c->answer_timer);
    sn_timer_cancel(inst, &c->end_timer);
    /* After close no event follows, so freeing right after is safe. */
    if (close_socket && c->socket != 0) inst->ws->close(inst->host, c->socket);
    c->socket = 0;
    if (c->speaker->clip == c) c->speaker->clip = NULL;
    free(c->load);
    free(c);
}

void sn_audio_clip_free(sn_audio_clip *c)
{
    if (c != NULL) release_clip(c, true);
}

void sn_audio_clip_cancel(sn_audio_clip *c)
{
    if (c == NULL) return;
    /* Closing the socket alone does not stop a loaded clip on a real player; only
     * cancelAudioClip does (Sonos control API, audioClip namespace). Before loadAudioClip went
     * out there is nothing to cancel. */
    if (c->socket != 0 && (c->phase == C_LOADING || c->phase == C_PLAYING)) {
        cancel_linger(c->inst, c->speaker, c->socket, c->phase == C_PLAYING ? c->clip_id : "");
        release_clip(c, false);
        return;
    }
    release_clip(c, true);
}

/* Ends the clip: everything is released before `done` runs, which may start the UPnP path or
 * complete (and free) the announcement. Nothing here touches `c` after that. */
static void end(sn_audio_clip *c, sn_clip_outcome outcome, const char *reason, bool confirmed)
{
    char why[320];
    sn_copy(why, sizeof why, reason != NULL ? reason : "");
    sn_clip_result result = {
        .outcome = outcome,
        .reason = why,
        .ack_ms = c->acked_ms > 0 ? c->acked_ms - c->started_ms : 0,
        .confirmed = confirmed,
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
    end(c, SN_CLIP_FALLBACK,
        c->phase == C_CONNECTING    ? "the audioClip API did not connect in time"
        : c->phase == C_SUBSCRIBING ? "the audioClip API did not answer subscribe in time"
                                    : "the audioClip API did not answer loadAudioClip in time",
        false);
}

static void end_tick(void *user, uint64_t timer_id)
{
    (void)timer_id;
    sn_audio_clip *c = user;
    c->end_timer = 0;
    /* The player took the clip and may well have played it, but it never said so: the
     * announcement ends (a lost DONE must not hold the queue) and says it was not confirmed. */
    char why[200];
    sn_set_err(why, sizeof why, "%s",
               c->socket == 0   ? "the audioClip connection closed while the clip played; the end was not confirmed"
               : c->subscribed ? "no DONE from the player within the clip's length + announce_margin"
                               : "the player refused the status subscription; the end was not confirmed");
    sn_log(c->inst, SB_LOG_INFO, "%s: %s", c->speaker->id, why);
    end(c, SN_CLIP_PLAYED, why, false);
}

static bool send_text(sn_audio_clip *c, const char *text, const char *what)
{
    sb_status st = c->inst->ws->send_text(c->inst->host, c->socket, text, strlen(text));
    if (st == SB_OK) return true;
    char why[96];
    sn_set_err(why, sizeof why, "%s could not be sent (status %d)", what, (int)st);
    end(c, SN_CLIP_FALLBACK, why, false);
    return false;
}

/* The answer to subscribe: whatever it says, the clip goes out next; without the subscription
 * no status event comes, and only the timer can end the clip (unconfirmed). */
static void on_subscribe_answer(sn_audio_clip *c, const message *m)
{
    c->subscribed = m->success;
    if (!m->success) {
        const char *code = string_of(m->body, "errorCode");
        sn_log(c->inst, SB_LOG_INFO, "%s: the audioClip API refused the status subscription (%s); the clip's end will "
               "not be confirmed", c->speaker->id, code != NULL ? code : "no reason");
    }
    c->phase = C_LOADING;
    send_text(c, c->load, "loadAudioClip");
}

/* The answer to our loadAudioClip: success with the clip (its id), or an error. */
static void on_load_answer(sn_audio_clip *c, const message *m)
{
    const char *object_type = string_of(m->body, "_objectType");
    const char *id = string_of(m->body, "id");
    if (!m->success || object_type == NULL || strcmp(object_type, "audioClip") != 0 || id == NULL || id[0] == '\0' ||
        strlen(id) >= sizeof c->clip_id) {
        const char *code = string_of(m->body, "errorCode");
        const char *reason = string_of(m->body, "reason");
        char why[320];
        sn_set_err(why, sizeof why, "loadAudioClip was refused: %s%s%s", code != NULL ? code : "no clip in the answer",
                   reason != NULL ? ": " : "", reason != NULL ? reason : "");
        end(c, SN_CLIP_FALLBACK, why, false);
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
static void on_status(sn_audio_clip *c, const message *m)
{
    const sn_json *clip = clip_in_status(m, c->clip_id);
    if (clip == NULL) return;
    const char *status = string_of(clip, "status");
    const char *code = string_of(clip, "errorCode");
    char why[320];
    if (strcmp(status, "ACTIVE") == 0) {
        c->saw_active = true;
    } else if (strcmp(status, "DONE") == 0) {
        end(c, SN_CLIP_PLAYED, "", true);
    } else if (strcmp(status, "INTERRUPTED") == 0) {
        /* A clip of higher (or equal, after 10 s) priority took the player over: ours was cut, not
         * heard to its end. */
        end(c, SN_CLIP_INTERRUPTED, "interrupted by another clip (the player reported INTERRUPTED)", false);
    } else if (strcmp(status, "DISMISSED") == 0) {
        end(c, SN_CLIP_INTERRUPTED, "dismissed on the player (the player reported DISMISSED: a user or another app "
                                    "stopped it)", false);
    } else if (strcmp(status, "ERROR") == 0) {
        sn_set_err(why, sizeof why, "the player could not play the clip (%s)", code != NULL ? code : "ERROR");
        /* Before it was heard, UPnP may still get it through (another decoder path, a
         * different fetch); after, playing it again would be worse than failing. */
        end(c, c->saw_active ? SN_CLIP_FAILED : SN_CLIP_FALLBACK, why, false);
    }
    /* Anything else (a pending or INACTIVE clip waiting its turn) changes nothing yet. */
}

static void on_message(sn_audio_clip *c, const char *data, size_t size)
{
    char why[200];
    message m;
    if (!parse_message(&m, data, size, why, sizeof why)) {
        sn_log(c->inst, SB_LOG_DEBUG, "%s: audioClip API message ignored: %s", c->speaker->id, why);
        return;
    }
    const char *object_type = string_of(m.body, "_objectType");
    if (c->phase == C_SUBSCRIBING && is_reply_to(&m, "subscribe", CMD_SUBSCRIBE)) {
        on_subscribe_answer(c, &m);
    } else if (c->phase == C_LOADING && is_reply_to(&m, "loadAudioClip", CMD_LOAD)) {
        on_load_answer(c, &m);
    } else if (c->phase == C_LOADING && object_type != NULL && strcmp(object_type, "globalError") == 0) {
        /* An error not tied to our command (a bad key, an unknown player): the same verdict. */
        on_load_answer(c, &m);
    } else if (c->phase == C_PLAYING && m.is_status) {
        on_status(c, &m);
    }
    /* `c` may be gone here (the clip ended): only the message is freed. */
    sn_json_free(m.json);
}

static void clip_event(sn_audio_clip *c, int32_t event, const char *data, size_t size)
{
    switch (event) {
    case SB_WS_OPEN: {
        if (c->phase != C_CONNECTING) return;
        /* Status events go only to connections that subscribed for the player (Sonos control
         * API: subscribe in the audioClip namespace); the subscription's answer sends the clip. */
        char *subscribe = command_text(c->speaker->player_id, "subscribe", CMD_SUBSCRIBE, NULL, NULL, -1);
        c->phase = C_SUBSCRIBING;
        if (subscribe == NULL) {
            end(c, SN_CLIP_FALLBACK, "out of memory", false);
            return;
        }
        send_text(c, subscribe, "subscribe");
        free(subscribe);
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
            end(c, SN_CLIP_FALLBACK, why, false);
        } else {
            /* The player plays a loaded clip on its own; only its status is lost. The end timer
             * finishes the announcement at the clip's length + margin, unconfirmed. */
            sn_log(c->inst, SB_LOG_INFO, "%s: %s while the clip plays; waiting for its length", c->speaker->id, why);
        }
        return;
    }
    default:
        return;
    }
}

/* The socket's events reach the speaker, which knows whether the socket belongs to its playing
 * clip or to a cancelled one: a cancelled clip's socket outlives the clip object. */
static void on_event(void *user, uint64_t socket_id, int32_t event, const char *data, size_t size)
{
    sn_speaker *s = user;
    if (s->clip != NULL && s->clip->socket == socket_id) {
        clip_event(s->clip, event, data, size);
    } else if (s->clip_cancel_socket != 0 && s->clip_cancel_socket == socket_id) {
        if (event == SB_WS_CLOSED) {
            cancel_close(s->clip_inst, s, "closed"); /* by the host: nothing to close */
        } else if (event == SB_WS_TEXT) {
            cancel_message(s->clip_inst, s, data, size);
        }
    }
}

sn_audio_clip *sn_audio_clip_play(sb_instance *inst, sn_speaker *s, const char *url, int32_t volume,
                                  uint32_t duration_ms, sn_clip_done_fn done, void *ctx, char *err, size_t err_size)
{
    if (!sn_audio_clip_usable(inst, s)) {
        sn_set_err(err, err_size, "%s has no audioClip API", s->id);
        return NULL;
    }
    if (s->clip != NULL) {
        sn_set_err(err, err_size, "%s is already playing a clip", s->id);
        return NULL;
    }
    sn_audio_clip *c = calloc(1, sizeof *c);
    if (c == NULL || (c->load = command_text(s->player_id, "loadAudioClip", CMD_LOAD, NULL, url, volume)) == NULL) {
        free(c);
        sn_set_err(err, err_size, "out of memory");
        return NULL;
    }
    c->inst = inst;
    c->speaker = s;
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
    s->clip = c; /* before open: its events find the clip through the speaker */
    s->clip_inst = inst;
    sb_status st = inst->ws->open(inst->host, &request, on_event, s, &c->socket);
    if (st != SB_OK) {
        c->socket = 0;
        sn_set_err(err, err_size, "the host could not open %s (status %d)", s->ws_url, (int)st);
        sn_audio_clip_free(c);
        return NULL;
    }
    /* Connecting, subscribing and the answer to loadAudioClip together; the host's own connect
     * timeout normally ends a dead connection first (SB_WS_CLOSED). */
    c->answer_timer = sn_timer_start(inst, 2 * inst->config.soap_timeout_ms, 0, answer_tick, c);
    return c;
}

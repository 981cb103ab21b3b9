/* The audioClip API (audioclip.c over the model, with a fake host): the capability probe when a
 * player goes online, one clip over the WebSocket (subscribe, loadAudioClip, each status of our
 * clip among other apps' clips), cancelAudioClip, and forgetting on offline. */
#define _POSIX_C_SOURCE 200809L

#include "audioclip.h"
#include "check.h"
#include "fake_devices.h"

static fake_host f;

typedef struct verdict {
    int calls;
    sn_clip_outcome outcome;
    char reason[320];
    bool confirmed;
} verdict;

static void clip_done(void *ctx, const sn_clip_result *result)
{
    verdict *v = ctx;
    v->calls++;
    v->outcome = result->outcome;
    snprintf(v->reason, sizeof v->reason, "%s", result->reason);
    v->confirmed = result->confirmed;
}

static const char INFO[] = "{\"device\":{\"capabilities\":[\"PLAYBACK\",\"AUDIO_CLIP\"]},\"playerId\":\"RINCON_1\","
                           "\"websocketUrl\":\"wss://10.0.0.9:1443/websocket/api\"}";

/* A Sonos player online, its probe answered with `info`. */
static sn_speaker *player(sb_instance *inst, const char *info)
{
    sn_speaker *s = fake_speaker(inst, "RINCON_1", "Kitchen", "10.0.0.9", true);
    s->awaiting_topology = false;
    sn_speaker_set_online(inst, s, true, "found"); /* what state.c does once the topology is known */
    fake_request *r = fake_http_find(&f, "GET", "/api/v1/players/local/info");
    CHECK(r != NULL);
    if (r != NULL) {
        CHECK_STR(r->url, "https://10.0.0.9:1443/api/v1/players/local/info");
        CHECK(r->flags == SB_HTTP_TLS_NO_VERIFY);
        CHECK(strstr(r->headers, "X-Sonos-Api-Key: 123e4567-e89b-12d3-a456-426655440000") != NULL);
        fake_http_answer(&f, r, 200, NULL, info);
    }
    return s;
}

static void test_probe(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    sn_audio_clip_init(inst);
    sn_speaker *s = player(inst, INFO);
    CHECK(sn_audio_clip_usable(inst, s));
    CHECK_STR(s->ws_url, "wss://10.0.0.9:1443/websocket/api");

    /* Moved: asked again, and the old answer no longer counts. */
    fake_speaker(inst, "RINCON_1", "Kitchen", "10.0.0.10", true);
    CHECK(!sn_audio_clip_usable(inst, s));
    fake_request *r = fake_http_find(&f, "GET", "https://10.0.0.10:1443/");
    CHECK(r != NULL);
    if (r != NULL) fake_http_answer(&f, r, 200, NULL, "{\"device\":{\"capabilities\":[\"AUDIO_CLIP\"]},\"playerId\":\"RINCON_1\"}");
    CHECK(sn_audio_clip_usable(inst, s));
    CHECK_STR(s->ws_url, "wss://10.0.0.10:1443/websocket/api"); /* the documented place */

    sn_speaker_set_online(inst, s, false, "gone");
    CHECK(!sn_audio_clip_usable(inst, s));
    fake_instance_free(inst);

    /* Another playerId at that address, or no AUDIO_CLIP: UPnP it is. */
    fake_host_init(&f);
    inst = fake_instance(&f, "{}");
    sn_audio_clip_init(inst);
    s = player(inst, "{\"device\":{\"capabilities\":[\"AUDIO_CLIP\"]},\"playerId\":\"RINCON_2\"}");
    CHECK(!sn_audio_clip_usable(inst, s));
    CHECK(fake_logged(&f, "its playerId is not RINCON_1"));
    fake_instance_free(inst);

    /* A renderer, a host without WebSocket, or the setting off: nobody is asked. */
    fake_host_init(&f);
    f.no_websocket = true;
    inst = fake_instance(&f, "{}");
    sn_audio_clip_init(inst);
    fake_speaker(inst, "uuid-r", "Pi", "10.0.0.3", false);
    s = fake_speaker(inst, "RINCON_1", "Kitchen", "10.0.0.9", true);
    sn_speaker_set_online(inst, s, true, "found");
    CHECK(fake_http_open_count(&f) == 0);
    fake_instance_free(inst);
}

/* Opens a clip on `s` and takes it through subscribe and loadAudioClip to the player's id
 * `clip_id` (NULL: stop after the subscribe answer). The socket, or NULL. */
static fake_socket *start_clip(sb_instance *inst, sn_speaker *s, const char *url, int32_t volume, uint32_t duration_ms,
                               verdict *v, const char *clip_id)
{
    char err[200];
    *v = (verdict){ 0 };
    sn_audio_clip *c = sn_audio_clip_play(inst, s, url, volume, duration_ms, clip_done, v, err, sizeof err);
    fake_socket *ws = fake_ws_last(&f);
    CHECK(c != NULL && ws != NULL);
    if (ws == NULL) return NULL;
    fake_ws_event(&f, ws, SB_WS_OPEN, "v1.api.smartspeaker.audio");
    /* Status events come only to a connection that subscribed: subscribe goes first. */
    CHECK(ws->sent_count == 1);
    CHECK_STR(ws->sent, "[{\"namespace\":\"audioClip:1\",\"command\":\"subscribe\",\"playerId\":\"RINCON_1\",\"cmdId\":\"1\"},{}]");
    fake_ws_event(&f, ws, SB_WS_TEXT, "[{\"namespace\":\"audioClip:1\",\"response\":\"subscribe\",\"cmdId\":\"1\","
                                      "\"success\":true,\"type\":\"none\"},{}]");
    CHECK(ws->sent_count == 2);
    CHECK(strstr(ws->sent, "\"command\":\"loadAudioClip\",\"playerId\":\"RINCON_1\",\"cmdId\":\"2\"") != NULL);
    if (clip_id == NULL) return ws;
    char answer[300];
    snprintf(answer, sizeof answer, "[{\"namespace\":\"audioClip:1\",\"response\":\"loadAudioClip\",\"cmdId\":\"2\","
                                    "\"success\":true,\"type\":\"audioClip\"},{\"_objectType\":\"audioClip\",\"id\":\"%s\","
                                    "\"status\":\"ACTIVE\"}]", clip_id);
    fake_ws_event(&f, ws, SB_WS_TEXT, answer);
    return ws;
}

/* An audioClipStatus event as players send it: no `success`, every clip the player knows. */
static void status(fake_socket *ws, const char *clips)
{
    char event[600];
    snprintf(event, sizeof event, "[{\"namespace\":\"audioClip:1\",\"type\":\"audioClipStatus\",\"playerId\":\"RINCON_1\","
                                  "\"householdId\":\"Sonos_x\"},{\"_objectType\":\"audioClipStatus\",\"audioClips\":[%s]}]",
             clips);
    fake_ws_event(&f, ws, SB_WS_TEXT, event);
}

static void test_play(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    sn_audio_clip_init(inst);
    sn_speaker *s = player(inst, INFO);
    char err[200];
    verdict v = { 0 };

    /* The whole way: open, subscribe, loadAudioClip, its answer, ACTIVE, DONE. */
    fake_socket *ws = start_clip(inst, s, "http://10.0.0.1:8080/media/a.wav", 40, 2000, &v, NULL);
    if (ws == NULL) return;
    CHECK_STR(ws->url, "wss://10.0.0.9:1443/websocket/api");
    CHECK(strstr(ws->sent, "\"streamUrl\":\"http://10.0.0.1:8080/media/a.wav\"") != NULL);
    CHECK(strstr(ws->sent, "\"volume\":40") != NULL);
    CHECK(strstr(ws->sent, "\"priority\":\"HIGH\"") != NULL);
    fake_ws_event(&f, ws, SB_WS_TEXT, "[{\"response\":\"loadAudioClip\",\"cmdId\":\"2\",\"success\":true},"
                                      "{\"_objectType\":\"audioClip\",\"id\":\"clip-7\"}]");
    /* A reply that happens to look like a status (it has `success`) is no event. */
    fake_ws_event(&f, ws, SB_WS_TEXT, "[{\"type\":\"audioClipStatus\",\"success\":true},"
                                      "{\"audioClips\":[{\"id\":\"clip-7\",\"status\":\"DONE\"}]}]");
    CHECK(v.calls == 0);
    status(ws, "{\"id\":\"clip-7\",\"status\":\"ACTIVE\"}");
    CHECK(v.calls == 0);
    status(ws, "{\"id\":\"clip-7\",\"status\":\"DONE\"}");
    CHECK(v.calls == 1 && v.outcome == SN_CLIP_PLAYED && v.confirmed);
    CHECK(!ws->open); /* closed by the clip's end */
    CHECK(s->clip == NULL);

    /* Refused: back to UPnP with the reason. */
    ws = start_clip(inst, s, "http://10.0.0.1:8080/media/b.wav", -1, 0, &v, NULL);
    if (ws == NULL) return;
    CHECK(strstr(ws->sent, "\"volume\"") == NULL);
    fake_ws_event(&f, ws, SB_WS_TEXT, "[{\"response\":\"loadAudioClip\",\"cmdId\":\"2\",\"success\":false},"
                                      "{\"_objectType\":\"globalError\",\"errorCode\":\"ERROR_UNSUPPORTED\"}]");
    CHECK(v.calls == 1 && v.outcome == SN_CLIP_FALLBACK);
    CHECK(strstr(v.reason, "ERROR_UNSUPPORTED") != NULL);

    /* The socket never opens: the host's close is the verdict. */
    v = (verdict){ 0 };
    CHECK(sn_audio_clip_play(inst, s, "http://10.0.0.1:8080/media/c.wav", -1, 0, clip_done, &v, err, sizeof err) != NULL);
    fake_ws_event(&f, fake_ws_last(&f), SB_WS_CLOSED, "connection refused");
    CHECK(v.calls == 1 && v.outcome == SN_CLIP_FALLBACK && strstr(v.reason, "connection refused") != NULL);

    /* A reply matched by its cmdId alone (no `response`): the clip goes on. */
    v = (verdict){ 0 };
    CHECK(sn_audio_clip_play(inst, s, "http://10.0.0.1:8080/media/c.wav", -1, 0, clip_done, &v, err, sizeof err) != NULL);
    ws = fake_ws_last(&f);
    fake_ws_event(&f, ws, SB_WS_OPEN, "");
    fake_ws_event(&f, ws, SB_WS_TEXT, "[{\"cmdId\":\"2\",\"success\":true},{}]"); /* not ours: no load yet */
    CHECK(ws->sent_count == 1);
    fake_ws_event(&f, ws, SB_WS_TEXT, "[{\"cmdId\":\"1\",\"success\":true},{}]");
    CHECK(ws->sent_count == 2 && strstr(ws->sent, "loadAudioClip") != NULL);
    sn_audio_clip_free(s->clip);

    /* No answer to subscribe in time: UPnP. */
    v = (verdict){ 0 };
    CHECK(sn_audio_clip_play(inst, s, "http://10.0.0.1:8080/media/c.wav", -1, 0, clip_done, &v, err, sizeof err) != NULL);
    ws = fake_ws_last(&f);
    fake_ws_event(&f, ws, SB_WS_OPEN, "");
    fake_timer_fire(&f, fake_timer_find(&f, 10000, 0));
    CHECK(v.calls == 1 && v.outcome == SN_CLIP_FALLBACK && strstr(v.reason, "did not answer subscribe") != NULL);
    CHECK(!ws->open);

    /* Unusable speaker: nothing opens. */
    sn_speaker_set_online(inst, s, false, "gone");
    CHECK(sn_audio_clip_play(inst, s, "http://x/y.wav", -1, 0, clip_done, &v, err, sizeof err) == NULL);
    CHECK(strstr(err, "has no audioClip API") != NULL);
    CHECK(fake_timer_active_count(&f) == 0);
    fake_instance_free(inst);
}

/* Each status of our clip, picked by its id out of events that list other apps' clips too. */
static void test_statuses(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    sn_audio_clip_init(inst);
    sn_speaker *s = player(inst, INFO);
    verdict v;

    /* Several clips per event: another app's DONE and ERROR say nothing about ours. */
    fake_socket *ws = start_clip(inst, s, "http://10.0.0.1:8080/media/a.wav", -1, 2000, &v, "c1");
    status(ws, "{\"id\":\"other\",\"status\":\"DONE\"},{\"id\":\"c1\",\"status\":\"ACTIVE\"}");
    status(ws, "{\"id\":\"other\",\"status\":\"ERROR\",\"errorCode\":\"ERROR_AUDIO_CLIP_MEDIA_ERROR\"},"
               "{\"id\":\"c1\",\"status\":\"ACTIVE\"}");
    CHECK(v.calls == 0);
    status(ws, "{\"id\":\"c1\",\"status\":\"DONE\"},{\"id\":\"other\",\"status\":\"ACTIVE\"}");
    CHECK(v.calls == 1 && v.outcome == SN_CLIP_PLAYED && v.confirmed);

    /* INTERRUPTED by another clip: cut, not played. */
    ws = start_clip(inst, s, "http://10.0.0.1:8080/media/a.wav", -1, 2000, &v, "c2");
    status(ws, "{\"id\":\"c2\",\"status\":\"ACTIVE\"}");
    status(ws, "{\"id\":\"c2\",\"status\":\"INTERRUPTED\"},{\"id\":\"urgent\",\"status\":\"ACTIVE\"}");
    CHECK(v.calls == 1 && v.outcome == SN_CLIP_INTERRUPTED && !v.confirmed);
    CHECK(strstr(v.reason, "interrupted by another clip") != NULL);
    CHECK(!ws->open);

    /* DISMISSED (a user on the player, another app): cut too, and says so. */
    ws = start_clip(inst, s, "http://10.0.0.1:8080/media/a.wav", -1, 2000, &v, "c3");
    status(ws, "{\"id\":\"c3\",\"status\":\"DISMISSED\"}");
    CHECK(v.calls == 1 && v.outcome == SN_CLIP_INTERRUPTED && strstr(v.reason, "DISMISSED") != NULL);

    /* ERROR before ACTIVE (the player could not fetch it): UPnP, with the error code. */
    ws = start_clip(inst, s, "http://10.0.0.1:8080/media/a.wav", -1, 2000, &v, "c4");
    status(ws, "{\"id\":\"c4\",\"status\":\"ERROR\",\"errorCode\":\"ERROR_AUDIO_CLIP_MEDIA_ERROR\"}");
    CHECK(v.calls == 1 && v.outcome == SN_CLIP_FALLBACK && strstr(v.reason, "ERROR_AUDIO_CLIP_MEDIA_ERROR") != NULL);

    /* ERROR after it was heard: failed, not played twice. */
    ws = start_clip(inst, s, "http://10.0.0.1:8080/media/a.wav", -1, 2000, &v, "c5");
    status(ws, "{\"id\":\"c5\",\"status\":\"ACTIVE\"}");
    status(ws, "{\"id\":\"c5\",\"status\":\"ERROR\"}");
    CHECK(v.calls == 1 && v.outcome == SN_CLIP_FAILED);

    /* No status at all (the player kept the events to itself): the timer ends it, unconfirmed. */
    ws = start_clip(inst, s, "http://10.0.0.1:8080/media/a.wav", -1, 2000, &v, "c6");
    fake_timer_fire(&f, fake_timer_find(&f, 4000, 0));
    CHECK(v.calls == 1 && v.outcome == SN_CLIP_PLAYED && !v.confirmed);
    CHECK(strstr(v.reason, "no DONE") != NULL);

    /* A refused subscription: the clip still plays, and its end is said to be unconfirmed. */
    v = (verdict){ 0 };
    char err[200];
    CHECK(sn_audio_clip_play(inst, s, "http://10.0.0.1:8080/media/a.wav", -1, 2000, clip_done, &v, err, sizeof err) != NULL);
    ws = fake_ws_last(&f);
    fake_ws_event(&f, ws, SB_WS_OPEN, "");
    fake_ws_event(&f, ws, SB_WS_TEXT, "[{\"response\":\"subscribe\",\"cmdId\":\"1\",\"success\":false},"
                                      "{\"_objectType\":\"globalError\",\"errorCode\":\"ERROR_COMMAND_FAILED\"}]");
    CHECK(strstr(ws->sent, "loadAudioClip") != NULL);
    fake_ws_event(&f, ws, SB_WS_TEXT, "[{\"response\":\"loadAudioClip\",\"cmdId\":\"2\",\"success\":true},"
                                      "{\"_objectType\":\"audioClip\",\"id\":\"c7\"}]");
    fake_timer_fire(&f, fake_timer_find(&f, 4000, 0));
    CHECK(v.calls == 1 && v.outcome == SN_CLIP_PLAYED && !v.confirmed);
    CHECK(strstr(v.reason, "refused the status subscription") != NULL);
    CHECK(fake_logged(&f, "ERROR_COMMAND_FAILED"));

    /* The connection drops while the clip plays: the player plays on; the timer ends it, and
     * says the end was not confirmed. */
    ws = start_clip(inst, s, "http://10.0.0.1:8080/media/a.wav", -1, 2000, &v, "c8");
    status(ws, "{\"id\":\"c8\",\"status\":\"ACTIVE\"}");
    fake_ws_event(&f, ws, SB_WS_CLOSED, "closed by the server (1001)");
    CHECK(v.calls == 0);
    fake_timer_fire(&f, fake_timer_find(&f, 4000, 0));
    CHECK(v.calls == 1 && v.outcome == SN_CLIP_PLAYED && !v.confirmed);
    CHECK(strstr(v.reason, "connection closed while the clip played") != NULL);
    CHECK(fake_timer_active_count(&f) == 0);
    fake_instance_free(inst);
}

/* A cancel sends cancelAudioClip (closing the socket would leave a real player playing), keeps
 * the socket for the player's answer, and then closes it. */
static void test_cancel(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    sn_audio_clip_init(inst);
    sn_speaker *s = player(inst, INFO);
    verdict v;

    /* Playing: cancelAudioClip {id} at once; the answer closes the socket. */
    fake_socket *ws = start_clip(inst, s, "http://10.0.0.1:8080/media/a.wav", -1, 2000, &v, "c1");
    sn_audio_clip_cancel(s->clip);
    CHECK(s->clip == NULL && v.calls == 0);
    CHECK(ws->open && ws->sent_count == 3);
    CHECK_STR(ws->sent, "[{\"namespace\":\"audioClip:1\",\"command\":\"cancelAudioClip\",\"playerId\":\"RINCON_1\","
                        "\"cmdId\":\"3\",\"id\":\"c1\"},{\"id\":\"c1\"}]");
    status(ws, "{\"id\":\"c1\",\"status\":\"ACTIVE\"}");
    CHECK(ws->open);
    fake_ws_event(&f, ws, SB_WS_TEXT, "[{\"namespace\":\"audioClip:1\",\"response\":\"cancelAudioClip\",\"cmdId\":\"3\","
                                      "\"success\":true},{}]");
    CHECK(!ws->open && s->clip_cancel_socket == 0);
    CHECK(fake_timer_active_count(&f) == 0);

    /* A new clip may start while the cancelled one waits for its answer; DISMISSED closes that. */
    ws = start_clip(inst, s, "http://10.0.0.1:8080/media/a.wav", -1, 2000, &v, "c2");
    sn_audio_clip_cancel(s->clip);
    fake_socket *next = start_clip(inst, s, "http://10.0.0.1:8080/media/b.wav", -1, 2000, &v, "c3");
    CHECK(ws->open && next != NULL && next != ws);
    status(ws, "{\"id\":\"c2\",\"status\":\"DISMISSED\"},{\"id\":\"c3\",\"status\":\"ACTIVE\"}");
    CHECK(!ws->open && next->open && v.calls == 0);
    status(next, "{\"id\":\"c3\",\"status\":\"DONE\"}");
    CHECK(v.calls == 1 && v.outcome == SN_CLIP_PLAYED && v.confirmed);

    /* Cancelled before the player named the clip: the cancel follows its answer. */
    ws = start_clip(inst, s, "http://10.0.0.1:8080/media/a.wav", -1, 2000, &v, NULL);
    sn_audio_clip_cancel(s->clip);
    CHECK(ws->open && ws->sent_count == 2);
    fake_ws_event(&f, ws, SB_WS_TEXT, "[{\"response\":\"loadAudioClip\",\"cmdId\":\"2\",\"success\":true},"
                                      "{\"_objectType\":\"audioClip\",\"id\":\"c4\"}]");
    CHECK(ws->sent_count == 3 && strstr(ws->sent, "\"command\":\"cancelAudioClip\"") != NULL &&
          strstr(ws->sent, "\"id\":\"c4\"") != NULL);
    /* No answer: the socket closes after soap_timeout anyway. */
    fake_timer_fire(&f, fake_timer_find(&f, 5000, 0));
    CHECK(!ws->open && fake_logged(&f, "did not confirm the cancel"));

    /* Not connected yet: nothing was loaded, the socket just closes. */
    char err[200];
    v = (verdict){ 0 };
    CHECK(sn_audio_clip_play(inst, s, "http://x/y.wav", -1, 0, clip_done, &v, err, sizeof err) != NULL);
    ws = fake_ws_last(&f);
    sn_audio_clip_cancel(s->clip);
    CHECK(!ws->open && ws->sent_count == 0 && s->clip_cancel_socket == 0);

    /* Freed (the speaker is gone, destroy): closed at once, `done` never runs. */
    ws = start_clip(inst, s, "http://10.0.0.1:8080/media/a.wav", -1, 2000, &v, "c5");
    sn_audio_clip_free(s->clip);
    CHECK(!ws->open && v.calls == 0 && s->clip == NULL);

    /* A cancelled clip's socket goes when its speaker goes offline. */
    ws = start_clip(inst, s, "http://10.0.0.1:8080/media/a.wav", -1, 2000, &v, "c6");
    sn_audio_clip_cancel(s->clip);
    CHECK(ws->open);
    sn_speaker_set_online(inst, s, false, "gone");
    CHECK(!ws->open && s->clip_cancel_socket == 0);
    CHECK(fake_timer_active_count(&f) == 0);
    fake_instance_free(inst);
}

int main(void)
{
    test_probe();
    test_play();
    test_statuses();
    test_cancel();
    return CHECK_DONE("test_audioclip");
}

/* The audioClip API (audioclip.c over the model, with a fake host): the capability probe when a
 * player goes online, one clip over the WebSocket to each of its ends, and forgetting on offline. */
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

static void test_play(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    sn_audio_clip_init(inst);
    sn_speaker *s = player(inst, INFO);
    char err[200];
    verdict v = { 0 };

    /* The whole way: open, loadAudioClip, its answer, ACTIVE, DONE. */
    sn_audio_clip *c = sn_audio_clip_play(inst, s, "http://10.0.0.1:8080/media/a.wav", 40, 2000, clip_done, &v, err, sizeof err);
    fake_socket *ws = fake_ws_last(&f);
    CHECK(c != NULL && ws != NULL);
    if (ws == NULL) return;
    CHECK_STR(ws->url, "wss://10.0.0.9:1443/websocket/api");
    fake_ws_event(&f, ws, SB_WS_OPEN, "v1.api.smartspeaker.audio");
    CHECK(strstr(ws->sent, "\"command\":\"loadAudioClip\"") != NULL);
    CHECK(strstr(ws->sent, "\"streamUrl\":\"http://10.0.0.1:8080/media/a.wav\"") != NULL);
    CHECK(strstr(ws->sent, "\"volume\":40") != NULL);
    fake_ws_event(&f, ws, SB_WS_TEXT, "[{\"response\":\"loadAudioClip\",\"cmdId\":\"1\",\"success\":true},"
                                      "{\"_objectType\":\"audioClip\",\"id\":\"clip-7\"}]");
    fake_ws_event(&f, ws, SB_WS_TEXT, "[{\"type\":\"audioClipStatus\"},{\"audioClips\":[{\"id\":\"clip-7\",\"status\":\"ACTIVE\"}]}]");
    CHECK(v.calls == 0);
    fake_ws_event(&f, ws, SB_WS_TEXT, "[{\"type\":\"audioClipStatus\"},{\"audioClips\":[{\"id\":\"clip-7\",\"status\":\"DONE\"}]}]");
    CHECK(v.calls == 1 && v.outcome == SN_CLIP_PLAYED && v.confirmed);
    CHECK(!ws->open); /* closed by the clip's end */

    /* Refused: back to UPnP with the reason. */
    v = (verdict){ 0 };
    c = sn_audio_clip_play(inst, s, "http://10.0.0.1:8080/media/b.wav", -1, 0, clip_done, &v, err, sizeof err);
    ws = fake_ws_last(&f);
    fake_ws_event(&f, ws, SB_WS_OPEN, "");
    fake_ws_event(&f, ws, SB_WS_TEXT, "[{\"response\":\"loadAudioClip\",\"cmdId\":\"1\",\"success\":false},"
                                      "{\"_objectType\":\"globalError\",\"errorCode\":\"ERROR_UNSUPPORTED\"}]");
    CHECK(v.calls == 1 && v.outcome == SN_CLIP_FALLBACK);
    CHECK(strstr(v.reason, "ERROR_UNSUPPORTED") != NULL);

    /* The socket never opens: the host's close is the verdict. */
    v = (verdict){ 0 };
    c = sn_audio_clip_play(inst, s, "http://10.0.0.1:8080/media/c.wav", -1, 0, clip_done, &v, err, sizeof err);
    fake_ws_event(&f, fake_ws_last(&f), SB_WS_CLOSED, "connection refused");
    CHECK(v.calls == 1 && v.outcome == SN_CLIP_FALLBACK && strstr(v.reason, "connection refused") != NULL);

    /* ERROR after it was heard: failed, not played twice. */
    v = (verdict){ 0 };
    c = sn_audio_clip_play(inst, s, "http://10.0.0.1:8080/media/d.wav", -1, 0, clip_done, &v, err, sizeof err);
    ws = fake_ws_last(&f);
    fake_ws_event(&f, ws, SB_WS_OPEN, "");
    fake_ws_event(&f, ws, SB_WS_TEXT, "[{\"response\":\"loadAudioClip\",\"cmdId\":\"1\",\"success\":true},"
                                      "{\"_objectType\":\"audioClip\",\"id\":\"clip-8\"}]");
    fake_ws_event(&f, ws, SB_WS_TEXT, "[{\"type\":\"audioClipStatus\"},{\"audioClips\":[{\"id\":\"clip-8\",\"status\":\"ACTIVE\"}]}]");
    fake_ws_event(&f, ws, SB_WS_TEXT, "[{\"type\":\"audioClipStatus\"},{\"audioClips\":[{\"id\":\"clip-8\",\"status\":\"ERROR\"}]}]");
    CHECK(v.calls == 1 && v.outcome == SN_CLIP_FAILED);

    /* Freed by its owner (a cancel): the socket closes and `done` never runs. */
    v = (verdict){ 0 };
    c = sn_audio_clip_play(inst, s, "http://10.0.0.1:8080/media/e.wav", -1, 0, clip_done, &v, err, sizeof err);
    ws = fake_ws_last(&f);
    sn_audio_clip_free(c);
    CHECK(!ws->open && v.calls == 0);

    /* Unusable speaker: nothing opens. */
    sn_speaker_set_online(inst, s, false, "gone");
    CHECK(sn_audio_clip_play(inst, s, "http://x/y.wav", -1, 0, clip_done, &v, err, sizeof err) == NULL);
    CHECK(strstr(err, "has no audioClip API") != NULL);
    fake_instance_free(inst);
}

int main(void)
{
    test_probe();
    test_play();
    return CHECK_DONE("test_audioclip");
}

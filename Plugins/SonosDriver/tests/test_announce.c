/* Announcements (announce.c over audioclip, soap_call and the model, with a fake host): the UPnP
 * path from snapshot to restore, its ends (cancel, the speaker going offline), refusals before
 * anything starts, and the audioClip API first where the player has it. */
#define _POSIX_C_SOURCE 200809L

#include "announce.h"
#include "audioclip.h"
#include "check.h"
#include "fake_devices.h"

static fake_host f;

static bool has(const char *text, const char *part) { return strstr(text, part) != NULL; }

static const sb_clip CLIP = { sizeof(sb_clip), "http://10.0.0.1:8080/media/a.wav", "audio/wav", 2000, 40 };

/* Answers the next SOAP request, which must be `action`; returns its body ("" when none). */
static const char *answer(const char *action, const char *const *out_args)
{
    static char body[8192];
    body[0] = '\0';
    fake_request *r = fake_http_find(&f, "POST", NULL);
    CHECK(r != NULL);
    if (r == NULL) return body;
    CHECK_STR(fake_soap_action(r), action);
    snprintf(body, sizeof body, "%s", r->body);
    fake_soap_answer(&f, r, out_args);
    return body;
}

static sb_instance *setup(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    sn_audio_clip_init(inst);
    sn_announce_init(inst);
    return inst;
}

/* Snapshot and play of a renderer playing a file at volume 20, up to the wait for STOPPED. */
static void play_until_wait(void)
{
    answer("GetMediaInfo", (const char *const[]){ "CurrentURI", "http://nas/song.flac", "CurrentURIMetaData", "", NULL });
    answer("GetTransportInfo", (const char *const[]){ "CurrentTransportState", "PLAYING", NULL });
    answer("GetPositionInfo", (const char *const[]){ "Track", "1", "RelTime", "0:01:00", "TrackDuration", "0:03:00", NULL });
    answer("GetVolume", (const char *const[]){ "CurrentVolume", "20", NULL });
    answer("GetMute", (const char *const[]){ "CurrentMute", "0", NULL });
    CHECK(has(answer("SetVolume", NULL), "<DesiredVolume>40</DesiredVolume>"));
    CHECK(has(answer("SetAVTransportURI", NULL), "<CurrentURI>http://10.0.0.1:8080/media/a.wav</CurrentURI>"));
    answer("Play", NULL);
}

static void transport(sb_instance *inst, sn_speaker *s, const char *state)
{
    snprintf(s->transport, sizeof s->transport, "%s", state);
    sn_lifecycle_emit(&inst->hub, inst, SN_EV_TRANSPORT_CHANGED, s, "event");
}

static void test_upnp_round_trip(void)
{
    sb_instance *inst = setup();
    sn_speaker *s = fake_speaker(inst, "uuid-1", "Study", "10.0.0.5", false);
    char err[200] = "";
    CHECK(sn_announce_start(inst, "study", &CLIP, 7, err, sizeof err) == SB_OK);
    CHECK(sn_announce_start(inst, "study", &CLIP, 8, err, sizeof err) == SB_ERR_BUSY);
    play_until_wait();
    CHECK(fake_timer_find(&f, 1000, 1000) != NULL);  /* the poll, a safety net for lost events */
    CHECK(fake_timer_find(&f, 4000, 0) != NULL);     /* the clip's length + announce_margin */

    transport(inst, s, "PLAYING");
    CHECK(fake_http_open_count(&f) == 0);
    transport(inst, s, "STOPPED");
    /* Restore: the file at its position, the volume, Play (it was playing). */
    CHECK(has(answer("SetAVTransportURI", NULL), "<CurrentURI>http://nas/song.flac</CurrentURI>"));
    CHECK(has(answer("Seek", NULL), "<Target>0:01:00</Target>"));
    CHECK(has(answer("SetVolume", NULL), "<DesiredVolume>20</DesiredVolume>"));
    answer("Play", NULL);
    CHECK(f.complete_count == 1 && f.completed_op == 7 && f.completed_status == SB_OK);
    CHECK(has(f.completed_detail, "\"restored\":true,\"source\":\"file\",\"soap_calls\":12"));
    CHECK(s->announcement == NULL && fake_timer_active_count(&f) == 0);
    fake_instance_free(inst);
}

static void test_refusals_and_ends(void)
{
    sb_instance *inst = setup();
    sn_speaker *s = fake_speaker(inst, "uuid-1", "Study", "10.0.0.5", false);
    char err[200] = "";
    CHECK(sn_announce_start(inst, "attic", &CLIP, 1, err, sizeof err) == SB_ERR_NOT_FOUND);
    CHECK_STR(err, "unknown speaker attic");
    sn_speaker_set_online(inst, s, false, "gone");
    CHECK(sn_announce_start(inst, "study", &CLIP, 1, err, sizeof err) == SB_ERR_FAILED);
    CHECK_STR(err, "study is offline");
    sn_speaker_set_online(inst, s, true, "back");

    /* Cancelled before anything audible happened: nothing to put back. */
    CHECK(sn_announce_start(inst, "study", &CLIP, 2, err, sizeof err) == SB_OK);
    CHECK(sn_announce_cancel(inst, 2) == SB_OK);
    answer("GetMediaInfo", (const char *const[]){ "CurrentURI", "", NULL });
    CHECK(f.complete_count == 1 && f.completed_status == SB_ERR_CANCELLED);
    CHECK(sn_announce_cancel(inst, 2) == SB_ERR_NOT_FOUND);

    /* The speaker goes offline while the clip plays: failed at once, no restore attempted. */
    CHECK(sn_announce_start(inst, "study", &CLIP, 3, err, sizeof err) == SB_OK);
    play_until_wait();
    sn_speaker_set_online(inst, s, false, "it said goodbye");
    CHECK(f.complete_count == 2 && f.completed_op == 3 && f.completed_status == SB_ERR_FAILED);
    CHECK_STR(f.completed_detail, "the speaker went offline during the announcement");
    CHECK(fake_http_open_count(&f) == 0 && fake_timer_active_count(&f) == 0);

    /* No STOPPED within the clip's length + margin: restored anyway. */
    sn_speaker_set_online(inst, s, true, "back");
    CHECK(sn_announce_start(inst, "study", &CLIP, 4, err, sizeof err) == SB_OK);
    play_until_wait();
    fake_timer_fire(&f, fake_timer_find(&f, 4000, 0));
    answer("SetAVTransportURI", NULL);
    answer("Seek", NULL);
    answer("SetVolume", NULL);
    answer("Play", NULL);
    CHECK(f.complete_count == 3 && f.completed_op == 4 && f.completed_status == SB_OK);

    /* Destroy with one running: freed without a completion (the host completes it). */
    CHECK(sn_announce_start(inst, "study", &CLIP, 5, err, sizeof err) == SB_OK);
    sn_http_cancel_all(inst);
    sn_announce_free_all(inst);
    CHECK(f.complete_count == 3 && s->announcement == NULL);
    fake_instance_free(inst);
}

/* The audioClip socket of a started announcement through subscribe to the player's clip `id`. */
static void clip_loaded(fake_socket *ws, const char *id)
{
    char answer[200];
    fake_ws_event(&f, ws, SB_WS_OPEN, "v1.api.smartspeaker.audio");
    fake_ws_event(&f, ws, SB_WS_TEXT, "[{\"response\":\"subscribe\",\"cmdId\":\"1\",\"success\":true},{}]");
    snprintf(answer, sizeof answer, "[{\"response\":\"loadAudioClip\",\"cmdId\":\"2\",\"success\":true},"
                                    "{\"_objectType\":\"audioClip\",\"id\":\"%s\"}]", id);
    fake_ws_event(&f, ws, SB_WS_TEXT, answer);
}

static void test_audio_clip_first(void)
{
    sb_instance *inst = setup();
    sn_speaker *s = fake_speaker(inst, "RINCON_1", "Kitchen", "10.0.0.9", true);
    s->awaiting_topology = false;
    sn_speaker_set_online(inst, s, true, "found");
    fake_request *probe = fake_http_find(&f, "GET", "/api/v1/players/local/info");
    CHECK(probe != NULL);
    if (probe == NULL) return;
    fake_http_answer(&f, probe, 200, NULL, "{\"device\":{\"capabilities\":[\"AUDIO_CLIP\"]},\"playerId\":\"RINCON_1\"}");
    char err[200] = "";

    /* Played over the music: no SOAP action at all. */
    CHECK(sn_announce_start(inst, "kitchen", &CLIP, 9, err, sizeof err) == SB_OK);
    fake_socket *ws = fake_ws_last(&f);
    CHECK(ws != NULL);
    if (ws == NULL) return;
    clip_loaded(ws, "c1");
    fake_ws_event(&f, ws, SB_WS_TEXT, "[{\"type\":\"audioClipStatus\"},{\"audioClips\":[{\"id\":\"c1\",\"status\":\"DONE\"}]}]");
    CHECK(f.complete_count == 1 && f.completed_status == SB_OK);
    CHECK(has(f.completed_detail, "\"source\":\"audio_clip\",\"soap_calls\":0"));
    CHECK(has(f.completed_detail, "\"confirmed\":true"));
    CHECK(fake_http_open_count(&f) == 0);

    /* The socket does not open: the same announcement goes the UPnP way, and says why. */
    CHECK(sn_announce_start(inst, "kitchen", &CLIP, 10, err, sizeof err) == SB_OK);
    fake_ws_event(&f, fake_ws_last(&f), SB_WS_CLOSED, "connection refused");
    answer("GetMediaInfo", (const char *const[]){ "CurrentURI", "", NULL });
    answer("GetTransportInfo", (const char *const[]){ "CurrentTransportState", "STOPPED", NULL });
    answer("GetPositionInfo", NULL);
    answer("GetVolume", (const char *const[]){ "CurrentVolume", "40", NULL });
    answer("GetMute", (const char *const[]){ "CurrentMute", "0", NULL });
    answer("GetOutputFixed", (const char *const[]){ "CurrentFixed", "0", NULL });
    answer("SetAVTransportURI", NULL);
    answer("Play", NULL);
    transport(inst, s, "PLAYING");
    transport(inst, s, "STOPPED");
    /* Nothing was playing: only the transport URI had changed, and there was none to put back. */
    CHECK(f.complete_count == 2 && f.completed_op == 10 && f.completed_status == SB_OK);
    CHECK(has(f.completed_detail, "\"audio_clip_fallback\":\"the audioClip connection closed: connection refused\""));

    /* A cancel while the clip plays completes at once and sends cancelAudioClip (closing the
     * socket would not stop it on a real player); the player's answer closes the socket. */
    CHECK(sn_announce_start(inst, "kitchen", &CLIP, 11, err, sizeof err) == SB_OK);
    ws = fake_ws_last(&f);
    if (ws == NULL) return;
    clip_loaded(ws, "c2");
    CHECK(sn_announce_cancel(inst, 11) == SB_OK);
    CHECK(f.complete_count == 3 && f.completed_status == SB_ERR_CANCELLED);
    CHECK(ws->open && has(ws->sent, "\"command\":\"cancelAudioClip\"") && has(ws->sent, "\"id\":\"c2\""));
    fake_ws_event(&f, ws, SB_WS_TEXT, "[{\"response\":\"cancelAudioClip\",\"cmdId\":\"3\",\"success\":true},{}]");
    CHECK(!ws->open);

    /* Cut by another clip: failed, with the reason, and the speaker is free for the next one. */
    CHECK(sn_announce_start(inst, "kitchen", &CLIP, 12, err, sizeof err) == SB_OK);
    ws = fake_ws_last(&f);
    if (ws == NULL) return;
    clip_loaded(ws, "c3");
    fake_ws_event(&f, ws, SB_WS_TEXT, "[{\"type\":\"audioClipStatus\"},{\"audioClips\":[{\"id\":\"c3\",\"status\":"
                                      "\"INTERRUPTED\"},{\"id\":\"x\",\"status\":\"ACTIVE\"}]}]");
    CHECK(f.complete_count == 4 && f.completed_status == SB_ERR_FAILED && has(f.completed_detail, "interrupted by another clip"));
    CHECK(s->announcement == NULL);
    fake_instance_free(inst);
}

int main(void)
{
    test_upnp_round_trip();
    test_refusals_and_ends();
    test_audio_clip_first();
    return CHECK_DONE("test_announce");
}

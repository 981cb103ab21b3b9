/* Speaker state (state.c over discovery, soap_call and the model, with a fake host): the retained
 * state from events, published only on change. The topology is in test_household.c. */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "discovery.h"
#include "fake_devices.h"
#include "state.h"
#include "text.h"

static fake_host f;

static bool has(const char *text, const char *part) { return strstr(text, part) != NULL; }

static void test_events_to_state(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    sn_state_init(inst);
    sn_speaker *s = fake_speaker(inst, "uuid-1", "Study", "10.0.0.5", false);
    CHECK(f.state_count == 1); /* ONLINE publishes */
    CHECK_STR(f.last_state_speaker, "study");
    CHECK(has(f.last_state, "\"name\":\"Study\"") && has(f.last_state, "\"address\":\"10.0.0.5\""));

    sn_state_apply_avt(inst, s, "TransportState", "PLAYING");
    sn_state_apply_avt(inst, s, "AVTransportURI", "http://radio.example/stream");
    sn_state_apply_avt(inst, s, "CurrentTrackMetaData",
                       "<DIDL-Lite xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:upnp=\"urn:schemas-upnp-org:metadata-1-0/upnp/\" "
                       "xmlns=\"urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/\"><item><dc:title>Song</dc:title>"
                       "<dc:creator>Band</dc:creator></item></DIDL-Lite>");
    sn_state_apply_rc(inst, s, "Volume", "Master", "30");
    sn_state_apply_rc(inst, s, "Volume", "LF", "99"); /* another channel: not the room's volume */
    sn_state_apply_rc(inst, s, "Mute", NULL, "1");
    sn_state_publish(inst, s);
    CHECK(f.state_count == 2);
    CHECK(has(f.last_state, "\"state\":\"playing\""));
    CHECK(has(f.last_state, "\"volume\":30") && has(f.last_state, "\"mute\":true"));
    CHECK(has(f.last_state, "\"title\":\"Song\"") && has(f.last_state, "\"artist\":\"Band\""));
    CHECK(has(f.last_state, "\"uri\":\"http://radio.example/stream\""));
    sn_state_publish(inst, s); /* nothing changed: nothing sent */
    CHECK(f.state_count == 2);

    sn_speaker_set_online(inst, s, false, "gone");
    CHECK(f.state_count == 3 && has(f.last_state, "\"state\":\"offline\""));
    fake_instance_free(inst);
}

static const char TRACK_META[] =
    "<DIDL-Lite xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:upnp=\"urn:schemas-upnp-org:metadata-1-0/upnp/\" "
    "xmlns=\"urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/\"><item><dc:title>Song</dc:title><dc:creator>Band</dc:creator>"
    "<upnp:album>Record</upnp:album><upnp:albumArtURI>/getaa?s=1&amp;u=x-sonos-http%3atrack</upnp:albumArtURI></item></DIDL-Lite>";
static const char NEXT_META[] =
    "<DIDL-Lite xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><item><dc:title>Next</dc:title><dc:creator>Other</dc:creator>"
    "</item></DIDL-Lite>";
static const char QUEUE_META[] = "<DIDL-Lite><item id=\"Q:0\"><dc:title>Queue</dc:title></item></DIDL-Lite>";

/* Real players send everything in the initial event and then only what changed (often without
 * AVTransportURI): a variable an event leaves out keeps its value, one sent empty clears it. */
static void test_partial_events(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    sn_state_init(inst);
    sn_speaker *s = fake_speaker(inst, "uuid-1", "Study", "10.0.0.5", false);
    /* The initial event. */
    sn_state_apply_avt(inst, s, "TransportState", "PLAYING");
    sn_state_apply_avt(inst, s, "AVTransportURI", "x-rincon-queue:uuid-1#0");
    sn_state_apply_avt(inst, s, "AVTransportURIMetaData", QUEUE_META);
    sn_state_apply_avt(inst, s, "CurrentPlayMode", "SHUFFLE");
    sn_state_apply_avt(inst, s, "CurrentCrossfadeMode", "1");
    sn_state_apply_avt(inst, s, "CurrentTrack", "3");
    sn_state_apply_avt(inst, s, "CurrentTrackDuration", "0:03:25");
    sn_state_apply_avt(inst, s, "CurrentTrackMetaData", TRACK_META);
    sn_state_apply_avt(inst, s, "NextTrackMetaData", NEXT_META);
    CHECK_STR(s->av_metadata, QUEUE_META);
    CHECK(s->crossfade == 1 && s->track_number == 3);
    CHECK_STR(s->track_duration, "0:03:25");
    CHECK_STR(s->album, "Record");
    /* The art is a path on the player: made absolute against its description's address. */
    CHECK_STR(s->album_art, "http://10.0.0.5:49152/getaa?s=1&u=x-sonos-http%3atrack");
    CHECK_STR(s->next_title, "Next");
    CHECK_STR(s->next_artist, "Other");
    CHECK(s->avt_event_ms > 0);

    /* A later event: paused, nothing else named. */
    sn_state_apply_avt(inst, s, "TransportState", "PAUSED_PLAYBACK");
    CHECK_STR(s->transport, "PAUSED_PLAYBACK");
    CHECK_STR(s->av_uri, "x-rincon-queue:uuid-1#0");
    CHECK_STR(s->av_metadata, QUEUE_META);
    CHECK_STR(s->play_mode, "SHUFFLE");
    CHECK(s->crossfade == 1 && s->track_number == 3);
    CHECK_STR(s->title, "Song");
    CHECK_STR(s->album_art, "http://10.0.0.5:49152/getaa?s=1&u=x-sonos-http%3atrack");

    /* Empty values clear: the queue ended, no next track. */
    sn_state_apply_avt(inst, s, "NextTrackMetaData", "");
    sn_state_apply_avt(inst, s, "CurrentTrackMetaData", "");
    sn_state_apply_avt(inst, s, "CurrentTrackDuration", "");
    sn_state_apply_avt(inst, s, "AVTransportURIMetaData", "");
    CHECK_STR(s->next_title, "");
    CHECK_STR(s->title, "");
    CHECK_STR(s->album_art, "");
    CHECK_STR(s->track_duration, "");
    CHECK_STR(s->av_metadata, "");
    CHECK_STR(s->av_uri, "x-rincon-queue:uuid-1#0");
    /* Crossfade and the track number read as unknown from anything but a number. */
    sn_state_apply_avt(inst, s, "CurrentCrossfadeMode", "NOT_IMPLEMENTED");
    sn_state_apply_avt(inst, s, "CurrentTrack", "");
    CHECK(s->crossfade == -1 && s->track_number == 0);
    /* Metadata too long to keep whole is dropped, not cut. */
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sn_state_apply_avt(inst, s, "AVTransportURIMetaData", big);
    CHECK_STR(s->av_metadata, "");
    fake_instance_free(inst);
}

/* Fresh: both subscriptions granted (not pending) and each has delivered an event under its SID. */
static void test_freshness(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    sn_state_init(inst);
    sn_speaker *s = fake_speaker(inst, "uuid-1", "Study", "10.0.0.5", false);
    CHECK(!sn_state_fresh(s)); /* no subscriptions */
    sn_copy(s->subs[SN_AVT].sid, sizeof s->subs[SN_AVT].sid, "uuid:sid-avt-1");
    sn_copy(s->subs[SN_RC].sid, sizeof s->subs[SN_RC].sid, "uuid:sid-rc-1");
    CHECK(!sn_state_fresh(s)); /* granted, no event yet */
    sn_state_apply_avt(inst, s, "TransportState", "PLAYING");
    CHECK(!sn_state_fresh(s)); /* RenderingControl has not spoken */
    sn_state_apply_rc(inst, s, "Volume", "Master", "20");
    CHECK(sn_state_fresh(s));
    CHECK(s->rc_event_ms > 0);

    /* An event that overtook the SUBSCRIBE answer: the subscription is still pending. */
    s->subs[SN_RC].pending = true;
    CHECK(!sn_state_fresh(s));
    s->subs[SN_RC].pending = false;

    /* A new subscription (renewal refused, speaker moved): stale until its own initial event. */
    sn_copy(s->subs[SN_AVT].sid, sizeof s->subs[SN_AVT].sid, "uuid:sid-avt-2");
    CHECK(!sn_state_fresh(s));
    sn_state_apply_avt(inst, s, "TransportState", "STOPPED");
    CHECK(sn_state_fresh(s));

    /* Offline: the subscriptions are dropped, and the state with them. */
    s->subs[SN_AVT].sid[0] = '\0';
    CHECK(!sn_state_fresh(s));
    fake_instance_free(inst);
}

/* The richer state: album art, position and duration, track number, source, next track, play
 * mode, crossfade. The position comes from GetPositionInfo while a coordinator plays (once when it
 * starts, then every 10 s), and is published only when an answer or a transition moves it. */
static void test_richer_state_and_position(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    sn_state_init(inst);
    sn_speaker *s = fake_speaker(inst, "uuid-1", "Study", "10.0.0.5", false);
    s->subs[SN_AVT].inst = inst; /* as gena.c sets it when it subscribes */
    sn_state_apply_avt(inst, s, "AVTransportURI", "x-rincon-queue:uuid-1#0");
    sn_state_apply_avt(inst, s, "CurrentTrackURI", "http://music.example/song.flac");
    sn_state_apply_avt(inst, s, "CurrentTrack", "4");
    sn_state_apply_avt(inst, s, "CurrentTrackDuration", "0:03:25");
    sn_state_apply_avt(inst, s, "CurrentTrackMetaData", TRACK_META);
    sn_state_apply_avt(inst, s, "NextTrackMetaData", NEXT_META);
    sn_state_apply_avt(inst, s, "CurrentPlayMode", "REPEAT_ALL");
    sn_state_apply_avt(inst, s, "CurrentCrossfadeMode", "1");
    sn_state_apply_avt(inst, s, "TransportState", "STOPPED");
    sn_state_publish(inst, s);
    CHECK(has(f.last_state, "\"album_art\":\"http://10.0.0.5:49152/getaa?s=1&u=x-sonos-http%3atrack\""));
    CHECK(has(f.last_state, "\"duration\":205") && has(f.last_state, "\"track\":4"));
    CHECK(has(f.last_state, "\"source\":\"queue\"") && has(f.last_state, "\"play_mode\":\"REPEAT_ALL\""));
    CHECK(has(f.last_state, "\"crossfade\":true"));
    CHECK(has(f.last_state, "\"next\":{\"title\":\"Next\",\"artist\":\"Other\"}"));
    /* Stopped: nobody asks where it is. */
    CHECK(fake_http_find(&f, "POST", "AVTransport") == NULL);
    CHECK(s->position_timer == 0);

    sn_state_apply_avt(inst, s, "TransportState", "PLAYING");
    sn_state_publish(inst, s);
    fake_request *r = fake_http_find(&f, "POST", "10.0.0.5:49152/MediaRenderer/AVTransport");
    CHECK(r != NULL && strcmp(fake_soap_action(r), "GetPositionInfo") == 0);
    CHECK(fake_timer_find(&f, 10000, 10000) != NULL);
    if (r != NULL) fake_soap_answer(&f, r, (const char *const[]){ "RelTime", "0:01:05", "TrackDuration", "0:03:25", NULL });
    CHECK(has(f.last_state, "\"state\":\"playing\"") && has(f.last_state, "\"position\":65"));
    unsigned published = f.state_count;
    /* An event that changes nothing publishes nothing: the position is not run on per event. */
    sn_state_apply_avt(inst, s, "TransportState", "PLAYING");
    sn_state_publish(inst, s);
    CHECK(f.state_count == published);
    CHECK(fake_http_find(&f, "POST", "AVTransport") == NULL); /* no second request meanwhile */
    /* The timer asks again. */
    fake_timer *tick = fake_timer_find(&f, 10000, 10000);
    if (tick != NULL) fake_timer_fire(&f, tick);
    r = fake_http_find(&f, "POST", "10.0.0.5:49152/MediaRenderer/AVTransport");
    CHECK(r != NULL);
    if (r != NULL) fake_soap_answer(&f, r, (const char *const[]){ "RelTime", "0:01:15", NULL });
    CHECK(has(f.last_state, "\"position\":75"));

    /* Paused: the polling stops. Another track: from its start, without asking. */
    sn_state_apply_avt(inst, s, "TransportState", "PAUSED_PLAYBACK");
    sn_state_publish(inst, s);
    CHECK(s->position_timer == 0 && fake_timer_active_count(&f) == 0);
    CHECK(has(f.last_state, "\"state\":\"paused\""));
    sn_state_apply_avt(inst, s, "CurrentTrackURI", "http://music.example/next.flac");
    sn_state_publish(inst, s);
    CHECK(has(f.last_state, "\"position\":0"));

    /* Sources from the URI's scheme. */
    const struct { const char *uri; const char *word; } sources[] = {
        { "x-sonosapi-stream:s24896?sid=254&flags=8224&sn=0", "radio" },
        { "x-rincon-stream:RINCON_X01400", "line_in" },
        { "x-sonos-htastream:RINCON_X01400:spdif", "tv" },
        { "x-rincon-queue:uuid-1#8", "cloud" },
        { "", "none" },
    };
    for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++) {
        sn_state_apply_avt(inst, s, "AVTransportURI", sources[i].uri);
        sn_state_publish(inst, s);
        char want[64];
        snprintf(want, sizeof want, "\"source\":\"%s\"", sources[i].word);
        CHECK(has(f.last_state, want));
    }
    /* A playing radio stream has no length: nobody asks where it is. */
    sn_state_apply_avt(inst, s, "AVTransportURI", "x-sonosapi-stream:s24896?sid=254&flags=8224&sn=0");
    sn_state_apply_avt(inst, s, "CurrentTrackDuration", "0:00:00");
    sn_state_apply_avt(inst, s, "TransportState", "PLAYING");
    sn_state_publish(inst, s);
    CHECK(fake_http_find(&f, "POST", "AVTransport") == NULL && s->position_timer == 0);
    sn_speaker_set_online(inst, s, false, "gone");
    fake_instance_free(inst);
}

/* A real group member reports `x-rincon:<coordinator>`, no metadata and PLAYING whatever happens:
 * its state shows the coordinator's music, follows it, and the member itself is never polled. */
static void test_member_shows_coordinator(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    sn_state_init(inst);
    sn_speaker *c = fake_speaker(inst, "RINCON_C", "Kitchen", "10.0.0.9", false);
    sn_speaker *m = fake_speaker(inst, "RINCON_M", "Office", "10.0.0.10", false);
    m->subs[SN_AVT].inst = inst;
    sn_state_apply_avt(inst, c, "TransportState", "PAUSED_PLAYBACK");
    sn_state_apply_avt(inst, c, "AVTransportURI", "x-rincon-queue:RINCON_C#0");
    sn_state_apply_avt(inst, c, "CurrentTrackURI", "http://music.example/song.flac");
    sn_state_apply_avt(inst, c, "CurrentTrackDuration", "0:03:25");
    sn_state_apply_avt(inst, c, "CurrentTrackMetaData", TRACK_META);
    sn_state_publish(inst, c);
    sn_state_apply_avt(inst, m, "TransportState", "PLAYING");
    sn_state_apply_avt(inst, m, "AVTransportURI", "x-rincon:RINCON_C");
    sn_state_apply_avt(inst, m, "CurrentTrackURI", "x-rincon:RINCON_C");
    sn_state_apply_avt(inst, m, "CurrentTrackMetaData", "NOT_IMPLEMENTED");
    sn_state_apply_rc(inst, m, "Volume", "Master", "12");
    sn_state_publish(inst, m);
    CHECK_STR(f.last_state_speaker, "office");
    CHECK(has(f.last_state, "\"state\":\"paused\"")); /* the coordinator's, not the member's PLAYING */
    CHECK(has(f.last_state, "\"title\":\"Song\"") && has(f.last_state, "\"artist\":\"Band\""));
    CHECK(has(f.last_state, "\"album\":\"Record\"") && has(f.last_state, "\"duration\":205"));
    CHECK(has(f.last_state, "\"source\":\"queue\"") && has(f.last_state, "\"volume\":12"));
    CHECK(has(f.last_state, "\"uri\":\"x-rincon:RINCON_C\""));
    CHECK(fake_http_find(&f, "POST", "10.0.0.10") == NULL && m->position_timer == 0);

    /* The coordinator's next event republishes the member too. */
    sn_state_apply_avt(inst, c, "CurrentTrackMetaData", NEXT_META);
    sn_state_publish(inst, c);
    CHECK_STR(f.last_state_speaker, "office");
    CHECK(has(f.last_state, "\"title\":\"Next\""));

    /* Known from the topology (the member's own URI not yet read) works the same. */
    sn_state_apply_avt(inst, m, "AVTransportURI", "");
    sn_copy(m->coordinator, sizeof m->coordinator, "RINCON_C");
    sn_state_apply_avt(inst, c, "TransportState", "STOPPED");
    sn_state_publish(inst, c);
    CHECK_STR(f.last_state_speaker, "office");
    CHECK(has(f.last_state, "\"state\":\"stopped\"") && has(f.last_state, "\"title\":\"Next\""));
    fake_instance_free(inst);
}

int main(void)
{
    test_events_to_state();
    test_partial_events();
    test_freshness();
    test_richer_state_and_position();
    test_member_shows_coordinator();
    return CHECK_DONE("test_state");
}

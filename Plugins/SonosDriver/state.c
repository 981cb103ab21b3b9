/* What each speaker is doing, as its events tell it, and the retained `<base>/<speaker>/state`
 * built from it. A state is published only when it changed, so a chatty device (position
 * updates, repeated events) does not flood the broker. */
#define _POSIX_C_SOURCE 200809L

#include "state.h"
#include "discovery.h"
#include "events.h"
#include "soap_call.h"
#include "sources.h"
#include "text.h"
#include "url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How often a playing coordinator is asked for its position (GetPositionInfo): often enough for a
 * progress bar to stay near the truth, rare enough that 32 playing rooms cost about 3 SOAP calls a
 * second. Between two answers the position is not published again (no MQTT flood). */
#define POSITION_POLL_MS 10000u

/* "H:MM:SS" (RelTime, CurrentTrackDuration) in seconds; -1 for NOT_IMPLEMENTED or anything else. */
static int clock_seconds(const char *text)
{
    unsigned h, m, sec;
    char extra;
    if (text == NULL || sscanf(text, "%u:%u:%u%c", &h, &m, &sec, &extra) != 3 || m > 59 || sec > 59 || h > 10000) return -1;
    return (int)(h * 3600u + m * 60u + sec);
}

/* The position now: the one last read, run on while playing. */
static int position_now(const sn_speaker *s)
{
    if (s->position_at_ms == 0) return -1;
    int p = s->position_s;
    if (strcmp(s->transport, "PLAYING") == 0) p += (int)((sn_now_ms() - s->position_at_ms) / 1000u);
    int duration = clock_seconds(s->track_duration);
    return duration > 0 && p > duration ? duration : p;
}

static void set_position(sn_speaker *s, int seconds)
{
    s->position_s = seconds;
    s->position_at_ms = seconds >= 0 ? sn_now_ms() : 0;
}

/* Title, artist, album and art of a DIDL-Lite document ("" or NOT_IMPLEMENTED: none). Radio shows
 * "now playing" in r:streamContent and the station as the title (as SoCo's and Home Assistant's
 * media info read it). */
static void apply_track_metadata(sn_speaker *s, const char *value)
{
    sn_didl_item item;
    if (value[0] == '\0' || strcmp(value, "NOT_IMPLEMENTED") == 0 || sn_didl_parse(value, strlen(value), &item) != 0) {
        memset(&item, 0, sizeof item);
    }
    if (item.stream_content[0] != '\0' && item.artist[0] == '\0') {
        sn_copy(s->title, sizeof s->title, item.stream_content);
        sn_copy(s->artist, sizeof s->artist, item.title);
    } else {
        sn_copy(s->title, sizeof s->title, item.title);
        sn_copy(s->artist, sizeof s->artist, item.artist);
    }
    sn_copy(s->album, sizeof s->album, item.album);
    /* Sonos gives the art as a path on the player ("/getaa?s=1&u=…"), served at its own address
     * (SoCo's build_album_art_full_uri does the same join). */
    s->album_art[0] = '\0';
    if (item.album_art[0] != '\0' && s->location[0] != '\0') {
        char *art = sn_url_resolve(s->location, item.album_art);
        if (art != NULL && sn_copy_trimmed_exact(s->album_art, sizeof s->album_art, art) != 0) s->album_art[0] = '\0';
        free(art);
    }
}

static void apply_next_metadata(sn_speaker *s, const char *value)
{
    sn_didl_item item;
    if (value[0] == '\0' || strcmp(value, "NOT_IMPLEMENTED") == 0 || sn_didl_parse(value, strlen(value), &item) != 0) {
        memset(&item, 0, sizeof item);
    }
    sn_copy(s->next_title, sizeof s->next_title, item.title);
    sn_copy(s->next_artist, sizeof s->next_artist, item.artist);
}

/* Only the variables an event names change: real players send the whole state in the initial
 * event and after that only what changed, most often without AVTransportURI (SoCo's and
 * node-sonos-ts's event parsers merge the same way). A variable sent empty clears its field. */
void sn_state_apply_avt(sb_instance *inst, sn_speaker *s, const char *name, const char *value)
{
    (void)inst;
    s->avt_event_ms = sn_now_ms();
    sn_copy(s->avt_event_sid, sizeof s->avt_event_sid, s->subs[SN_AVT].sid);
    if (strcmp(name, "TransportState") == 0) {
        /* The position runs while playing: fold the time played in when it stops, and count from
         * now when it starts. */
        int position = position_now(s);
        sn_copy(s->transport, sizeof s->transport, value);
        if (position >= 0) set_position(s, position);
    } else if (strcmp(name, "AVTransportURI") == 0) {
        sn_copy(s->av_uri, sizeof s->av_uri, value);
    } else if (strcmp(name, "AVTransportURIMetaData") == 0) {
        /* Kept whole for a restore, or not at all: cut XML would be refused by the player. */
        if (strlen(value) < sizeof s->av_metadata) sn_copy(s->av_metadata, sizeof s->av_metadata, value);
        else s->av_metadata[0] = '\0';
    } else if (strcmp(name, "CurrentTrackURI") == 0) {
        /* Another track starts at its beginning; the next answer to GetPositionInfo says more.
         * (The first track the record hears of may be anywhere: that waits for the answer.) */
        if (value[0] == '\0') set_position(s, -1);
        else if (s->track_uri[0] != '\0' && strcmp(s->track_uri, value) != 0) set_position(s, 0);
        sn_copy(s->track_uri, sizeof s->track_uri, value);
    } else if (strcmp(name, "CurrentPlayMode") == 0) {
        sn_copy(s->play_mode, sizeof s->play_mode, value);
    } else if (strcmp(name, "CurrentCrossfadeMode") == 0) {
        s->crossfade = strcmp(value, "1") == 0 ? 1 : strcmp(value, "0") == 0 ? 0 : -1;
    } else if (strcmp(name, "CurrentTrack") == 0) {
        long n = strtol(value, NULL, 10);
        s->track_number = n > 0 && n < 1000000 ? (int)n : 0;
    } else if (strcmp(name, "CurrentTrackDuration") == 0) {
        if (sn_copy_trimmed_exact(s->track_duration, sizeof s->track_duration, value) != 0) s->track_duration[0] = '\0';
    } else if (strcmp(name, "CurrentTrackMetaData") == 0) {
        apply_track_metadata(s, value);
    } else if (strcmp(name, "NextTrackMetaData") == 0) {
        /* r:NextTrackMetaData on Sonos (the reader drops the prefix), NextTrackMetaData elsewhere. */
        apply_next_metadata(s, value);
    }
}

bool sn_state_fresh(const sn_speaker *s)
{
    const sn_subscription *avt = &s->subs[SN_AVT];
    const sn_subscription *rc = &s->subs[SN_RC];
    return avt->sid[0] != '\0' && !avt->pending && strcmp(avt->sid, s->avt_event_sid) == 0 && rc->sid[0] != '\0' &&
           !rc->pending && strcmp(rc->sid, s->rc_event_sid) == 0;
}

void sn_state_apply_rc(sb_instance *inst, sn_speaker *s, const char *name, const char *channel, const char *value)
{
    (void)inst;
    s->rc_event_ms = sn_now_ms();
    sn_copy(s->rc_event_sid, sizeof s->rc_event_sid, s->subs[SN_RC].sid);
    bool master = channel == NULL || strcmp(channel, "Master") == 0;
    if (strcmp(name, "Volume") == 0 && master) {
        long v = strtol(value, NULL, 10);
        if (v >= 0 && v <= 100) s->volume = (int)v;
    } else if (strcmp(name, "Mute") == 0 && master) {
        s->mute = strcmp(value, "1") == 0 || strcmp(value, "true") == 0;
    } else if (strcmp(name, "OutputFixed") == 0) {
        s->output_fixed = strcmp(value, "1") == 0;
    }
}

static const char *state_word(const char *transport)
{
    if (strcmp(transport, "PLAYING") == 0) return "playing";
    if (strcmp(transport, "PAUSED_PLAYBACK") == 0 || strcmp(transport, "PAUSED") == 0) return "paused";
    if (strcmp(transport, "STOPPED") == 0) return "stopped";
    if (strcmp(transport, "TRANSITIONING") == 0) return "transitioning";
    if (strcmp(transport, "NO_MEDIA_PRESENT") == 0) return "idle";
    return transport[0] != '\0' ? transport : NULL;
}

/* Where a speaker's music comes from: its group coordinator, known from the household's topology
 * or, before that arrives, from the member's own AVTransportURI `x-rincon:<coordinator>` (what a
 * real member reports: SoCo's is_coordinator and Home Assistant read groups the same way). */
static sn_speaker *music_source(sb_instance *inst, sn_speaker *s)
{
    sn_speaker *c = sn_speaker_coordinator(inst, s);
    if (c == s && strncmp(s->av_uri, "x-rincon:", 9) == 0) {
        sn_speaker *o = sn_speaker_by_uuid(inst, s->av_uri + 9);
        if (o != NULL && o != s && o->described) c = o;
    }
    return c;
}

/* The state's `source`, from the URI's scheme (sources.c classifies; these are the published names). */
static const char *source_word(sn_source_kind kind)
{
    switch (kind) {
    case SN_SRC_QUEUE: return "queue";
    case SN_SRC_STREAM: return "radio";
    case SN_SRC_LINE_IN: return "line_in";
    case SN_SRC_TV: return "tv";
    case SN_SRC_GROUP: return "group";
    case SN_SRC_CLOUD: return "cloud";
    case SN_SRC_AIRPLAY: return "airplay";
    case SN_SRC_FILE: return "file";
    case SN_SRC_NONE: break;
    }
    return "none";
}

static void group_json(sb_instance *inst, sn_speaker *s, sn_text *t)
{
    sn_speaker *coordinator = sn_speaker_coordinator(inst, s);
    sn_text names = { 0 };
    size_t count = 0;
    sn_text_puts(t, ",\"group\":{\"coordinator\":");
    sn_text_json_string(t, coordinator->id);
    sn_text_puts(t, ",\"members\":[");
    for (size_t i = 0; i < inst->speaker_count; i++) {
        sn_speaker *o = inst->speakers[i];
        if (!o->described || o->invisible) continue;
        if (sn_speaker_coordinator(inst, o) != coordinator) continue;
        if (count > 0) sn_text_puts(t, ","), sn_text_puts(&names, ",");
        sn_text_json_string(t, o->id);
        sn_text_json_string(&names, o->name);
        count++;
    }
    sn_text_puts(t, "]}");
    /* The group's name as the Sonos app shows it: the coordinator's room, "+ N" for the others
     * (SoCo's ZoneGroup.short_label). */
    sn_text_puts(t, ",\"group_name\":");
    if (count > 1) {
        char label[160];
        snprintf(label, sizeof label, "%.128s + %zu", coordinator->name, count - 1);
        sn_text_json_string(t, label);
    } else {
        sn_text_json_string(t, coordinator->name);
    }
    sn_text_puts(t, ",\"group_member_names\":[");
    sn_text_puts(t, sn_text_str(&names));
    sn_text_puts(t, "]");
    if (names.failed) t->failed = true;
    sn_text_free(&names);
}

static void optional_string(sn_text *t, const char *key, const char *value)
{
    if (value == NULL || value[0] == '\0') return;
    sn_text_printf(t, ",\"%s\":", key);
    sn_text_json_string(t, value);
}

static void position_answer(sb_instance *inst, void *ctx, int ok, sn_soap_result *result)
{
    /* Only a speaker still in the table: it may have gone while the request was out. */
    sn_speaker *s = NULL;
    for (size_t i = 0; i < inst->speaker_count && s == NULL; i++) {
        if (inst->speakers[i] == ctx) s = inst->speakers[i];
    }
    if (s == NULL) return;
    if (!ok) {
        sn_log(inst, SB_LOG_DEBUG, "%s: no position: %s", s->id, result->reason);
        return;
    }
    set_position(s, clock_seconds(sn_soap_out(result, "RelTime")));
    const char *duration = sn_soap_out(result, "TrackDuration");
    if (s->track_duration[0] == '\0' && clock_seconds(duration) > 0) {
        sn_copy_trimmed_exact(s->track_duration, sizeof s->track_duration, duration);
    }
    sn_state_publish(inst, s);
}

static void ask_position(sb_instance *inst, sn_speaker *s)
{
    char err[200];
    if (!sn_soap(inst, s, SN_AVT, "GetPositionInfo", (const char *const[]){ "InstanceID", "0", NULL }, position_answer, s,
                 err, sizeof err)) {
        sn_log(inst, SB_LOG_DEBUG, "%s: %s", s->id, err);
    }
}

static void position_tick(void *user, uint64_t timer_id)
{
    (void)timer_id;
    sn_speaker *s = user;
    /* Timers carry one pointer: the instance is the one gena.c keeps beside the speaker (polling
     * starts only where that is set, see follow_position), and the timer is cancelled when the
     * speaker goes offline, before its record could go. */
    sb_instance *inst = s->subs[SN_AVT].inst;
    if (inst != NULL) ask_position(inst, s);
}

/* Only a coordinator that plays a track with a length is asked for its position: its members show
 * its position, a paused or stopped one does not move, and a radio stream, line-in or TV has no
 * position worth showing. Nor while an announcement plays there (its clip is not the music, and
 * the announcement's own SOAP calls go first). It is asked at once only when its position is not
 * known at all: a resume or a new track carry it on from what the record holds. */
static void follow_position(sb_instance *inst, sn_speaker *s, bool own_music)
{
    bool poll = own_music && s->online && strcmp(s->transport, "PLAYING") == 0 && clock_seconds(s->track_duration) > 0 &&
                s->announcement == NULL && s->services[SN_AVT] != NULL && s->subs[SN_AVT].inst == inst;
    if (!poll) {
        sn_timer_cancel(inst, &s->position_timer);
        return;
    }
    if (s->position_timer != 0) return;
    s->position_timer = sn_timer_start(inst, POSITION_POLL_MS, POSITION_POLL_MS, position_tick, s);
    if (s->position_at_ms == 0) ask_position(inst, s);
}

/* A member shows what its coordinator plays (title, artist, album, art, position, source, next
 * track, play mode, crossfade, transport): on a real player a member's own AVTransport says only
 * `x-rincon:<coordinator>` and PLAYING. Volume and mute are the member's own. */
static void publish_one(sb_instance *inst, sn_speaker *s)
{
    if (!s->described || s->invisible || s->id[0] == '\0' || inst->publish == NULL) return;
    sn_speaker *m = music_source(inst, s);
    follow_position(inst, s, m == s);
    sn_text t = { 0 };
    sn_text_puts(&t, "{\"state\":");
    sn_text_json_string(&t, s->online ? state_word(m->transport) : "offline");
    if (!s->online) optional_string(&t, "offline_reason", s->offline_reason);
    if (s->volume >= 0) sn_text_printf(&t, ",\"volume\":%d", s->volume);
    if (s->mute >= 0) sn_text_printf(&t, ",\"mute\":%s", s->mute ? "true" : "false");
    if (s->output_fixed) sn_text_puts(&t, ",\"fixed_volume\":true");
    sn_text_puts(&t, ",\"title\":");
    sn_text_json_string(&t, m->title[0] != '\0' ? m->title : NULL);
    sn_text_puts(&t, ",\"artist\":");
    sn_text_json_string(&t, m->artist[0] != '\0' ? m->artist : NULL);
    optional_string(&t, "album", m->album);
    optional_string(&t, "album_art", m->album_art);
    int duration = clock_seconds(m->track_duration);
    /* As of the last answer or transition, not run on to now: the state then changes (and is
     * published) with the position at most once per poll, not on every event. */
    int position = m->position_at_ms != 0 ? m->position_s : -1;
    if (position >= 0 && m->track_uri[0] != '\0') sn_text_printf(&t, ",\"position\":%d", position);
    if (duration > 0) sn_text_printf(&t, ",\"duration\":%d", duration);
    if (m->track_number > 0) sn_text_printf(&t, ",\"track\":%d", m->track_number);
    sn_text_puts(&t, ",\"source\":");
    sn_text_json_string(&t, source_word(sn_source_classify(m->av_uri, m->av_metadata)));
    sn_text_puts(&t, ",\"uri\":");
    sn_text_json_string(&t, s->av_uri[0] != '\0' ? s->av_uri : NULL);
    optional_string(&t, "play_mode", m->play_mode);
    if (m->crossfade >= 0) sn_text_printf(&t, ",\"crossfade\":%s", m->crossfade ? "true" : "false");
    if (m->next_title[0] != '\0') {
        sn_text_puts(&t, ",\"next\":{\"title\":");
        sn_text_json_string(&t, m->next_title);
        sn_text_puts(&t, ",\"artist\":");
        sn_text_json_string(&t, m->next_artist[0] != '\0' ? m->next_artist : NULL);
        sn_text_puts(&t, "}");
    }
    if (s->services[SN_ZGT] != NULL) group_json(inst, s, &t);
    sn_text_puts(&t, ",\"name\":");
    sn_text_json_string(&t, s->name);
    sn_text_puts(&t, ",\"model\":");
    sn_text_json_string(&t, s->model);
    sn_text_puts(&t, ",\"uuid\":");
    sn_text_json_string(&t, s->uuid);
    sn_text_puts(&t, ",\"address\":");
    sn_text_json_string(&t, s->address);
    sn_text_puts(&t, "}");
    if (!t.failed && t.len < sizeof s->last_state_json && strcmp(t.data, s->last_state_json) != 0) {
        memcpy(s->last_state_json, t.data, t.len + 1);
        inst->publish->speaker_state(inst->host, s->id, t.data);
    }
    sn_text_free(&t);
}

void sn_state_publish(sb_instance *inst, sn_speaker *s)
{
    publish_one(inst, s);
    /* Its members show its music: theirs changed with it. */
    for (size_t i = 0; i < inst->speaker_count; i++) {
        sn_speaker *o = inst->speakers[i];
        if (o != s && music_source(inst, o) == s) publish_one(inst, o);
    }
}

static void publish_handler(sb_instance *inst, sn_speaker *s, const char *why, void *user)
{
    (void)why;
    (void)user;
    sn_state_publish(inst, s);
}

/* A new subscription follows (offline, then back; a new address): the record is not fresh until
 * that subscription's initial event, even should the device hand out the same SID again. */
static void forget_events(sb_instance *inst, sn_speaker *s, const char *why, void *user)
{
    (void)why;
    (void)user;
    s->avt_event_sid[0] = '\0';
    s->rc_event_sid[0] = '\0';
    sn_timer_cancel(inst, &s->position_timer);
}

void sn_state_init(sb_instance *inst)
{
    sn_lifecycle_on(&inst->hub, SN_EV_OFFLINE, forget_events, NULL);
    sn_lifecycle_on(&inst->hub, SN_EV_MOVED, forget_events, NULL);
    sn_lifecycle_on(&inst->hub, SN_EV_ONLINE, publish_handler, NULL);
    sn_lifecycle_on(&inst->hub, SN_EV_OFFLINE, publish_handler, NULL);
}

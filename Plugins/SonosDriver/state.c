/* What each speaker is doing, as its events tell it, and the retained `<base>/<speaker>/state`
 * built from it. A state is published only when it changed, so a chatty device (position
 * updates, repeated events) does not flood the broker. */
#define _POSIX_C_SOURCE 200809L

#include "state.h"
#include "discovery.h"
#include "events.h"
#include "soap_call.h"
#include "text.h"
#include "url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        sn_copy(s->transport, sizeof s->transport, value);
    } else if (strcmp(name, "AVTransportURI") == 0) {
        sn_copy(s->av_uri, sizeof s->av_uri, value);
    } else if (strcmp(name, "AVTransportURIMetaData") == 0) {
        /* Kept whole for a restore, or not at all: cut XML would be refused by the player. */
        if (strlen(value) < sizeof s->av_metadata) sn_copy(s->av_metadata, sizeof s->av_metadata, value);
        else s->av_metadata[0] = '\0';
    } else if (strcmp(name, "CurrentTrackURI") == 0) {
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

static void group_json(sb_instance *inst, sn_speaker *s, sn_text *t)
{
    sn_speaker *coordinator = sn_speaker_coordinator(inst, s);
    sn_text_puts(t, ",\"group\":{\"coordinator\":");
    sn_text_json_string(t, coordinator->id);
    sn_text_puts(t, ",\"members\":[");
    bool first = true;
    for (size_t i = 0; i < inst->speaker_count; i++) {
        sn_speaker *o = inst->speakers[i];
        if (!o->described || o->invisible) continue;
        if (sn_speaker_coordinator(inst, o) != coordinator) continue;
        if (!first) sn_text_puts(t, ",");
        sn_text_json_string(t, o->id);
        first = false;
    }
    sn_text_puts(t, "]}");
}

void sn_state_publish(sb_instance *inst, sn_speaker *s)
{
    if (!s->described || s->invisible || s->id[0] == '\0' || inst->publish == NULL) return;
    sn_text t = { 0 };
    sn_text_puts(&t, "{\"state\":");
    sn_text_json_string(&t, s->online ? state_word(s->transport) : "offline");
    if (s->volume >= 0) sn_text_printf(&t, ",\"volume\":%d", s->volume);
    if (s->mute >= 0) sn_text_printf(&t, ",\"mute\":%s", s->mute ? "true" : "false");
    if (s->output_fixed) sn_text_puts(&t, ",\"fixed_volume\":true");
    sn_text_puts(&t, ",\"title\":");
    sn_text_json_string(&t, s->title[0] != '\0' ? s->title : NULL);
    sn_text_puts(&t, ",\"artist\":");
    sn_text_json_string(&t, s->artist[0] != '\0' ? s->artist : NULL);
    if (s->album[0] != '\0') {
        sn_text_puts(&t, ",\"album\":");
        sn_text_json_string(&t, s->album);
    }
    sn_text_puts(&t, ",\"uri\":");
    sn_text_json_string(&t, s->av_uri[0] != '\0' ? s->av_uri : NULL);
    if (s->play_mode[0] != '\0') {
        sn_text_puts(&t, ",\"play_mode\":");
        sn_text_json_string(&t, s->play_mode);
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
    (void)inst;
    (void)why;
    (void)user;
    s->avt_event_sid[0] = '\0';
    s->rc_event_sid[0] = '\0';
}

void sn_state_init(sb_instance *inst)
{
    sn_lifecycle_on(&inst->hub, SN_EV_OFFLINE, forget_events, NULL);
    sn_lifecycle_on(&inst->hub, SN_EV_MOVED, forget_events, NULL);
    sn_lifecycle_on(&inst->hub, SN_EV_ONLINE, publish_handler, NULL);
    sn_lifecycle_on(&inst->hub, SN_EV_OFFLINE, publish_handler, NULL);
}

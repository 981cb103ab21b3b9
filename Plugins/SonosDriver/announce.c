/* Announcements over UPnP: snapshot what the speaker is doing, play the clip, wait until it has
 * played, and put everything back. Each step is one SOAP action; its answer starts the next
 * step, so the instance's executor is never blocked and a cancel or a vanished speaker can cut
 * in between any two steps.
 *
 *   snapshot: from the speaker record when its events are current (sn_state_fresh), asking only
 *             GetPositionInfo for a queue or a file; else GetTransportInfo, GetMediaInfo,
 *             GetPositionInfo, GetVolume, GetMute, GetOutputFixed, and for a queue
 *             GetTransportSettings and GetCrossfadeMode
 *   play:     [BecomeCoordinatorOfStandaloneGroup] SetAVTransportURI, SetVolume, SetMute 0, Play:
 *             the URI first, so music still playing never jumps to the announcement's volume; then
 *             SetVolume goes beside the next calls (beside the URI when nothing plays)
 *   wait:     STOPPED by GENA event or by a poll of GetTransportInfo; the clip's duration plus a
 *             margin at the latest
 *   restore:  SetAVTransportURI (queue, stream + metadata rebuilt where the player's is refused,
 *             line-in, TV, or x-rincon: back to the group), Seek track and time, SetPlayMode,
 *             SetCrossfadeMode, SetVolume, SetMute, Play if it was playing
 *
 * With SB_CLIP_ONLY_WHEN_PLAYING a speaker that is not playing is left alone. With SB_CLIP_GROUP
 * the rooms of one announcement form a temporary group for the clip (announce_group.c).
 *
 * Sources UPnP cannot give back (a cloud queue such as Spotify Connect, AirPlay) are named in the
 * result instead of being silently broken.
 *
 * A player with the local audioClip API (audioclip.c) is asked that way first: it plays the clip
 * over the music, so none of the above is needed. When it cannot take the clip, the same
 * announcement goes the UPnP way (start_upnp). */
#define _POSIX_C_SOURCE 200809L

#include "announce.h"
#include "announce_run.h"
#include "audioclip.h"
#include "soap_call.h"
#include "sources.h"
#include "state.h"
#include "text.h"

#include <stddef.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define POLL_MS 1000u
#define UNKNOWN_DURATION_WAIT_MS 120000u

/* A group member waits for its leader's clip at most this long past the clip's own wait. */
#define MEMBER_SLACK_MS 10000u

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void unlink_announcement(sb_instance *inst, sn_announcement *a)
{
    for (sn_announcement **p = &inst->announcements; *p != NULL; p = &(*p)->next) {
        if (*p == a) {
            *p = a->next;
            return;
        }
    }
}

static void release(sn_announcement *a)
{
    sb_instance *inst = a->inst;
    announce_gathering_leave(a);
    sn_timer_cancel(inst, &a->fallback_timer);
    sn_timer_cancel(inst, &a->poll_timer);
    sn_timer_cancel(inst, &a->retry_timer);
    sn_audio_clip_free(a->clip); /* closes its socket */
    a->clip = NULL;
    if (a->speaker->announcement == a) a->speaker->announcement = NULL;
    unlink_announcement(inst, a);
    free(a->prior_metadata);
    free(a);
}

static void complete(sn_announcement *a, sb_status status, const char *reason)
{
    sb_instance *inst = a->inst;
    sn_text detail = { 0 };
    if (status == SB_OK && a->skipped) {
        sn_text_puts(&detail, "{\"skipped\":\"not playing\"}");
    } else if (status == SB_OK && a->played_by_clip) {
        sn_text_printf(&detail, "{\"restored\":true,\"source\":\"audio_clip\",\"soap_calls\":0,\"play_ack_ms\":%llu,"
                                "\"confirmed\":%s}",
                       (unsigned long long)(a->play_acked_ms > 0 ? a->play_acked_ms - a->started_ms : 0),
                       a->clip_confirmed ? "true" : "false");
    } else if (status == SB_OK) {
        sn_text_printf(&detail, "{\"restored\":%s,\"source\":\"%s\",\"soap_calls\":%u,\"play_ack_ms\":%llu,"
                                "\"snapshot\":\"%s\"",
                       a->not_restored[0] == '\0' ? "true" : "false", sn_source_name(a->source), (unsigned)a->soap_calls,
                       (unsigned long long)(a->play_acked_ms > 0 ? a->play_acked_ms - a->started_ms : 0),
                       a->from_state ? "events" : "soap");
        if (a->play_acked_us > 0) {
            sn_text_printf(&detail, ",\"play_ack_us\":%llu", (unsigned long long)(a->play_acked_us - a->started_us));
        }
        if (a->play_retried) sn_text_puts(&detail, ",\"play_retried\":true");
        if (a->member) sn_text_puts(&detail, ",\"group\":\"member\"");
        else if (a->gathering != NULL) sn_text_puts(&detail, ",\"group\":\"leader\"");
        if (a->not_restored[0] != '\0') {
            sn_text_puts(&detail, ",\"not_restored\":");
            sn_text_json_string(&detail, a->not_restored);
        }
        if (a->clip_fallback[0] != '\0') {
            sn_text_puts(&detail, ",\"audio_clip_fallback\":");
            sn_text_json_string(&detail, a->clip_fallback);
        }
        sn_text_puts(&detail, "}");
    } else {
        sn_text_puts(&detail, reason);
    }
    if (a->not_restored[0] != '\0') {
        sn_log(inst, SB_LOG_WARNING, "%s: after the announcement: %s", a->speaker->id, a->not_restored);
        if (inst->publish != NULL) {
            sn_text ev = { 0 };
            sn_text_puts(&ev, "{\"speaker\":");
            sn_text_json_string(&ev, a->speaker->id);
            sn_text_puts(&ev, ",\"reason\":");
            sn_text_json_string(&ev, a->not_restored);
            sn_text_puts(&ev, "}");
            if (!ev.failed) inst->publish->event(inst->host, "not_restored", ev.data);
            sn_text_free(&ev);
        }
    }
    uint64_t op = a->operation;
    release(a);
    inst->operations->complete(inst->host, op, status, detail.failed ? "out of memory" : sn_text_str(&detail));
    sn_text_free(&detail);
}

/* Completes now, or as soon as the SOAP answers still in flight (which point at `a`) are back. */
static void finish(sn_announcement *a, sb_status status, const char *reason)
{
    if (!a->finishing) {
        a->finishing = true;
        a->final_status = status;
        sn_copy(a->final_reason, sizeof a->final_reason, reason != NULL ? reason : "");
    }
    if (a->in_call || a->poll_in_flight || a->volume_in_flight) return;
    complete(a, a->final_status, a->final_status == SB_OK ? NULL : a->final_reason);
}

static bool is_stopped(const char *transport)
{
    return strcmp(transport, "STOPPED") == 0 || strcmp(transport, "NO_MEDIA_PRESENT") == 0;
}

void announce_start_restore(sn_announcement *a)
{
    sn_timer_cancel(a->inst, &a->fallback_timer);
    sn_timer_cancel(a->inst, &a->poll_timer);
    a->step = R_URI;
    announce_leader_done(a); /* before advance: that may complete (and free) `a` */
    if (!a->in_call) announce_advance(a);
}

/* The clip has played when the transport is STOPPED again after Play was acknowledged and the
 * renderer was seen playing (or the clip's length has passed: a short clip can be over before
 * the first event arrives). */
static void check_finished(sn_announcement *a, const char *transport)
{
    if (a->step != A_WAIT || a->member) return; /* a member hears the end from its leader */
    if (strcmp(transport, "PLAYING") == 0 || strcmp(transport, "TRANSITIONING") == 0) a->saw_playing = true;
    uint64_t elapsed = sn_now_ms() - a->play_acked_ms;
    if (is_stopped(transport) && (a->saw_playing || (a->duration_ms > 0 && elapsed + 200 >= a->duration_ms))) {
        announce_start_restore(a);
    }
}

static void poll_done(sb_instance *inst, void *ctx, int ok, sn_soap_result *result)
{
    (void)inst;
    sn_announcement *a = ctx;
    a->poll_in_flight = false;
    a->soap_calls++;
    if (a->finishing || a->aborted) {
        finish(a, SB_ERR_FAILED, a->failure);
        return;
    }
    if (a->step != A_WAIT) {
        if (a->step == A_DONE) announce_advance(a);
        return;
    }
    if (!ok) {
        /* No answer mid-announcement: the speaker is probably gone (the SOAP layer has asked
         * discovery to check it). Nothing can be restored on a speaker that does not answer. */
        if (result->upnp_code == 0) {
            sn_set_err(a->failure, sizeof a->failure, "the speaker stopped answering during the announcement (%s)", result->reason);
            finish(a, SB_ERR_FAILED, a->failure);
        }
        return;
    }
    const char *transport = sn_soap_out(result, "CurrentTransportState");
    if (transport != NULL) check_finished(a, transport);
}

static void poll_tick(void *user, uint64_t timer_id)
{
    (void)timer_id;
    sn_announcement *a = user;
    if (a->poll_in_flight || a->step != A_WAIT) return;
    char err[160];
    a->poll_in_flight = sn_soap(a->inst, a->speaker, SN_AVT, "GetTransportInfo",
                                (const char *const[]){ "InstanceID", "0", NULL }, poll_done, a, err, sizeof err);
}

static void fallback_tick(void *user, uint64_t timer_id)
{
    (void)timer_id;
    sn_announcement *a = user;
    a->fallback_timer = 0;
    if (a->step != A_WAIT) return;
    sn_log(a->inst, SB_LOG_INFO, "%s: no STOPPED within the clip's length + margin; restoring", a->speaker->id);
    announce_start_restore(a);
}

static void retry_play(void *user, uint64_t timer_id)
{
    (void)timer_id;
    sn_announcement *a = user;
    a->retry_timer = 0;
    announce_advance(a); /* at A_SET_URI again (or a cancel arrived meanwhile: advance handles it) */
}

/* Keeps the answer of a snapshot step. */
static void keep(sn_announcement *a, step done_step, sn_soap_result *r)
{
    const char *v;
    switch (done_step) {
    case A_MEDIA:
        sn_copy(a->prior_uri, sizeof a->prior_uri, (v = sn_soap_out(r, "CurrentURI")) != NULL ? v : "");
        free(a->prior_metadata);
        a->prior_metadata = sn_strdup((v = sn_soap_out(r, "CurrentURIMetaData")) != NULL ? v : "");
        a->source = sn_source_classify(a->prior_uri, a->prior_metadata);
        break;
    case A_TRANSPORT:
        sn_copy(a->prior_transport, sizeof a->prior_transport, (v = sn_soap_out(r, "CurrentTransportState")) != NULL ? v : "");
        break;
    case A_POSITION:
        sn_copy(a->prior_track, sizeof a->prior_track, (v = sn_soap_out(r, "Track")) != NULL ? v : "");
        sn_copy(a->prior_time, sizeof a->prior_time, (v = sn_soap_out(r, "RelTime")) != NULL ? v : "");
        sn_copy(a->prior_duration, sizeof a->prior_duration, (v = sn_soap_out(r, "TrackDuration")) != NULL ? v : "");
        break;
    case A_VOLUME:
        a->prior_volume = (v = sn_soap_out(r, "CurrentVolume")) != NULL ? atoi(v) : -1;
        break;
    case A_MUTE:
        a->prior_mute = (v = sn_soap_out(r, "CurrentMute")) != NULL ? atoi(v) : -1;
        break;
    case A_FIXED:
        a->fixed = (v = sn_soap_out(r, "CurrentFixed")) != NULL && strcmp(v, "1") == 0;
        break;
    case A_PLAY_MODE:
        sn_copy(a->prior_play_mode, sizeof a->prior_play_mode, (v = sn_soap_out(r, "PlayMode")) != NULL ? v : "");
        break;
    case A_CROSSFADE:
        a->prior_crossfade = (v = sn_soap_out(r, "CrossfadeMode")) != NULL ? atoi(v) : -1;
        break;
    default:
        break;
    }
}

static void note_not_restored(sn_announcement *a, const char *what)
{
    if (a->not_restored[0] != '\0') return; /* the first reason is the one that matters */
    sn_copy(a->not_restored, sizeof a->not_restored, what);
}

static void step_done(sb_instance *inst, void *ctx, int ok, sn_soap_result *result)
{
    (void)inst;
    sn_announcement *a = ctx;
    a->in_call = false;
    a->soap_calls++;
    step done_step = a->step;
    if (a->finishing) {
        finish(a, a->final_status, a->final_reason);
        return;
    }
    if (a->aborted) {
        finish(a, SB_ERR_FAILED, a->failure);
        return;
    }
    if (ok) {
        keep(a, done_step, result);
        if (done_step == A_SET_VOLUME) a->changed_volume = true;
        if (done_step == A_UNMUTE) a->changed_mute = true;
        if (done_step == A_UNGROUP) a->ungrouped = true;
        if (done_step == A_SET_URI) a->changed_uri = true;
        if (done_step == A_PLAY) {
            a->play_acked_ms = sn_now_ms();
            a->play_acked_us = now_us();
        }
    } else if (done_step <= A_CROSSFADE) {
        /* Snapshot: GetOutputFixed is Sonos-only and GetMute/GetVolume may be missing on simple
         * renderers (play mode and crossfade are then simply not restored); without media and
         * transport info we cannot promise a restore. A step that got no answer at all ends it
         * too: the next call would wait out the same silence (the user another soap_timeout),
         * racing the description check soap_call.c starts for the silent speaker, and when that
         * check timed out first the result said "went offline" instead of this timeout. Nothing
         * has changed on the speaker yet: nothing to put back. */
        if (done_step == A_MEDIA || done_step == A_TRANSPORT || result->unanswered) {
            char why[400];
            snprintf(why, sizeof why, "could not read the speaker's state before the announcement: %s", result->reason);
            finish(a, SB_ERR_FAILED, why);
            return;
        }
    } else if (done_step <= A_PLAY) {
        if (done_step == A_PLAY && !a->play_retried &&
            (result->upnp_code == 501 || result->upnp_code == 701 || result->upnp_code == 704)) {
            /* Some renderers refuse a Play that comes while the previous stream is still being torn
             * down ("transition not available"). gmediarender 0.1 fails the first Play after a clip
             * that ended on its own (GStreamer's state change from end-of-stream fails: 501, its log
             * says 704) and loses the URI in that attempt: its about-to-finish handler has replaced
             * the current URI with the (empty) next one. A second Play alone fails the same way, so
             * the retry sends the clip's URI again, then Play. Once; then the failure stands. */
            a->play_retried = true;
            sn_log(inst, SB_LOG_INFO, "%s: %s; sending the clip and Play once more", a->speaker->id, result->reason);
            a->step = A_SET_URI;
            /* "Transition not available" passes with time; gmediarender's refusal needs none. */
            a->retry_timer = sn_timer_start(inst, result->upnp_code == 701 ? 100 : 1, 0, retry_play, a);
            if (a->retry_timer != 0) return;
            a->step = A_PLAY;
        }
        if ((done_step == A_SET_VOLUME || done_step == A_UNMUTE) && !result->unanswered) {
            /* Refused: the clip still plays. Unanswered: the speaker is silent, as below. */
            sn_log(inst, SB_LOG_WARNING, "%s: %s (the clip plays at the current level)", a->speaker->id, result->reason);
        } else {
            sn_copy(a->failure, sizeof a->failure, result->reason);
            if (result->upnp_code == 0) a->aborted = true;
            a->step = a->changed_uri || a->changed_volume || a->changed_mute || a->ungrouped ? R_URI : A_DONE;
            if (a->aborted) {
                finish(a, SB_ERR_FAILED, a->failure);
                return;
            }
            announce_advance(a);
            return;
        }
    } else if (done_step >= R_URI && done_step <= R_PLAY) {
        if (done_step != R_SEEK_TIME || a->source == SN_SRC_QUEUE) {
            char what[400];
            snprintf(what, sizeof what, "%s could not be restored: %s",
                     done_step == R_VOLUME ? "the volume" : done_step == R_MUTE ? "mute"
                     : done_step == R_PLAY_MODE ? "the play mode" : done_step == R_CROSSFADE ? "crossfade"
                     : sn_source_name(a->source),
                     result->reason);
            note_not_restored(a, what);
        }
        if (result->upnp_code == 0) {
            /* The speaker stopped answering: the rest of the restore cannot work either. */
            finish(a, SB_ERR_FAILED, result->reason);
            return;
        }
    }
    if (done_step == A_PLAY) {
        a->step = A_WAIT;
        uint32_t wait = a->duration_ms > 0 ? a->duration_ms + a->inst->config.announce_margin_ms : UNKNOWN_DURATION_WAIT_MS;
        a->fallback_timer = sn_timer_start(inst, wait, 0, fallback_tick, a);
        a->poll_timer = sn_timer_start(inst, POLL_MS, POLL_MS, poll_tick, a);
        if (a->cancelled) announce_start_restore(a);
        return;
    }
    if (a->step == done_step) a->step = (step)(done_step + 1);
    announce_advance(a);
}

/* Runs `action` for the current step, or skips to the next step when it does not apply. */
static bool call(sn_announcement *a, sn_service_kind kind, const char *action, const char *const *args)
{
    char err[200];
    a->in_call = sn_soap(a->inst, a->speaker, kind, action, args, step_done, a, err, sizeof err);
    if (!a->in_call) sn_log(a->inst, SB_LOG_DEBUG, "%s: %s", a->speaker->id, err);
    return a->in_call;
}

static void clip_metadata(sn_announcement *a, sn_text *t)
{
    sn_text_puts(t, "<DIDL-Lite xmlns:dc=\"http://purl.org/dc/elements/1.1/\" "
                    "xmlns:upnp=\"urn:schemas-upnp-org:metadata-1-0/upnp/\" "
                    "xmlns=\"urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/\">"
                    "<item id=\"speakerbridge-announcement\" parentID=\"-1\" restricted=\"true\">"
                    "<dc:title>Announcement</dc:title><upnp:class>object.item.audioItem.musicTrack</upnp:class>"
                    "<res protocolInfo=\"http-get:*:");
    sn_text_xml_escaped(t, a->mime);
    sn_text_puts(t, ":*\">");
    sn_text_xml_escaped(t, a->url);
    sn_text_puts(t, "</res></item></DIDL-Lite>");
}

static bool was_playing(const sn_announcement *a)
{
    return strcmp(a->prior_transport, "PLAYING") == 0 || strcmp(a->prior_transport, "TRANSITIONING") == 0;
}

/* The answer to the SetVolume sent beside the clip's URI (a speaker that plays nothing: no music
 * can get loud, so the two need not wait for each other; Play waits for both). */
static void volume_done(sb_instance *inst, void *ctx, int ok, sn_soap_result *result)
{
    sn_announcement *a = ctx;
    a->volume_in_flight = false;
    a->soap_calls++;
    if (!ok) sn_log(inst, SB_LOG_WARNING, "%s: %s (the clip plays at the current level)", a->speaker->id, result->reason);
    if (a->finishing) {
        finish(a, a->final_status, a->final_reason);
        return;
    }
    if (a->waits_volume) {
        a->waits_volume = false;
        if (!a->in_call) announce_advance(a);
    }
}

/* Sends the announcement's volume without waiting for its answer; true when sent. Beside the
 * clip's URI when the speaker plays nothing (no music can get loud); on a playing speaker only once
 * its URI is answered (the music has stopped), beside Play: the clip is not audible before the
 * player has fetched and buffered it, and the volume answers well before that. */
static bool volume_beside(sn_announcement *a)
{
    if (a->member || a->fixed || a->volume < 0 || a->volume == a->prior_volume || a->changed_volume) return false;
    char number[16], err[200];
    snprintf(number, sizeof number, "%d", (int)a->volume);
    a->volume_in_flight = sn_soap(a->inst, a->speaker, SN_RC, "SetVolume",
                                  (const char *const[]){ "InstanceID", "0", "Channel", "Master", "DesiredVolume", number, NULL },
                                  volume_done, a, err, sizeof err);
    /* Counted as changed now: a restore that starts before the answer puts the volume back. */
    if (a->volume_in_flight) a->changed_volume = true;
    return a->volume_in_flight;
}

void announce_advance(sn_announcement *a)
{
    char number[16];
    for (;;) {
        if (a->cancelled && a->step <= A_PLAY) {
            /* Nothing audible happened yet: put back what changed, then report the cancel. */
            if (!a->changed_uri && !a->changed_volume && !a->changed_mute && !a->ungrouped) {
                finish(a, SB_ERR_CANCELLED, "cancelled before the clip started");
                return;
            }
            a->step = R_URI;
        }
        switch (a->step) {
        case A_GATHER:
            if (a->gathering != NULL && !announce_gathering_closed(a->gathering)) return; /* the gathering starts it */
            break;
        case A_TRANSPORT:
            if (a->from_state) break;
            if (call(a, SN_AVT, "GetTransportInfo", (const char *const[]){ "InstanceID", "0", NULL })) return;
            finish(a, SB_ERR_FAILED, "could not ask the speaker for its transport state");
            return;
        case A_ONLY_WHEN_PLAYING:
            if (a->only_when_playing && !was_playing(a)) {
                a->skipped = true;
                sn_log(a->inst, SB_LOG_INFO, "%s is not playing (%s): announcement skipped", a->speaker->id,
                       a->prior_transport[0] != '\0' ? a->prior_transport : "unknown");
                finish(a, SB_OK, NULL);
                return;
            }
            break;
        case A_MEDIA:
            if (a->from_state) break;
            if (call(a, SN_AVT, "GetMediaInfo", (const char *const[]){ "InstanceID", "0", NULL })) return;
            finish(a, SB_ERR_FAILED, "could not ask the speaker for its media");
            return;
        case A_POSITION:
            /* Events carry the track but not the position: asked only where it is restored. */
            if ((!a->from_state || a->source == SN_SRC_QUEUE || a->source == SN_SRC_FILE) && !announce_position_from_state(a) &&
                call(a, SN_AVT, "GetPositionInfo", (const char *const[]){ "InstanceID", "0", NULL })) return;
            break;
        case A_VOLUME:
            if (a->from_state && a->prior_volume >= 0) break;
            if (call(a, SN_RC, "GetVolume", (const char *const[]){ "InstanceID", "0", "Channel", "Master", NULL })) return;
            break;
        case A_MUTE:
            if (a->from_state && a->prior_mute >= 0) break;
            if (call(a, SN_RC, "GetMute", (const char *const[]){ "InstanceID", "0", "Channel", "Master", NULL })) return;
            break;
        case A_FIXED:
            if (!a->from_state && a->speaker->desc.is_sonos &&
                call(a, SN_RC, "GetOutputFixed", (const char *const[]){ "InstanceID", "0", NULL })) return;
            break;
        case A_PLAY_MODE:
            /* Play mode and crossfade belong to the queue (SoCo's snapshot saves them with it). */
            if (!a->from_state && a->source == SN_SRC_QUEUE &&
                call(a, SN_AVT, "GetTransportSettings", (const char *const[]){ "InstanceID", "0", NULL })) return;
            break;
        case A_CROSSFADE:
            if (!a->from_state && a->source == SN_SRC_QUEUE && a->speaker->desc.is_sonos &&
                call(a, SN_AVT, "GetCrossfadeMode", (const char *const[]){ "InstanceID", "0", NULL })) return;
            break;
        case A_UNGROUP:
            if ((a->source == SN_SRC_CLOUD || a->source == SN_SRC_AIRPLAY) && !a->inst->config.interrupt_unrestorable &&
                was_playing(a)) {
                finish(a, SB_ERR_FAILED, a->source == SN_SRC_CLOUD
                             ? "the speaker plays a cloud queue (e.g. Spotify Connect), which UPnP cannot restore; "
                               "not interrupted (interrupt_unrestorable is off)"
                             : "the speaker plays AirPlay, which UPnP cannot restore; not interrupted "
                               "(interrupt_unrestorable is off)");
                return;
            }
            /* A group member cannot play on its own: it leaves the group for the clip and joins
             * its coordinator again afterwards. A member of group mode moves straight into the
             * leader's group instead. */
            if (a->source == SN_SRC_GROUP && !a->member &&
                call(a, SN_AVT, "BecomeCoordinatorOfStandaloneGroup", (const char *const[]){ "InstanceID", "0", NULL })) return;
            break;
        case A_LEAD_WAIT:
            if (a->joining > 0) return; /* announce_member_in() moves on */
            break;
        case A_SET_URI: {
            if (a->member && a->leader == NULL) {
                /* The leader is gone before this room joined: it plays the clip itself. */
                a->member = false;
            }
            sn_text meta = { 0 };
            char target[160];
            bool started;
            if (a->member) {
                snprintf(target, sizeof target, "x-rincon:%s", a->leader->speaker->uuid);
                started = call(a, SN_AVT, "SetAVTransportURI",
                               (const char *const[]){ "InstanceID", "0", "CurrentURI", target, "CurrentURIMetaData", "", NULL });
            } else {
                clip_metadata(a, &meta);
                if (!was_playing(a)) volume_beside(a);
                started = !meta.failed &&
                          call(a, SN_AVT, "SetAVTransportURI",
                               (const char *const[]){ "InstanceID", "0", "CurrentURI", a->url, "CurrentURIMetaData", meta.data, NULL });
            }
            sn_text_free(&meta);
            if (started) return;
            sn_copy(a->failure, sizeof a->failure, a->member ? "could not join the group" : "could not send the clip to the speaker");
            a->step = R_URI;
            continue;
        }
        case A_SET_VOLUME:
            if (a->changed_volume) break; /* set already: Play's retry sends the clip again */
            if (a->volume >= 0 && a->fixed) {
                sn_log(a->inst, SB_LOG_INFO, "%s has a fixed volume: the clip plays at its level", a->speaker->id);
            } else if (a->volume >= 0 && a->volume != a->prior_volume && !volume_beside(a)) {
                snprintf(number, sizeof number, "%d", (int)a->volume);
                if (call(a, SN_RC, "SetVolume",
                         (const char *const[]){ "InstanceID", "0", "Channel", "Master", "DesiredVolume", number, NULL })) return;
            }
            break;
        case A_UNMUTE:
            if (a->prior_mute == 1 && !a->changed_mute &&
                call(a, SN_RC, "SetMute", (const char *const[]){ "InstanceID", "0", "Channel", "Master", "DesiredMute", "0", NULL })) return;
            break;
        case A_PLAY:
            if (a->member) {
                /* In the leader's group: the leader's Play is this room's too. */
                if (a->leader == NULL) {
                    a->step = R_URI;
                    continue;
                }
                a->step = A_WAIT;
                uint32_t wait = (a->duration_ms > 0 ? a->duration_ms + a->inst->config.announce_margin_ms
                                                    : UNKNOWN_DURATION_WAIT_MS) + MEMBER_SLACK_MS;
                a->fallback_timer = sn_timer_start(a->inst, wait, 0, fallback_tick, a);
                announce_member_in(a);
                return;
            }
            if (a->volume_in_flight && !was_playing(a)) {
                a->waits_volume = true; /* sent beside the URI: the clip never starts before its volume */
                return;
            }
            if (call(a, SN_AVT, "Play", (const char *const[]){ "InstanceID", "0", "Speed", "1", NULL })) return;
            sn_copy(a->failure, sizeof a->failure, "could not start playback");
            a->step = R_URI;
            continue;
        case A_WAIT:
            return;
        case R_URI:
            announce_member_out(a);
            if (!a->changed_uri && !a->ungrouped) {
                a->step = R_VOLUME;
                continue;
            }
            if (a->source == SN_SRC_NONE || a->source == SN_SRC_CLOUD || a->source == SN_SRC_AIRPLAY) {
                if (a->source != SN_SRC_NONE) {
                    note_not_restored(a, a->source == SN_SRC_CLOUD
                                             ? "a cloud queue (e.g. Spotify Connect) cannot be restored over UPnP; "
                                               "start it again from its app"
                                             : "an AirPlay session cannot be restored over UPnP");
                }
                /* A room that joined a group-mode leader leaves that group again. */
                a->step = R_VOLUME;
                if (a->member &&
                    call(a, SN_AVT, "BecomeCoordinatorOfStandaloneGroup", (const char *const[]){ "InstanceID", "0", NULL })) return;
                continue;
            }
            {
                sn_text meta = { 0 };
                if (a->source != SN_SRC_GROUP && sn_source_restore_metadata(a->prior_uri, a->prior_metadata, &meta)) {
                    sn_log(a->inst, SB_LOG_DEBUG, "%s: the stream's metadata rebuilt from its URI", a->speaker->id);
                }
                bool started = !meta.failed &&
                               call(a, SN_AVT, "SetAVTransportURI",
                                    (const char *const[]){ "InstanceID", "0", "CurrentURI", a->prior_uri, "CurrentURIMetaData",
                                                           a->source == SN_SRC_GROUP ? "" : sn_text_str(&meta), NULL });
                sn_text_free(&meta);
                if (started) {
                    announce_restore_sent(a, false);
                    return;
                }
            }
            note_not_restored(a, "could not send the previous source back");
            a->step = R_VOLUME;
            continue;
        case R_SEEK_TRACK:
            if (a->source == SN_SRC_QUEUE && atoi(a->prior_track) > 0 &&
                call(a, SN_AVT, "Seek", (const char *const[]){ "InstanceID", "0", "Unit", "TRACK_NR", "Target", a->prior_track, NULL })) return;
            break;
        case R_SEEK_TIME:
            /* The position within the track: for the queue, and for a plain file that had one. */
            if ((a->source == SN_SRC_QUEUE || a->source == SN_SRC_FILE) && a->prior_time[0] != '\0' &&
                strcmp(a->prior_time, "0:00:00") != 0 && strcmp(a->prior_time, "NOT_IMPLEMENTED") != 0 &&
                strcmp(a->prior_duration, "0:00:00") != 0 && a->prior_duration[0] != '\0' &&
                call(a, SN_AVT, "Seek", (const char *const[]){ "InstanceID", "0", "Unit", "REL_TIME", "Target", a->prior_time, NULL })) return;
            break;
        case R_PLAY_MODE:
            /* Only once the queue is back (SetPlayMode without a queue is a fault on Sonos: 712),
             * and only when it was not the default: the clip replaced the queue, and no clip turns
             * shuffle, repeat or crossfade on (SoCo's snapshot restores both with the queue). */
            if (a->source == SN_SRC_QUEUE && a->changed_uri && a->prior_play_mode[0] != '\0' &&
                strcmp(a->prior_play_mode, "NORMAL") != 0 &&
                call(a, SN_AVT, "SetPlayMode", (const char *const[]){ "InstanceID", "0", "NewPlayMode", a->prior_play_mode, NULL })) return;
            break;
        case R_CROSSFADE:
            snprintf(number, sizeof number, "%d", a->prior_crossfade);
            if (a->source == SN_SRC_QUEUE && a->changed_uri && a->prior_crossfade >= 0 && a->speaker->desc.is_sonos &&
                a->prior_crossfade != 0 &&
                call(a, SN_AVT, "SetCrossfadeMode", (const char *const[]){ "InstanceID", "0", "CrossfadeMode", number, NULL })) return;
            break;
        case R_VOLUME:
            if (a->volume_in_flight) {
                /* The clip's SetVolume still out on its own connection: putting the volume back
                 * waits for it, so the two cannot arrive in the wrong order. */
                a->waits_volume = true;
                return;
            }
            if (a->changed_volume && a->prior_volume >= 0) {
                snprintf(number, sizeof number, "%d", a->prior_volume);
                if (call(a, SN_RC, "SetVolume",
                         (const char *const[]){ "InstanceID", "0", "Channel", "Master", "DesiredVolume", number, NULL })) return;
            }
            break;
        case R_MUTE:
            if (a->changed_mute &&
                call(a, SN_RC, "SetMute", (const char *const[]){ "InstanceID", "0", "Channel", "Master", "DesiredMute", "1", NULL })) return;
            break;
        case R_PLAY:
            if (a->source != SN_SRC_GROUP && a->source != SN_SRC_NONE && a->source != SN_SRC_CLOUD && a->source != SN_SRC_AIRPLAY &&
                was_playing(a) && call(a, SN_AVT, "Play", (const char *const[]){ "InstanceID", "0", "Speed", "1", NULL })) {
                announce_restore_sent(a, true);
                return;
            }
            break;
        case A_DONE:
            if (a->failure[0] != '\0') finish(a, SB_ERR_FAILED, a->failure);
            else if (a->cancelled) finish(a, SB_ERR_CANCELLED, "cancelled");
            else finish(a, SB_OK, NULL);
            return;
        }
        a->step = (step)(a->step + 1);
    }
}

/* The UPnP path: snapshot, play, wait, restore. The first SOAP call starts here; its answer (on
 * our executor, later) moves on. A failure to even send it completes the operation. */
static void start_upnp(sn_announcement *a)
{
    announce_advance(a);
}

/* The audioClip API's verdict. The clip object is gone already. */
static void clip_done(void *ctx, const sn_clip_result *result)
{
    sn_announcement *a = ctx;
    a->clip = NULL;
    switch (result->outcome) {
    case SN_CLIP_PLAYED:
        /* Unconfirmed (no DONE) it is still done: the player took the clip and its length has
         * passed; the result says "confirmed":false instead of claiming it was heard. */
        a->played_by_clip = true;
        a->clip_confirmed = result->confirmed;
        a->play_acked_ms = result->ack_ms > 0 ? a->started_ms + result->ack_ms : 0;
        finish(a, SB_OK, NULL);
        return;
    case SN_CLIP_FALLBACK:
        sn_log(a->inst, SB_LOG_INFO, "%s: %s; playing it over UPnP instead", a->speaker->id, result->reason);
        sn_copy(a->clip_fallback, sizeof a->clip_fallback, result->reason);
        start_upnp(a);
        return;
    case SN_CLIP_FAILED:
    case SN_CLIP_INTERRUPTED:
        /* Cut by another clip or dismissed on the player: not heard to its end, so not played;
         * playing it again over UPnP would come after whatever cut it. */
        sn_copy(a->failure, sizeof a->failure, result->reason);
        finish(a, SB_ERR_FAILED, a->failure);
        return;
    }
}

/* The ABI 1.2 options of the clip (a 1.0/1.1 host's clip ends before them). */
static void take_options(sn_announcement *a, const sb_clip *clip)
{
    if (clip->struct_size < offsetof(sb_clip, group_count) + sizeof clip->group_count) return;
    a->only_when_playing = (clip->flags & SB_CLIP_ONLY_WHEN_PLAYING) != 0;
    if (clip->announcement_id != NULL) sn_copy(a->announcement_id, sizeof a->announcement_id, clip->announcement_id);
    if ((clip->flags & SB_CLIP_GROUP) == 0 || clip->announcement_id == NULL || clip->group == NULL ||
        clip->group_count < 2) {
        return;
    }
    a->group_index = clip->group_count;
    for (uint32_t i = 0; i < clip->group_count; i++) {
        if (clip->group[i] != NULL && sn_speaker_find(a->inst, clip->group[i]) == a->speaker) {
            a->group_index = i;
            break;
        }
    }
    if (!announce_gathering_join(a, clip)) {
        sn_log(a->inst, SB_LOG_INFO, "%s: announcement %s plays here on its own", a->speaker->id, clip->announcement_id);
    }
}

sb_status sn_announce_start(sb_instance *inst, const char *speaker_id, const sb_clip *clip,
                            uint64_t operation_id, char *err, size_t err_size)
{
    sn_speaker *s = sn_speaker_find(inst, speaker_id);
    if (s == NULL) {
        sn_set_err(err, err_size, "unknown speaker %s", speaker_id);
        return SB_ERR_NOT_FOUND;
    }
    if (!s->online) {
        sn_set_err(err, err_size, "%s is offline", s->id);
        return SB_ERR_FAILED;
    }
    if (s->announcement != NULL) {
        sn_set_err(err, err_size, "%s is already playing an announcement", s->id);
        return SB_ERR_BUSY;
    }
    if (clip->url == NULL || strlen(clip->url) >= sizeof ((sn_announcement *)0)->url) {
        sn_set_err(err, err_size, "the clip URL is missing or too long");
        return SB_ERR_INVALID;
    }
    sn_announcement *a = calloc(1, sizeof *a);
    if (a == NULL) {
        sn_set_err(err, err_size, "out of memory");
        return SB_ERR_FAILED;
    }
    a->inst = inst;
    a->speaker = s;
    a->operation = operation_id;
    sn_copy(a->url, sizeof a->url, clip->url);
    sn_copy(a->mime, sizeof a->mime, clip->mime != NULL ? clip->mime : "audio/wav");
    a->duration_ms = clip->duration_ms;
    a->volume = clip->volume;
    a->prior_volume = -1;
    a->prior_mute = -1;
    a->prior_crossfade = -1;
    a->started_ms = sn_now_ms();
    a->started_us = now_us();
    a->next = inst->announcements;
    inst->announcements = a;
    s->announcement = a;
    take_options(a, clip);
    announce_snapshot_from_state(a);
    if (a->gathering != NULL) {
        /* Group mode plays over UPnP: the gathering starts every room's snapshot. */
        if (announce_gathering_full(a->gathering)) announce_gathering_close(a->gathering);
        return SB_OK;
    }
    /* Whether a speaker plays is known before the audioClip API is asked only from its events. */
    bool upnp_only = a->only_when_playing && !(a->from_state && was_playing(a));
    if (!upnp_only && sn_audio_clip_usable(inst, s)) {
        char why[200];
        a->clip = sn_audio_clip_play(inst, s, a->url, a->volume, a->duration_ms, clip_done, a, why, sizeof why);
        if (a->clip != NULL) return SB_OK;
        sn_log(inst, SB_LOG_INFO, "%s: %s; playing it over UPnP", s->id, why);
        sn_copy(a->clip_fallback, sizeof a->clip_fallback, why);
    }
    /* Either way the host hears of the end through `complete`, so we report success now. */
    start_upnp(a);
    return SB_OK;
}

sb_status sn_announce_cancel(sb_instance *inst, uint64_t operation_id)
{
    for (sn_announcement *a = inst->announcements; a != NULL; a = a->next) {
        if (a->operation != operation_id) continue;
        a->cancelled = true;
        if (a->clip != NULL) {
            /* cancelAudioClip stops it on the player (closing the socket would not); the
             * operation is cancelled now, the socket closes once the player confirms. */
            sn_audio_clip_cancel(a->clip);
            a->clip = NULL;
            finish(a, SB_ERR_CANCELLED, "cancelled");
            return SB_OK;
        }
        if (a->step == A_WAIT) announce_start_restore(a);
        else if (a->step == A_GATHER) finish(a, SB_ERR_CANCELLED, "cancelled before the clip started");
        return SB_OK;
    }
    return SB_ERR_NOT_FOUND;
}

static void transport_changed(sb_instance *inst, sn_speaker *s, const char *why, void *user)
{
    (void)inst;
    (void)why;
    (void)user;
    if (s->announcement != NULL) {
        check_finished(s->announcement, s->transport);
    } else if (s->restore_uri[0] != '\0' && !announce_record_lags_restore(s)) {
        /* The restore's events are in: what comes after (another source chosen at once) is the
         * speaker's own state, which the next snapshot may take from the record. */
        s->restore_uri[0] = '\0';
    }
}

/* Nothing can be restored on a speaker that is gone: the announcement fails at once, naming why
 * it went (a goodbye, or a request of ours that got no answer: a slow speaker's description check
 * may time out before the announcement's own SOAP call does, and "went offline" alone would hide
 * that it was the timeout). */
static void speaker_gone(sb_instance *inst, sn_speaker *s, const char *why, void *user)
{
    (void)user;
    sn_announcement *a = s->announcement;
    if (a == NULL) return;
    a->aborted = true;
    sn_audio_clip_free(a->clip);
    a->clip = NULL;
    sn_timer_cancel(inst, &a->fallback_timer);
    sn_timer_cancel(inst, &a->poll_timer);
    if (why[0] != '\0') {
        snprintf(a->failure, sizeof a->failure, "the speaker went offline during the announcement: %s", why);
    } else {
        sn_copy(a->failure, sizeof a->failure, "the speaker went offline during the announcement");
    }
    finish(a, SB_ERR_FAILED, a->failure);
}

void sn_announce_init(sb_instance *inst)
{
    sn_lifecycle_on(&inst->hub, SN_EV_OFFLINE, speaker_gone, NULL);
    sn_lifecycle_on(&inst->hub, SN_EV_TRANSPORT_CHANGED, transport_changed, NULL);
}

void sn_announce_free_all(sb_instance *inst)
{
    while (inst->announcements != NULL) release(inst->announcements);
}

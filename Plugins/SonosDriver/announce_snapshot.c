/* The announcement's snapshot from the speaker record, when its events are current, instead of
 * asking the speaker; and the marks a restore leaves on the record so the next snapshot does not
 * take the in-between state. Part of the announce layer (announce_run.h). */
#define _POSIX_C_SOURCE 200809L

#include "announce_run.h"
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long after a restore's last call its events may still be on their way. */
#define RESTORE_SETTLE_MS 5000u

/* The restore sent the previous source back (and Play): what the record must show once its events
 * are in. */
void announce_restore_sent(sn_announcement *a, bool play)
{
    sn_speaker *s = a->speaker;
    if (!play) sn_copy(s->restore_uri, sizeof s->restore_uri, a->prior_uri);
    s->restore_playing = play;
    s->restore_until_ms = sn_now_ms() + RESTORE_SETTLE_MS;
}

/* False while the record still lags the last restore (its URI or PLAYING not in yet): an
 * announcement right after another would otherwise snapshot the in-between state (the station
 * STOPPED before Play's event, a group-mode member still on x-rincon:<leader>) and restore that.
 * The bench's back-to-back announcements to 8 rooms left 1 in 10 this way. */
bool announce_record_lags_restore(const sn_speaker *s)
{
    return strcmp(s->av_uri, s->restore_uri) != 0 ||
           (s->restore_playing && strcmp(s->transport, "PLAYING") != 0 && strcmp(s->transport, "TRANSITIONING") != 0);
}

static bool record_caught_up(const sn_announcement *a)
{
    sn_speaker *s = a->speaker;
    if (s->restore_uri[0] == '\0') return true;
    bool lags = announce_record_lags_restore(s);
    if (!lags || sn_now_ms() >= s->restore_until_ms) {
        s->restore_uri[0] = '\0';
        return !lags;
    }
    sn_log(a->inst, SB_LOG_DEBUG, "%s: events of the last restore still due: snapshot asked over SOAP", s->id);
    return false;
}

/* The snapshot from the speaker record, when its events are current: only what events never
 * carry is asked then (the position, for a queue or a file). */
void announce_snapshot_from_state(sn_announcement *a)
{
    sn_speaker *s = a->speaker;
    if (!sn_state_fresh(s) || !record_caught_up(a)) return;
    a->from_state = true;
    sn_copy(a->prior_uri, sizeof a->prior_uri, s->av_uri);
    free(a->prior_metadata);
    a->prior_metadata = sn_strdup(s->av_metadata);
    a->source = sn_source_classify(a->prior_uri, a->prior_metadata);
    sn_copy(a->prior_transport, sizeof a->prior_transport, s->transport);
    if (a->source == SN_SRC_GROUP) {
        /* A group member's own transport says little: its coordinator's tells whether it plays. */
        sn_speaker *c = sn_speaker_by_uuid(a->inst, a->prior_uri + strlen("x-rincon:"));
        if (c != NULL && sn_state_fresh(c)) sn_copy(a->prior_transport, sizeof a->prior_transport, c->transport);
    }
    if (a->source == SN_SRC_QUEUE) {
        sn_copy(a->prior_play_mode, sizeof a->prior_play_mode, s->play_mode);
        a->prior_crossfade = s->crossfade;
    }
    a->prior_volume = s->volume;
    a->prior_mute = s->mute;
    a->fixed = s->output_fixed;
    if (s->track_number > 0) snprintf(a->prior_track, sizeof a->prior_track, "%d", s->track_number);
}

/* The queue's position from the record instead of asking GetPositionInfo, when the last poll is
 * recent and nothing changed since: every position the record holds from an event (a new track
 * counted from 0, a transport change folding the time in) is stamped with that event's time, so
 * a position stamped after the last AVTransport event is a poll's answer, and no event since means
 * the same track, PLAYING all the time. The seconds since the poll are added and the sum rounded
 * down (Seek REL_TIME takes whole seconds). A Seek by another controller sends no event on Sonos:
 * the recent-poll limit bounds that error to one poll interval. */
#define POSITION_TRUST_MS 12000u

bool announce_position_from_state(sn_announcement *a)
{
    const sn_speaker *s = a->speaker;
    uint64_t now = sn_now_ms();
    if (!a->from_state || a->source != SN_SRC_QUEUE || strcmp(s->transport, "PLAYING") != 0 || s->position_at_ms == 0 ||
        s->position_at_ms <= s->avt_event_ms || now < s->position_at_ms || now - s->position_at_ms > POSITION_TRUST_MS ||
        s->position_s < 0 || s->track_number <= 0 || s->track_duration[0] == '\0') {
        return false;
    }
    unsigned h, m, sec;
    if (sscanf(s->track_duration, "%u:%u:%u", &h, &m, &sec) != 3) return false;
    uint64_t duration = h * 3600u + m * 60u + sec;
    uint64_t p = (uint64_t)s->position_s + (now - s->position_at_ms) / 1000u;
    if (duration == 0 || p >= duration) return false; /* the track may have ended: ask */
    snprintf(a->prior_time, sizeof a->prior_time, "%u:%02u:%02u", (unsigned)(p / 3600u), (unsigned)(p / 60u % 60u),
             (unsigned)(p % 60u));
    sn_copy(a->prior_duration, sizeof a->prior_duration, s->track_duration);
    return true;
}

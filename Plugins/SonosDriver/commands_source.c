/* Source commands: what the room's group plays. They go to the group's coordinator (a member
 * given a new URI silently leaves its group). The URIs are the ones Sonos controllers use
 * (node-sonos-ts SwitchToLineIn / SwitchToTV / SwitchToQueue): x-rincon-stream:<uuid of the
 * player with the line-in>, x-sonos-htastream:<soundbar uuid>:spdif, x-rincon-queue:<uuid>#0.
 *
 * A favorite (ContentDirectory Browse FV:2) or a Sonos playlist (Browse SQ:) is found by title
 * first; a stream is then set as the URI with the favorite's own metadata (r:resMD), a playlist or
 * album goes through the queue: RemoveAllTracksFromQueue, AddURIToQueue, the queue as the URI,
 * Play (as node-sonos-http-api's favorite and playlist actions do). */
#define _POSIX_C_SOURCE 200809L

#include "commands_source.h"
#include "commands_parse.h"
#include "commands_send.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FN(f) ((void (*)(void))(f))
#define BROWSE_PAGE "100"
/* RemoveAllTracksFromQueue on an empty queue (node-sonos-ts: "If queue is already empty it throw
 * error 804"). */
#define QUEUE_ALREADY_EMPTY 804

static const char *const play_args[] = { "InstanceID", "0", "Speed", "1", NULL };

static void then_play(sb_instance *inst, sn_command *c, sn_soap_result *result)
{
    (void)result;
    sn_command_send(inst, c, c->target, SN_AVT, "Play", play_args);
}

static sb_status set_uri(sb_instance *i, char *r, size_t n, const char *command, const char *speaker, int flags,
                         const char *uri, const char *metadata, bool play)
{
    sn_command *c;
    sb_status status = sn_command_start(i, r, n, command, speaker, flags, SN_AVT, "SetAVTransportURI",
                                        (const char *const[]){ "InstanceID", "0", "CurrentURI", uri, "CurrentURIMetaData",
                                                               metadata != NULL ? metadata : "", NULL }, &c);
    if (status == SB_OK && play) c->then = then_play;
    return status;
}

static sb_status cmd_setavtransporturi(sb_instance *i, char *r, size_t n, const char *speaker, const char *uri,
                                       const char *metadata, bool play)
{
    if (uri[0] == '\0') return sn_command_refuse(r, n, SB_ERR_INVALID, "uri is empty");
    return set_uri(i, r, n, "setavtransporturi", speaker, SN_CMD_COORDINATOR, uri, metadata, play);
}

/* Plays the line-in of `from` (another player's, or the room's own) on the room's group. */
static sb_status cmd_linein(sb_instance *i, char *r, size_t n, const char *speaker, const char *from)
{
    sb_status status;
    sn_speaker *source = sn_command_room(i, from != NULL ? from : speaker, r, n, &status);
    if (source == NULL) return status;
    if (!source->desc.is_sonos) {
        return sn_command_refuse(r, n, SB_ERR_UNSUPPORTED, "not supported by this device: %s is not a Sonos player "
                                                           "(linein needs one)", source->name);
    }
    /* Players with an analog input describe an AudioIn service (node-sonos-ts: the Play:5). */
    if (source->services[SN_AUDIOIN] == NULL) {
        return sn_command_refuse(r, n, SB_ERR_UNSUPPORTED, "not supported by this device: %s has no line-in "
                                                           "(no AudioIn service)", source->name);
    }
    char uri[160];
    snprintf(uri, sizeof uri, "x-rincon-stream:%s", source->uuid);
    return set_uri(i, r, n, "linein", speaker, SN_CMD_COORDINATOR | SN_CMD_SONOS_ONLY, uri, "", true);
}

/* The TV input is the soundbar's own: it is set on the soundbar (SoCo switch_to_tv). */
static sb_status cmd_tv(sb_instance *i, char *r, size_t n, const char *speaker)
{
    sn_speaker *s = sn_speaker_find(i, speaker);
    /* Only soundbars have a TV input, and only they describe HTControl (see commands_sound.c). */
    if (s != NULL && s->desc.is_sonos && s->services[SN_HT] == NULL) {
        return sn_command_refuse(r, n, SB_ERR_UNSUPPORTED, "not supported by this device: %s is not a soundbar "
                                                           "(no HTControl service)", s->name);
    }
    char uri[160];
    snprintf(uri, sizeof uri, "x-sonos-htastream:%s:spdif", s != NULL ? s->uuid : "");
    return set_uri(i, r, n, "tv", speaker, SN_CMD_ROOM | SN_CMD_SONOS_ONLY, uri, "", true);
}

static sb_status cmd_queue(sb_instance *i, char *r, size_t n, const char *speaker)
{
    sn_speaker *s = sn_speaker_find(i, speaker);
    sn_speaker *c = s != NULL ? sn_speaker_coordinator(i, s) : NULL;
    char uri[160];
    snprintf(uri, sizeof uri, "x-rincon-queue:%s#0", c != NULL ? c->uuid : "");
    return set_uri(i, r, n, "queue", speaker, SN_CMD_COORDINATOR | SN_CMD_SONOS_ONLY, uri, "", true);
}

/* The event tells where the URI landed (FirstTrackNumberEnqueued, NumTracksAdded, NewQueueLength). */
static void added(sb_instance *inst, sn_command *c, sn_soap_result *result)
{
    sn_command_add_outputs(c, result);
    sn_command_finish(inst, c, true, NULL);
}

static sb_status cmd_queueadd(sb_instance *i, char *r, size_t n, const char *speaker, const char *uri, const char *metadata)
{
    if (uri[0] == '\0') return sn_command_refuse(r, n, SB_ERR_INVALID, "uri is empty");
    sn_command *c;
    sb_status status = sn_command_start(i, r, n, "queueadd", speaker, SN_CMD_COORDINATOR | SN_CMD_SONOS_ONLY, SN_AVT, "AddURIToQueue",
                            (const char *const[]){ "InstanceID", "0", "EnqueuedURI", uri, "EnqueuedURIMetaData",
                                                   metadata != NULL ? metadata : "", "DesiredFirstTrackNumberEnqueued", "0",
                                                   "EnqueueAsNext", "0", NULL }, &c);
    if (status == SB_OK) c->then = added;
    return status;
}

static sb_status cmd_queueclear(sb_instance *i, char *r, size_t n, const char *speaker)
{
    sn_command *c;
    sb_status status = sn_command_start(i, r, n, "queueclear", speaker, SN_CMD_COORDINATOR | SN_CMD_SONOS_ONLY, SN_AVT,
                                        "RemoveAllTracksFromQueue", (const char *const[]){ "InstanceID", "0", NULL }, &c);
    if (status == SB_OK) c->tolerated = QUEUE_ALREADY_EMPTY;
    return status;
}

/* --- favorites and playlists ------------------------------------------------------------------
 * text[0]: the title asked for; text[1]: the Browse container ("FV:2", "SQ:"); text[2]: the
 * titles seen so far (for the "no such favorite" reason). c->index: the next Browse page. */

enum { FOUND_URI, FOUND_METADATA };

static bool browse(sb_instance *inst, sn_command *c)
{
    char start[16];
    snprintf(start, sizeof start, "%u", (unsigned)c->index);
    return sn_command_send(inst, c, c->speaker, SN_CD, "Browse",
                           (const char *const[]){ "ObjectID", c->text[1], "BrowseFlag", "BrowseDirectChildren",
                                                  "Filter", "*", "StartingIndex", start, "RequestedCount", BROWSE_PAGE,
                                                  "SortCriteria", "", NULL });
}

static void enqueued(sb_instance *inst, sn_command *c, sn_soap_result *result)
{
    (void)result;
    char uri[160];
    snprintf(uri, sizeof uri, "x-rincon-queue:%s#0", c->target->uuid);
    c->then = then_play;
    sn_command_send(inst, c, c->target, SN_AVT, "SetAVTransportURI",
                    (const char *const[]){ "InstanceID", "0", "CurrentURI", uri, "CurrentURIMetaData", "", NULL });
}

static void queue_cleared(sb_instance *inst, sn_command *c, sn_soap_result *result)
{
    (void)result;
    c->then = enqueued;
    /* text[0] now holds the found URI and text[2] its metadata (see found()). */
    sn_command_send(inst, c, c->target, SN_AVT, "AddURIToQueue",
                    (const char *const[]){ "InstanceID", "0", "EnqueuedURI", c->text[0], "EnqueuedURIMetaData", c->text[2],
                                           "DesiredFirstTrackNumberEnqueued", "0", "EnqueueAsNext", "0", NULL });
}

static void found(sb_instance *inst, sn_command *c, sn_didl_entry *e)
{
    sn_text playlist = { 0 };
    const char *metadata = e->metadata != NULL ? e->metadata : "";
    /* A Sonos playlist's Browse entry carries no resMD: enqueue it with the container's DIDL. */
    if (e->metadata == NULL && strncmp(e->id, "SQ:", 3) == 0) {
        sn_didl_playlist(&playlist, e);
        metadata = sn_text_str(&playlist);
    }
    sn_text_puts(&c->values, "\"title\":");
    sn_text_json_string(&c->values, e->title);
    sn_text_puts(&c->values, ",\"uri\":");
    sn_text_json_string(&c->values, e->uri);
    bool kept = !playlist.failed && sn_command_keep(c, 0, e->uri) && sn_command_keep(c, 2, metadata);
    sn_text_free(&playlist);
    if (!kept) {
        sn_command_finish(inst, c, false, "out of memory");
        return;
    }
    sn_speaker *coordinator = sn_speaker_coordinator(inst, c->speaker);
    if (e->container) {
        c->then = queue_cleared;
        c->tolerated = QUEUE_ALREADY_EMPTY;
        sn_command_send(inst, c, coordinator, SN_AVT, "RemoveAllTracksFromQueue", (const char *const[]){ "InstanceID", "0", NULL });
        return;
    }
    c->then = then_play;
    sn_command_send(inst, c, coordinator, SN_AVT, "SetAVTransportURI",
                    (const char *const[]){ "InstanceID", "0", "CurrentURI", c->text[0], "CurrentURIMetaData", c->text[2], NULL });
}

static void browsed(sb_instance *inst, sn_command *c, sn_soap_result *result)
{
    if (c->text[0] == NULL || c->text[1] == NULL) {
        sn_command_finish(inst, c, false, "out of memory");
        return;
    }
    char err[200] = "";
    sn_didl_entry e;
    sn_text seen = { 0 };
    if (c->text[2] != NULL) sn_text_puts(&seen, c->text[2]);
    size_t returned = 0;
    int rc = sn_didl_find(sn_soap_out(result, "Result"), c->text[0], &e, &seen, &returned, err, sizeof err);
    if (rc == 1) {
        sn_text_free(&seen);
        found(inst, c, &e);
        sn_didl_entry_free(&e);
        return;
    }
    const char *total = sn_soap_out(result, "TotalMatches");
    unsigned long all = total != NULL ? strtoul(total, NULL, 10) : 0;
    c->index += (uint32_t)returned;
    bool more = rc == 0 && returned > 0 && c->index < all && c->index < 10000;
    if (rc == 0 && !seen.failed) sn_command_keep(c, 2, sn_text_str(&seen));
    sn_text_free(&seen);
    if (rc < 0) {
        sn_command_finish(inst, c, false, err);
    } else if (more) {
        c->then = browsed;
        browse(inst, c);
    } else {
        char reason[1200];
        snprintf(reason, sizeof reason, "no %s titled \"%s\"%s%.1000s%s", strcmp(c->text[1], "SQ:") == 0 ? "Sonos playlist" : "favorite",
                 c->text[0], c->text[2] != NULL && c->text[2][0] ? " (there are: " : " (there are none)",
                 c->text[2] != NULL ? c->text[2] : "", c->text[2] != NULL && c->text[2][0] ? ")" : "");
        sn_command_finish(inst, c, false, reason);
    }
}

static sb_status play_by_title(sb_instance *i, char *r, size_t n, const char *command, const char *speaker,
                               const char *container, const char *title)
{
    size_t len;
    sn_trimmed(title, &len);
    if (len == 0) return sn_command_refuse(r, n, SB_ERR_INVALID, "name is empty");
    sn_command *c;
    /* Browse goes to the room itself: every player serves the household's favorites and playlists. */
    sb_status status = sn_command_start(i, r, n, command, speaker, SN_CMD_ROOM | SN_CMD_SONOS_ONLY, SN_CD, "Browse",
                                        (const char *const[]){ "ObjectID", container, "BrowseFlag", "BrowseDirectChildren",
                                                               "Filter", "*", "StartingIndex", "0",
                                                               "RequestedCount", BROWSE_PAGE, "SortCriteria", "", NULL }, &c);
    if (status != SB_OK) return status;
    /* Out of memory here leaves the texts NULL: browsed() then finds nothing and says so. */
    sn_command_keep(c, 0, title);
    sn_command_keep(c, 1, container);
    c->then = browsed;
    return SB_OK;
}

static sb_status cmd_favorite(sb_instance *i, char *r, size_t n, const char *speaker, const char *name)
{
    return play_by_title(i, r, n, "favorite", speaker, "FV:2", name);
}

static sb_status cmd_playlist(sb_instance *i, char *r, size_t n, const char *speaker, const char *name)
{
    return play_by_title(i, r, n, "playlist", speaker, "SQ:", name);
}

const sb_command sn_source_commands[] = {
    { sizeof(sb_command), "setavtransporturi", "speaker:str uri:str metadata:str? play:bool=true",
      "Play a URI (with optional DIDL-Lite metadata)", FN(cmd_setavtransporturi) },
    { sizeof(sb_command), "linein", "speaker:str from:str?",
      "Play a player's line-in (the room's own by default) on the room's group (Sonos)", FN(cmd_linein) },
    { sizeof(sb_command), "tv", "speaker:str", "Switch a soundbar to its TV input (Sonos)", FN(cmd_tv) },
    { sizeof(sb_command), "queue", "speaker:str", "Play the group's queue (Sonos)", FN(cmd_queue) },
    { sizeof(sb_command), "favorite", "speaker:str name:str", "Play a Sonos favorite by its title (Sonos)",
      FN(cmd_favorite) },
    { sizeof(sb_command), "playlist", "speaker:str name:str", "Play a Sonos playlist by its title, through the queue "
      "(Sonos)", FN(cmd_playlist) },
    { sizeof(sb_command), "queueadd", "speaker:str uri:str metadata:str?", "Add a URI at the end of the queue (Sonos)",
      FN(cmd_queueadd) },
    { sizeof(sb_command), "queueclear", "speaker:str", "Empty the group's queue (Sonos)", FN(cmd_queueclear) },
};
const size_t sn_source_command_count = sizeof sn_source_commands / sizeof sn_source_commands[0];

/* Typed commands (the commands_*.c files over soap_call and the model, with a fake host): the
 * reply says what was sent and to whom, each action's SOAP body is the one Sonos takes, the
 * device's verdict follows as the `command` event (with the values a reading command got), and
 * commands that cannot work are refused at once — Sonos-only ones on a plain renderer before
 * anything is sent. */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "commands.h"
#include "commands_parse.h"
#include "fake_devices.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>

static fake_host f;

typedef sb_status (*speaker_fn)(sb_instance *, char *, size_t, const char *);
typedef sb_status (*none_fn)(sb_instance *, char *, size_t);
typedef sb_status (*level_fn)(sb_instance *, char *, size_t, const char *, int32_t);
typedef sb_status (*count_fn)(sb_instance *, char *, size_t, const char *, uint32_t);
typedef sb_status (*flag_fn)(sb_instance *, char *, size_t, const char *, bool);
typedef sb_status (*text_fn)(sb_instance *, char *, size_t, const char *, const char *);
typedef sb_status (*text2_fn)(sb_instance *, char *, size_t, const char *, const char *, const char *);
typedef sb_status (*alarm_fn)(sb_instance *, char *, size_t, const char *, uint32_t, bool);
typedef sb_status (*seek_fn)(sb_instance *, char *, size_t, const char *, const char *, uint32_t);
typedef sb_status (*raw_fn)(sb_instance *, char *, size_t, const char *, const char *, const char *, const char *);

/* The command called `name`, as the host finds it. */
static void (*command(sb_instance *inst, const char *name))(void)
{
    for (uint32_t i = 0; i < sn_commands_table.count(inst); i++) {
        const sb_command *c = sn_commands_table.get(inst, i);
        if (strcmp(c->name, name) == 0) return c->function;
    }
    fprintf(stderr, "no command %s\n", name);
    abort();
}

/* A Sonos player, online, with the services the commands reach beyond the renderer's; `extras`
 * adds a soundbar's HTControl and a line-in's AudioIn. */
static sn_speaker *sonos_player(sb_instance *inst, const char *uuid, const char *room, const char *ip, bool extras)
{
    sn_description d;
    char location[128];
    fake_description(&d, uuid, room, ip, true);
    fake_location(location, sizeof location, ip, true);
    static const char *const extra[][2] = { { "ContentDirectory", "MediaServer/ContentDirectory" },
                                            { "AlarmClock", "AlarmClock" }, { "HTControl", "HTControl" },
                                            { "AudioIn", "AudioIn" } };
    for (size_t k = 0; k < (extras ? 4u : 2u); k++) {
        sn_service *s = &d.services[d.service_count++];
        snprintf(s->type, sizeof s->type, "urn:schemas-upnp-org:service:%s:1", extra[k][0]);
        snprintf(s->control_url, sizeof s->control_url, "http://%s:1400/%s/Control", ip, extra[k][1]);
    }
    sn_speaker *s = sn_speaker_add(inst, uuid);
    sn_speaker_apply_description(inst, s, &d, location);
    s->awaiting_topology = false;
    sn_speaker_set_online(inst, s, true, "found");
    return s;
}

static sn_speaker *sonos_room(sb_instance *inst, const char *uuid, const char *room, const char *ip)
{
    return sonos_player(inst, uuid, room, ip, false);
}

/* The one open request to `url_part`, checked to be `action`. */
static fake_request *sent(const char *url_part, const char *action)
{
    fake_request *r = fake_http_find(&f, "POST", url_part);
    CHECK(r != NULL);
    if (r == NULL) return NULL;
    if (strcmp(fake_soap_action(r), action) != 0) fprintf(stderr, "sent %s, expected %s\n", fake_soap_action(r), action);
    CHECK(strcmp(fake_soap_action(r), action) == 0);
    return r;
}

static bool has(const fake_request *r, const char *text)
{
    bool ok = r != NULL && strstr(r->body, text) != NULL;
    if (!ok) fprintf(stderr, "body lacks %s: %s\n", text, r != NULL ? r->body : "(no request)");
    return ok;
}

static void answer(fake_request *r, const char *const *out)
{
    if (r != NULL) fake_soap_answer(&f, r, out);
}

static bool event_has(const char *text)
{
    bool ok = strstr(f.last_event, text) != NULL;
    if (!ok) fprintf(stderr, "event lacks %s: %s\n", text, f.last_event);
    return ok;
}

static void test_basics(void)
{
    sb_instance *inst = fake_instance(&f, "{}");
    sn_speaker *kitchen = fake_speaker(inst, "uuid-k", "Kitchen", "10.0.0.5", false);
    sn_speaker *den = fake_speaker(inst, "uuid-d", "Den", "10.0.0.6", false);
    char reply[512];
    CHECK(sn_commands_table.get(inst, sn_commands_table.count(inst)) == NULL);

    /* Transport commands go to the group's coordinator; the device's answer becomes the event. */
    snprintf(den->coordinator, sizeof den->coordinator, "uuid-k");
    speaker_fn pause = (speaker_fn)command(inst, "pause");
    CHECK(pause(inst, reply, sizeof reply, "den") == SB_OK);
    CHECK_STR(reply, "{\"sent\":\"Pause\",\"to\":\"kitchen\"}");
    answer(sent("10.0.0.5", "Pause"), NULL);
    CHECK_STR(f.last_event, "command {\"speaker\":\"den\",\"command\":\"pause\",\"ok\":true,\"reason\":null}");

    /* Volume goes to the room; a renderer's "invalid action" reads "not supported by this device". */
    level_fn volume = (level_fn)command(inst, "volume");
    CHECK(volume(inst, reply, sizeof reply, "den", 30) == SB_OK);
    fake_request *r = sent("10.0.0.6", "SetVolume");
    CHECK(has(r, "<DesiredVolume>30</DesiredVolume>"));
    if (r != NULL) fake_soap_fault(&f, r, 401);
    CHECK(event_has("\"ok\":false,\"reason\":\"not supported by this device ("));

    /* Refused at once: unknown, offline, a Sonos-only command on a renderer, an unknown mode. */
    CHECK(pause(inst, reply, sizeof reply, "attic") == SB_ERR_NOT_FOUND);
    CHECK_STR(reply, "unknown speaker attic");
    sn_speaker_set_online(inst, kitchen, false, "gone");
    CHECK(pause(inst, reply, sizeof reply, "kitchen") == SB_ERR_FAILED);
    CHECK_STR(reply, "kitchen is offline");
    /* (to the group: the den follows the kitchen) */
    level_fn groupvolume = (level_fn)command(inst, "groupvolume");
    CHECK(groupvolume(inst, reply, sizeof reply, "den", 20) == SB_ERR_UNSUPPORTED);
    CHECK(strstr(reply, "not supported by this device: Kitchen has no GroupRenderingControl service") != NULL);
    text_fn playmode = (text_fn)command(inst, "playmode");
    CHECK(playmode(inst, reply, sizeof reply, "den", "sideways") == SB_ERR_INVALID);
    CHECK(strstr(reply, "unknown play mode \"sideways\"") != NULL);
    CHECK(fake_http_open_count(&f) == 0);
    fake_instance_free(inst);
}

/* Every Sonos-only command on a plain renderer: "not supported by this device", nothing sent. */
static void test_renderer_refuses_sonos_commands(void)
{
    sb_instance *inst = fake_instance(&f, "{}");
    fake_speaker(inst, "uuid-r", "Attic", "10.0.0.7", false);
    char reply[512];
    const char *speaker_only[] = { "tv", "queue", "queueclear", "leavegroup", "alarms" };
    for (size_t k = 0; k < sizeof speaker_only / sizeof speaker_only[0]; k++) {
        CHECK(((speaker_fn)command(inst, speaker_only[k]))(inst, reply, sizeof reply, "attic") == SB_ERR_UNSUPPORTED);
        CHECK(strncmp(reply, "not supported by this device", 28) == 0);
    }
    const char *flags[] = { "nightmode", "speechenhancement", "loudness", "crossfade" };
    for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++) {
        CHECK(((flag_fn)command(inst, flags[k]))(inst, reply, sizeof reply, "attic", true) == SB_ERR_UNSUPPORTED);
        CHECK(strncmp(reply, "not supported by this device", 28) == 0);
    }
    CHECK(((level_fn)command(inst, "bass"))(inst, reply, sizeof reply, "attic", 3) == SB_ERR_UNSUPPORTED);
    CHECK(((level_fn)command(inst, "treble"))(inst, reply, sizeof reply, "attic", 3) == SB_ERR_UNSUPPORTED);
    CHECK(((count_fn)command(inst, "sleep"))(inst, reply, sizeof reply, "attic", 10) == SB_ERR_UNSUPPORTED);
    CHECK(((count_fn)command(inst, "snooze"))(inst, reply, sizeof reply, "attic", 10) == SB_ERR_UNSUPPORTED);
    CHECK(((text_fn)command(inst, "favorite"))(inst, reply, sizeof reply, "attic", "Jazz") == SB_ERR_UNSUPPORTED);
    CHECK(((text_fn)command(inst, "playlist"))(inst, reply, sizeof reply, "attic", "Jazz") == SB_ERR_UNSUPPORTED);
    CHECK(((text_fn)command(inst, "linein"))(inst, reply, sizeof reply, "attic", NULL) == SB_ERR_UNSUPPORTED);
    CHECK(((text2_fn)command(inst, "queueadd"))(inst, reply, sizeof reply, "attic", "http://x/a.mp3", NULL) == SB_ERR_UNSUPPORTED);
    CHECK(((alarm_fn)command(inst, "alarm"))(inst, reply, sizeof reply, "attic", 1, true) == SB_ERR_UNSUPPORTED);
    CHECK(((level_fn)command(inst, "groupvolumeup"))(inst, reply, sizeof reply, "attic", 5) == SB_ERR_UNSUPPORTED);
    /* Raw: a service the renderer does not describe. */
    CHECK(((raw_fn)command(inst, "upnp"))(inst, reply, sizeof reply, "attic", "AlarmClock", "ListAlarms", NULL) == SB_ERR_UNSUPPORTED);
    CHECK(strstr(reply, "Attic has no AlarmClock service") != NULL);
    CHECK(fake_http_open_count(&f) == 0);
    fake_instance_free(inst);
}

/* The one-action Sonos commands: the body each one sends, and where. */
static void test_sonos_bodies(void)
{
    sb_instance *inst = fake_instance(&f, "{}");
    sonos_room(inst, "RINCON_K", "Kitchen", "10.0.0.5");
    sn_speaker *den = sonos_player(inst, "RINCON_D", "Den", "10.0.0.6", true);
    snprintf(den->coordinator, sizeof den->coordinator, "RINCON_K");
    char reply[512];

    /* Home-theater settings and the TV input need a soundbar, a line-in an AudioIn: refused
     * before sending on a player without (the kitchen). */
    CHECK(((flag_fn)command(inst, "nightmode"))(inst, reply, sizeof reply, "kitchen", true) == SB_ERR_UNSUPPORTED);
    CHECK_STR(reply, "not supported by this device: Kitchen is not a soundbar (no HTControl service)");
    CHECK(((flag_fn)command(inst, "speechenhancement"))(inst, reply, sizeof reply, "kitchen", true) == SB_ERR_UNSUPPORTED);
    CHECK(((speaker_fn)command(inst, "tv"))(inst, reply, sizeof reply, "kitchen") == SB_ERR_UNSUPPORTED);
    CHECK(((text_fn)command(inst, "linein"))(inst, reply, sizeof reply, "den", "kitchen") == SB_ERR_UNSUPPORTED);
    CHECK_STR(reply, "not supported by this device: Kitchen has no line-in (no AudioIn service)");
    CHECK(fake_http_open_count(&f) == 0);

    /* Sleep timer and crossfade belong to the group: the coordinator; 0 cancels with "". */
    CHECK(((count_fn)command(inst, "sleep"))(inst, reply, sizeof reply, "den", 90) == SB_OK);
    CHECK_STR(reply, "{\"sent\":\"ConfigureSleepTimer\",\"to\":\"kitchen\"}");
    fake_request *r = sent("10.0.0.5", "ConfigureSleepTimer");
    CHECK(has(r, "<NewSleepTimerDuration>01:30:00</NewSleepTimerDuration>"));
    answer(r, NULL);
    CHECK(event_has("\"command\":\"sleep\",\"ok\":true"));
    CHECK(((count_fn)command(inst, "sleep"))(inst, reply, sizeof reply, "den", 0) == SB_OK);
    r = sent("10.0.0.5", "ConfigureSleepTimer");
    CHECK(has(r, "<NewSleepTimerDuration></NewSleepTimerDuration>"));
    answer(r, NULL);
    CHECK(((flag_fn)command(inst, "crossfade"))(inst, reply, sizeof reply, "den", true) == SB_OK);
    r = sent("10.0.0.5", "SetCrossfadeMode");
    CHECK(has(r, "<CrossfadeMode>1</CrossfadeMode>"));
    /* A member's fault is worded for what it is (GroupRenderingControl and AVTransport differ). */
    if (r != NULL) fake_soap_fault(&f, r, 800);
    CHECK(event_has("UPnP error 800: command not supported or not a coordinator (AVTransport)"));

    /* Sound: the room itself. */
    CHECK(((flag_fn)command(inst, "nightmode"))(inst, reply, sizeof reply, "den", true) == SB_OK);
    r = sent("10.0.0.6", "SetEQ");
    CHECK(has(r, "<EQType>NightMode</EQType><DesiredValue>1</DesiredValue>"));
    answer(r, NULL);
    CHECK(((flag_fn)command(inst, "speechenhancement"))(inst, reply, sizeof reply, "den", false) == SB_OK);
    r = sent("10.0.0.6", "SetEQ");
    CHECK(has(r, "<EQType>DialogLevel</EQType><DesiredValue>0</DesiredValue>"));
    answer(r, NULL);
    CHECK(((level_fn)command(inst, "bass"))(inst, reply, sizeof reply, "den", -3) == SB_OK);
    r = sent("10.0.0.6", "SetBass");
    CHECK(has(r, "<DesiredBass>-3</DesiredBass>"));
    answer(r, NULL);
    CHECK(((level_fn)command(inst, "treble"))(inst, reply, sizeof reply, "den", 10) == SB_OK);
    r = sent("10.0.0.6", "SetTreble");
    CHECK(has(r, "<DesiredTreble>10</DesiredTreble>"));
    answer(r, NULL);
    CHECK(((flag_fn)command(inst, "loudness"))(inst, reply, sizeof reply, "den", true) == SB_OK);
    r = sent("10.0.0.6", "SetLoudness");
    CHECK(has(r, "<Channel>Master</Channel><DesiredLoudness>1</DesiredLoudness>"));
    answer(r, NULL);

    /* Sources: the group's coordinator, then Play. */
    CHECK(((text_fn)command(inst, "linein"))(inst, reply, sizeof reply, "den", NULL) == SB_OK);
    r = sent("10.0.0.5", "SetAVTransportURI");
    CHECK(has(r, "<CurrentURI>x-rincon-stream:RINCON_D</CurrentURI>"));
    answer(r, NULL);
    answer(sent("10.0.0.5", "Play"), NULL);
    CHECK(event_has("\"command\":\"linein\",\"ok\":true"));
    CHECK(((text_fn)command(inst, "linein"))(inst, reply, sizeof reply, "den", "nowhere") == SB_ERR_NOT_FOUND);
    CHECK(((speaker_fn)command(inst, "tv"))(inst, reply, sizeof reply, "den") == SB_OK);
    r = sent("10.0.0.6", "SetAVTransportURI");
    CHECK(has(r, "<CurrentURI>x-sonos-htastream:RINCON_D:spdif</CurrentURI>"));
    answer(r, NULL);
    answer(sent("10.0.0.6", "Play"), NULL);
    CHECK(((speaker_fn)command(inst, "queue"))(inst, reply, sizeof reply, "den") == SB_OK);
    r = sent("10.0.0.5", "SetAVTransportURI");
    CHECK(has(r, "<CurrentURI>x-rincon-queue:RINCON_K#0</CurrentURI>"));
    answer(r, NULL);
    answer(sent("10.0.0.5", "Play"), NULL);
    CHECK(((text2_fn)command(inst, "queueadd"))(inst, reply, sizeof reply, "den", "http://x/a.mp3", NULL) == SB_OK);
    r = sent("10.0.0.5", "AddURIToQueue");
    CHECK(has(r, "<EnqueuedURI>http://x/a.mp3</EnqueuedURI><EnqueuedURIMetaData></EnqueuedURIMetaData>"
                 "<DesiredFirstTrackNumberEnqueued>0</DesiredFirstTrackNumberEnqueued><EnqueueAsNext>0</EnqueueAsNext>"));
    answer(r, (const char *const[]){ "FirstTrackNumberEnqueued", "3", "NumTracksAdded", "1", "NewQueueLength", "3", NULL });
    CHECK(event_has("\"values\":{\"FirstTrackNumberEnqueued\":\"3\",\"NumTracksAdded\":\"1\",\"NewQueueLength\":\"3\"}"));
    CHECK(((text2_fn)command(inst, "queueadd"))(inst, reply, sizeof reply, "den", "", NULL) == SB_ERR_INVALID);
    /* Clearing an empty queue is what the user wanted: 804 counts as done. */
    CHECK(((speaker_fn)command(inst, "queueclear"))(inst, reply, sizeof reply, "den") == SB_OK);
    r = sent("10.0.0.5", "RemoveAllTracksFromQueue");
    if (r != NULL) fake_soap_fault(&f, r, 804);
    CHECK(event_has("\"command\":\"queueclear\",\"ok\":true"));

    /* Group volume steps: a snapshot first, then the relative change; the new volume comes back. */
    CHECK(((level_fn)command(inst, "groupvolumedown"))(inst, reply, sizeof reply, "den", 7) == SB_OK);
    answer(sent("10.0.0.5", "SnapshotGroupVolume"), NULL);
    r = sent("10.0.0.5", "SetRelativeGroupVolume");
    CHECK(has(r, "<Adjustment>-7</Adjustment>"));
    answer(r, (const char *const[]){ "NewVolume", "23", NULL });
    CHECK(event_has("\"command\":\"groupvolumedown\",\"ok\":true,\"reason\":null,\"values\":{\"NewVolume\":\"23\"}"));
    /* A GroupRenderingControl 701 means the player is not the coordinator. */
    CHECK(((level_fn)command(inst, "groupvolumeup"))(inst, reply, sizeof reply, "den", 5) == SB_OK);
    r = sent("10.0.0.5", "SnapshotGroupVolume");
    if (r != NULL) fake_soap_fault(&f, r, 701);
    CHECK(event_has("UPnP error 701: player isn't the coordinator (GroupRenderingControl)"));

    /* Faults worded for their action: a member's Seek 701, SetPlayMode 712 without a queue. */
    CHECK(((seek_fn)command(inst, "seek"))(inst, reply, sizeof reply, "den", "90", 0) == SB_OK);
    r = sent("10.0.0.5", "Seek");
    CHECK(has(r, "<Unit>REL_TIME</Unit><Target>0:01:30</Target>"));
    if (r != NULL) fake_soap_fault(&f, r, 701);
    CHECK(event_has("UPnP error 701: transition not available (a group member cannot seek: its coordinator does) (AVTransport)"));
    CHECK(((text_fn)command(inst, "playmode"))(inst, reply, sizeof reply, "den", "shuffle") == SB_OK);
    r = sent("10.0.0.5", "SetPlayMode");
    if (r != NULL) fake_soap_fault(&f, r, 712);
    CHECK(event_has("UPnP error 712: play mode not supported (a group member, or no queue is playing)"));

    CHECK(((count_fn)command(inst, "snooze"))(inst, reply, sizeof reply, "den", 10) == SB_OK);
    r = sent("10.0.0.5", "SnoozeAlarm");
    CHECK(has(r, "<Duration>00:10:00</Duration>"));
    answer(r, NULL);
    CHECK(fake_http_open_count(&f) == 0);
    fake_instance_free(inst);
}

static const char *favorites_didl =
    "<DIDL-Lite xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:upnp=\"urn:schemas-upnp-org:metadata-1-0/upnp/\" "
    "xmlns:r=\"urn:schemas-rinconnetworks-com:metadata-1-0/\" xmlns=\"urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/\">"
    "<item id=\"FV:2/1\" parentID=\"FV:2\" restricted=\"false\"><dc:title>Radio Swiss Jazz</dc:title>"
    "<upnp:class>object.itemobject.item.sonos-favorite</upnp:class>"
    "<res protocolInfo=\"x-sonosapi-stream:*:*:*\">x-sonosapi-stream:s6814?sid=254&amp;flags=8224&amp;sn=0</res>"
    "<r:resMD>&lt;DIDL-Lite&gt;&lt;item id=\"F00092020s6814\"&gt;&lt;/item&gt;&lt;/DIDL-Lite&gt;</r:resMD></item>"
    "<item id=\"FV:2/2\" parentID=\"FV:2\" restricted=\"false\"><dc:title> Kind of Blue </dc:title>"
    "<upnp:class>object.itemobject.item.sonos-favorite</upnp:class>"
    "<res>x-rincon-cpcontainer:1004206cablbum?sid=204</res>"
    "<r:resMD>&lt;DIDL-Lite&gt;&lt;item&gt;&lt;upnp:class&gt;object.container.album.musicAlbum&lt;/upnp:class&gt;"
    "&lt;/item&gt;&lt;/DIDL-Lite&gt;</r:resMD></item></DIDL-Lite>";

/* favorite / playlist: Browse, find by title, then the URI (a stream) or the queue (a container). */
static void test_favorites_and_playlists(void)
{
    sb_instance *inst = fake_instance(&f, "{}");
    sonos_room(inst, "RINCON_K", "Kitchen", "10.0.0.5");
    char reply[512];
    text_fn favorite = (text_fn)command(inst, "favorite");

    CHECK(favorite(inst, reply, sizeof reply, "kitchen", "radio swiss jazz") == SB_OK);
    CHECK_STR(reply, "{\"sent\":\"Browse\",\"to\":\"kitchen\"}");
    fake_request *r = sent("ContentDirectory", "Browse");
    CHECK(has(r, "<ObjectID>FV:2</ObjectID><BrowseFlag>BrowseDirectChildren</BrowseFlag><Filter>*</Filter>"
                 "<StartingIndex>0</StartingIndex><RequestedCount>100</RequestedCount><SortCriteria></SortCriteria>"));
    answer(r, (const char *const[]){ "Result", favorites_didl, "NumberReturned", "2", "TotalMatches", "2", "UpdateID", "1", NULL });
    r = sent("AVTransport", "SetAVTransportURI");
    CHECK(has(r, "<CurrentURI>x-sonosapi-stream:s6814?sid=254&amp;flags=8224&amp;sn=0</CurrentURI>"));
    CHECK(has(r, "<CurrentURIMetaData>&lt;DIDL-Lite&gt;&lt;item id=&quot;F00092020s6814&quot;&gt;"));
    answer(r, NULL);
    answer(sent("AVTransport", "Play"), NULL);
    CHECK(event_has("\"command\":\"favorite\",\"ok\":true,\"reason\":null,\"values\":{\"title\":\"Radio Swiss Jazz\","));

    /* A container favorite goes through the queue; an empty queue's 804 does not stop it. */
    CHECK(favorite(inst, reply, sizeof reply, "kitchen", "Kind of Blue") == SB_OK);
    answer(sent("ContentDirectory", "Browse"), (const char *const[]){ "Result", favorites_didl, "NumberReturned", "2",
                                                                      "TotalMatches", "2", NULL });
    r = sent("AVTransport", "RemoveAllTracksFromQueue");
    if (r != NULL) fake_soap_fault(&f, r, 804);
    r = sent("AVTransport", "AddURIToQueue");
    CHECK(has(r, "<EnqueuedURI>x-rincon-cpcontainer:1004206cablbum?sid=204</EnqueuedURI>"));
    CHECK(has(r, "object.container.album.musicAlbum"));
    answer(r, NULL);
    r = sent("AVTransport", "SetAVTransportURI");
    CHECK(has(r, "<CurrentURI>x-rincon-queue:RINCON_K#0</CurrentURI>"));
    answer(r, NULL);
    answer(sent("AVTransport", "Play"), NULL);
    CHECK(event_has("\"command\":\"favorite\",\"ok\":true"));

    /* Not there: the next page is asked while there are more; then the reason names what exists. */
    CHECK(favorite(inst, reply, sizeof reply, "kitchen", "Bach") == SB_OK);
    answer(sent("ContentDirectory", "Browse"), (const char *const[]){ "Result", favorites_didl, "NumberReturned", "2",
                                                                      "TotalMatches", "3", NULL });
    r = sent("ContentDirectory", "Browse");
    CHECK(has(r, "<StartingIndex>2</StartingIndex>"));
    answer(r, (const char *const[]){ "Result", "<DIDL-Lite></DIDL-Lite>", "NumberReturned", "0", "TotalMatches", "3", NULL });
    CHECK(event_has("\"ok\":false,\"reason\":\"no favorite titled \\\"Bach\\\" (there are: \\\"Radio Swiss Jazz\\\", "
                    "\\\"Kind of Blue\\\")\""));
    CHECK(favorite(inst, reply, sizeof reply, "kitchen", "  ") == SB_ERR_INVALID);

    /* A Sonos playlist (SQ:) has no resMD: it is enqueued with the playlist container's DIDL. */
    CHECK(((text_fn)command(inst, "playlist"))(inst, reply, sizeof reply, "kitchen", "Sunday") == SB_OK);
    r = sent("ContentDirectory", "Browse");
    CHECK(has(r, "<ObjectID>SQ:</ObjectID>"));
    answer(r, (const char *const[]){ "Result",
        "<DIDL-Lite><container id=\"SQ:3\" parentID=\"SQ:\" restricted=\"true\"><dc:title>Sunday</dc:title>"
        "<res protocolInfo=\"file:*:audio/mpegurl:*\">file:///jffs/settings/savedqueues.rsq#3</res>"
        "<upnp:class>object.container.playlistContainer</upnp:class></container></DIDL-Lite>",
        "NumberReturned", "1", "TotalMatches", "1", NULL });
    answer(sent("AVTransport", "RemoveAllTracksFromQueue"), NULL);
    r = sent("AVTransport", "AddURIToQueue");
    CHECK(has(r, "<EnqueuedURI>file:///jffs/settings/savedqueues.rsq#3</EnqueuedURI>"));
    CHECK(has(r, "&lt;item id=&quot;SQ:3&quot; parentID=&quot;SQ:&quot;"));
    CHECK(has(r, "object.container.playlistContainer"));
    answer(r, NULL);
    answer(sent("AVTransport", "SetAVTransportURI"), NULL);
    answer(sent("AVTransport", "Play"), NULL);
    CHECK(event_has("\"command\":\"playlist\",\"ok\":true"));
    /* An unreadable Browse answer fails the command with the reason. */
    CHECK(((text_fn)command(inst, "playlist"))(inst, reply, sizeof reply, "kitchen", "Sunday") == SB_OK);
    answer(sent("ContentDirectory", "Browse"), (const char *const[]){ "Result", "<DIDL-Lite><item>", NULL });
    CHECK(event_has("\"ok\":false,\"reason\":\"unreadable Browse result"));
    CHECK(fake_http_open_count(&f) == 0);
    fake_instance_free(inst);
}

static const char *alarm_list =
    "<Alarms><Alarm ID=\"4\" StartTime=\"07:00:00\" Duration=\"02:00:00\" Recurrence=\"WEEKDAYS\" Enabled=\"1\" "
    "RoomUUID=\"RINCON_K\" ProgramURI=\"x-rincon-buzzer:0\" ProgramMetaData=\"\" PlayMode=\"SHUFFLE_NOREPEAT\" "
    "Volume=\"25\" IncludeLinkedZones=\"0\"/></Alarms>";

static void test_alarms(void)
{
    sb_instance *inst = fake_instance(&f, "{}");
    sonos_room(inst, "RINCON_K", "Kitchen", "10.0.0.5");
    char reply[512];

    /* A bridge request (no speaker): any Sonos player answers for the household. */
    CHECK(((speaker_fn)command(inst, "alarms"))(inst, reply, sizeof reply, NULL) == SB_OK);
    fake_request *r = sent("AlarmClock", "ListAlarms");
    answer(r, (const char *const[]){ "CurrentAlarmList", alarm_list, "CurrentAlarmListVersion", "RINCON_K:12", NULL });
    CHECK(event_has("\"values\":{\"alarms\":[{\"id\":4,\"time\":\"07:00:00\",\"duration\":\"02:00:00\","
                    "\"recurrence\":\"WEEKDAYS\",\"enabled\":true,\"speaker\":\"kitchen\",\"volume\":25,"
                    "\"play_mode\":\"SHUFFLE_NOREPEAT\",\"program\":\"x-rincon-buzzer:0\",\"include_linked_zones\":false}]}"));

    /* alarm: the list, then the whole alarm written back with Enabled changed. */
    alarm_fn alarm = (alarm_fn)command(inst, "alarm");
    CHECK(alarm(inst, reply, sizeof reply, "kitchen", 4, false) == SB_OK);
    answer(sent("AlarmClock", "ListAlarms"), (const char *const[]){ "CurrentAlarmList", alarm_list, NULL });
    r = sent("AlarmClock", "UpdateAlarm");
    CHECK(has(r, "<ID>4</ID><StartLocalTime>07:00:00</StartLocalTime><Duration>02:00:00</Duration>"
                 "<Recurrence>WEEKDAYS</Recurrence><Enabled>0</Enabled><RoomUUID>RINCON_K</RoomUUID>"
                 "<ProgramURI>x-rincon-buzzer:0</ProgramURI><ProgramMetaData></ProgramMetaData>"
                 "<PlayMode>SHUFFLE_NOREPEAT</PlayMode><Volume>25</Volume><IncludeLinkedZones>0</IncludeLinkedZones>"));
    answer(r, NULL);
    CHECK(event_has("\"command\":\"alarm\",\"ok\":true,\"reason\":null,\"values\":{\"id\":4,\"enabled\":false}"));
    CHECK(alarm(inst, reply, sizeof reply, "kitchen", 9, true) == SB_OK);
    answer(sent("AlarmClock", "ListAlarms"), (const char *const[]){ "CurrentAlarmList", alarm_list, NULL });
    CHECK(event_has("\"reason\":\"no alarm with id 9 (there are: 4)\""));
    /* A duplicate alarm time is AlarmClock's own 801. */
    CHECK(alarm(inst, reply, sizeof reply, NULL, 4, true) == SB_OK);
    answer(sent("AlarmClock", "ListAlarms"), (const char *const[]){ "CurrentAlarmList", alarm_list, NULL });
    r = sent("AlarmClock", "UpdateAlarm");
    if (r != NULL) fake_soap_fault(&f, r, 801);
    CHECK(event_has("UPnP error 801: duplicate alarm time (AlarmClock)"));
    CHECK(fake_http_open_count(&f) == 0);

    /* No Sonos player online: nobody to ask. */
    sn_speaker_set_online(inst, sn_speaker_find(inst, "kitchen"), false, "gone");
    CHECK(((speaker_fn)command(inst, "alarms"))(inst, reply, sizeof reply, NULL) == SB_ERR_NOT_FOUND);
    fake_instance_free(inst);
}

/* pauseall pauses the coordinators that play and remembers them; resumeall plays only those. */
static void test_pause_all(void)
{
    sb_instance *inst = fake_instance(&f, "{}");
    sn_speaker *k = sonos_room(inst, "RINCON_K", "Kitchen", "10.0.0.5");
    sn_speaker *d = sonos_room(inst, "RINCON_D", "Den", "10.0.0.6");
    sn_speaker *m = sonos_room(inst, "RINCON_M", "Music", "10.0.0.8");
    sn_speaker *r0 = fake_speaker(inst, "uuid-r", "Attic", "10.0.0.7", false);
    snprintf(k->transport, sizeof k->transport, "PLAYING");
    snprintf(d->transport, sizeof d->transport, "PLAYING");
    snprintf(d->coordinator, sizeof d->coordinator, "RINCON_K"); /* a member: its coordinator is paused */
    snprintf(m->transport, sizeof m->transport, "PAUSED_PLAYBACK"); /* paused by hand: stays paused */
    snprintf(r0->transport, sizeof r0->transport, "PLAYING");
    char reply[512];
    CHECK(((none_fn)command(inst, "pauseall"))(inst, reply, sizeof reply) == SB_OK);
    CHECK_STR(reply, "{\"sent\":\"Pause\",\"to\":[\"kitchen\",\"attic\"]}");
    answer(sent("10.0.0.5", "Pause"), NULL);
    answer(sent("10.0.0.7", "Pause"), NULL);
    CHECK(fake_http_open_count(&f) == 0);
    snprintf(k->transport, sizeof k->transport, "PAUSED_PLAYBACK");
    snprintf(r0->transport, sizeof r0->transport, "PAUSED_PLAYBACK");
    /* Twice does not forget the first one's rooms. */
    CHECK(((none_fn)command(inst, "pauseall"))(inst, reply, sizeof reply) == SB_OK);
    CHECK_STR(reply, "{\"sent\":\"Pause\",\"to\":[]}");
    CHECK(((none_fn)command(inst, "resumeall"))(inst, reply, sizeof reply) == SB_OK);
    CHECK_STR(reply, "{\"sent\":\"Play\",\"to\":[\"kitchen\",\"attic\"]}");
    answer(sent("10.0.0.5", "Play"), NULL);
    answer(sent("10.0.0.7", "Play"), NULL);
    CHECK(event_has("{\"speaker\":\"attic\",\"command\":\"resumeall\",\"ok\":true"));
    CHECK(((none_fn)command(inst, "resumeall"))(inst, reply, sizeof reply) == SB_OK);
    CHECK_STR(reply, "{\"sent\":\"Play\",\"to\":[]}");
    /* A room that is announcing is left alone: pausing the clip would hold the announcement. */
    snprintf(k->transport, sizeof k->transport, "PLAYING");
    snprintf(r0->transport, sizeof r0->transport, "PLAYING");
    k->announcement = (struct sn_announcement *)k; /* any non-NULL: only its presence is read */
    CHECK(((none_fn)command(inst, "pauseall"))(inst, reply, sizeof reply) == SB_OK);
    CHECK_STR(reply, "{\"sent\":\"Pause\",\"to\":[\"attic\"],\"announcing\":[\"kitchen\"]}");
    k->announcement = NULL;
    answer(sent("10.0.0.7", "Pause"), NULL);
    CHECK(fake_http_open_count(&f) == 0);
    fake_instance_free(inst);
}

static void test_raw(void)
{
    sb_instance *inst = fake_instance(&f, "{}");
    sonos_room(inst, "RINCON_K", "Kitchen", "10.0.0.5");
    char reply[512];
    raw_fn upnp = (raw_fn)command(inst, "upnp");
    CHECK(upnp(inst, reply, sizeof reply, "kitchen", "rc", "GetEQ", "{\"InstanceID\":0,\"EQType\":\"NightMode\"}") == SB_OK);
    CHECK_STR(reply, "{\"sent\":\"GetEQ\",\"to\":\"kitchen\"}");
    fake_request *r = sent("RenderingControl", "GetEQ");
    CHECK(has(r, "<InstanceID>0</InstanceID><EQType>NightMode</EQType>"));
    answer(r, (const char *const[]){ "CurrentValue", "1", NULL });
    CHECK(event_has("\"command\":\"upnp\",\"ok\":true,\"reason\":null,\"values\":{\"CurrentValue\":\"1\"}"));
    CHECK(upnp(inst, reply, sizeof reply, "kitchen", "ZoneGroupTopology", "GetZoneGroupAttributes", NULL) == SB_OK);
    r = sent("ZoneGroupTopology", "GetZoneGroupAttributes");
    if (r != NULL) fake_soap_fault(&f, r, 401);
    CHECK(event_has("\"ok\":false,\"reason\":\"not supported by this device ("));
    CHECK(upnp(inst, reply, sizeof reply, "kitchen", "avt", "SetPlayMode", "{\"InstanceID\":0,\"NewPlayMode\":true}") == SB_OK);
    CHECK(has(sent("AVTransport", "SetPlayMode"), "<NewPlayMode>1</NewPlayMode>"));
    answer(fake_http_find(&f, "POST", NULL), NULL);
    /* Refused before sending: an unknown service, a bad action, args that are not an object of
     * scalars. */
    CHECK(upnp(inst, reply, sizeof reply, "kitchen", "Telepathy", "Think", NULL) == SB_ERR_INVALID);
    CHECK(strstr(reply, "unknown service \"Telepathy\" (one of AVTransport, RenderingControl") != NULL);
    CHECK(upnp(inst, reply, sizeof reply, "kitchen", "avt", "Play><x", NULL) == SB_ERR_INVALID);
    CHECK(upnp(inst, reply, sizeof reply, "kitchen", "avt", "Play", "[1]") == SB_ERR_INVALID);
    CHECK(upnp(inst, reply, sizeof reply, "kitchen", "avt", "Play", "{\"Speed\":{\"x\":1}}") == SB_ERR_INVALID);
    CHECK(strstr(reply, "args \"Speed\"") != NULL);
    CHECK(upnp(inst, reply, sizeof reply, "kitchen", "avt", "Play", "{\"Sp<eed\":1}") == SB_ERR_INVALID);
    CHECK(upnp(inst, reply, sizeof reply, "kitchen", "avt", "Play", "{\"Speed\":1.5}") == SB_ERR_INVALID);
    CHECK(upnp(inst, reply, sizeof reply, "kitchen", "avt", "Play", "{oops") == SB_ERR_INVALID);
    CHECK(strncmp(reply, "args is not JSON", 16) == 0);
    CHECK(fake_http_open_count(&f) == 0);
    fake_instance_free(inst);
}

static void test_parse(void)
{
    char hms[16];
    sn_minutes_hms(0, hms, sizeof hms);
    CHECK_STR(hms, "00:00:00");
    sn_minutes_hms(1439, hms, sizeof hms);
    CHECK_STR(hms, "23:59:00");
    sn_alarm *a;
    size_t n;
    char err[200];
    CHECK(sn_alarms_parse("", &a, &n, err, sizeof err) == 0 && n == 0);
    CHECK(sn_alarms_parse("<Nope/>", &a, &n, err, sizeof err) == -1);
    /* An alarm that could not be written back unchanged (no ID, an over-long field) is left out. */
    CHECK(sn_alarms_parse("<Alarms><Alarm StartTime=\"07:00:00\"/><Alarm ID=\"x\"/><Alarm ID=\"2\" StartTime=\"0123456789012345678\"/>"
                          "<Alarm ID=\"3\" StartTime=\"06:30:00\" Enabled=\"0\"/></Alarms>", &a, &n, err, sizeof err) == 0);
    CHECK(n == 1 && a[0].id == 3 && !a[0].enabled && strcmp(a[0].start_time, "06:30:00") == 0 &&
          a[0].program_metadata != NULL && a[0].program_metadata[0] == '\0');
    sn_alarms_free(a, n);
    sn_didl_entry e;
    size_t returned;
    CHECK(sn_didl_find("", "x", &e, NULL, &returned, err, sizeof err) == 0);
    CHECK(sn_didl_find("<DIDL-Lite><item id=\"1\"><dc:title>A</dc:title></item></DIDL-Lite>", "a", &e, NULL, &returned,
                       err, sizeof err) == 1);
    CHECK(returned == 1 && e.metadata == NULL && !e.container && strcmp(e.id, "1") == 0);
    sn_didl_entry_free(&e);
}

int main(void)
{
    fake_host_init(&f);
    test_basics();
    test_renderer_refuses_sonos_commands();
    test_sonos_bodies();
    test_favorites_and_playlists();
    test_alarms();
    test_pause_all();
    test_raw();
    test_parse();
    return CHECK_DONE("test_commands");
}

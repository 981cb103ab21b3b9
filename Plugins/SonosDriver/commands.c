/* Typed commands (SB_EXT_COMMANDS): play, pause, volume, grouping … Transport commands go to the
 * group's coordinator, volume and mute to the room itself.
 *
 * A command call may not block (the SOAP answer arrives later on this same executor), so a
 * command answers once the action is sent — with an error right away when it cannot work
 * (unknown or offline speaker, a Sonos-only command on another renderer, a fixed-volume output)
 * — and the device's own verdict follows as the plugin event `command`:
 * {"speaker","command","ok","reason"}. The new state arrives on `<base>/<speaker>/state`. */
#define _POSIX_C_SOURCE 200809L

#include "commands.h"
#include "soap_call.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct command_ctx {
    sn_speaker *speaker;      /* where the follow-up goes */
    char command[32];
    bool then_play;           /* setavtransporturi: Play after the URI was taken */
} command_ctx;

static sb_status refuse(char *reply, size_t reply_size, sb_status status, const char *fmt, const char *a, const char *b)
{
    snprintf(reply, reply_size, fmt, a, b != NULL ? b : "");
    return status;
}

static void report(sb_instance *inst, const command_ctx *c, bool ok, const char *reason)
{
    if (!ok) sn_log(inst, SB_LOG_WARNING, "%s %s: %s", c->command, c->speaker->id, reason);
    if (inst->publish == NULL) return;
    sn_text t = { 0 };
    sn_text_puts(&t, "{\"speaker\":");
    sn_text_json_string(&t, c->speaker->id);
    sn_text_puts(&t, ",\"command\":");
    sn_text_json_string(&t, c->command);
    sn_text_printf(&t, ",\"ok\":%s,\"reason\":", ok ? "true" : "false");
    sn_text_json_string(&t, ok ? NULL : reason);
    sn_text_puts(&t, "}");
    if (!t.failed) inst->publish->event(inst->host, "command", t.data);
    sn_text_free(&t);
}

static void command_done(sb_instance *inst, void *ctx, int ok, sn_soap_result *result)
{
    command_ctx *c = ctx;
    if (ok && c->then_play) {
        c->then_play = false;
        char err[200];
        if (sn_soap(inst, c->speaker, SN_AVT, "Play", (const char *const[]){ "InstanceID", "0", "Speed", "1", NULL },
                    command_done, c, err, sizeof err)) return;
        report(inst, c, false, err);
        free(c);
        return;
    }
    char reason[400] = "";
    if (!ok) {
        /* 401 from a renderer means it does not implement the action at all. */
        if (result->upnp_code == 401) snprintf(reason, sizeof reason, "not supported by this device (%s)", result->reason);
        else sn_copy(reason, sizeof reason, result->reason);
    }
    report(inst, c, ok, reason);
    free(c);
}

/* Resolves the speaker, picks the coordinator for transport actions, checks the service exists,
 * and sends the action. */
static sb_status send_action(sb_instance *inst, char *reply, size_t reply_size, const char *command,
                             const char *speaker, bool to_coordinator, sn_service_kind kind, const char *action,
                             const char *const *args, bool then_play)
{
    sn_speaker *s = sn_speaker_find(inst, speaker);
    if (s == NULL) return refuse(reply, reply_size, SB_ERR_NOT_FOUND, "unknown speaker %s%s", speaker, NULL);
    if (!s->online) return refuse(reply, reply_size, SB_ERR_FAILED, "%s is offline%s", s->id, NULL);
    sn_speaker *target = to_coordinator ? sn_speaker_coordinator(inst, s) : s;
    if (target->services[kind] == NULL) {
        return refuse(reply, reply_size, SB_ERR_UNSUPPORTED, "not supported by this device: %s has no %s service",
                      target->name, sn_service_name(kind));
    }
    command_ctx *c = calloc(1, sizeof *c);
    if (c == NULL) return refuse(reply, reply_size, SB_ERR_FAILED, "out of memory%s%s", "", NULL);
    c->speaker = s;
    sn_copy(c->command, sizeof c->command, command);
    c->then_play = then_play;
    char err[300];
    if (!sn_soap(inst, target, kind, action, args, command_done, c, err, sizeof err)) {
        free(c);
        return refuse(reply, reply_size, SB_ERR_FAILED, "%s%s", err, NULL);
    }
    snprintf(reply, reply_size, "{\"sent\":\"%s\",\"to\":\"%s\"}", action, target->id);
    return SB_OK;
}

static const char *const instance0[] = { "InstanceID", "0", NULL };
static const char *const play_args[] = { "InstanceID", "0", "Speed", "1", NULL };

static sb_status cmd_play(sb_instance *i, char *r, size_t n, const char *speaker)
{
    return send_action(i, r, n, "play", speaker, true, SN_AVT, "Play", play_args, false);
}

static sb_status cmd_pause(sb_instance *i, char *r, size_t n, const char *speaker)
{
    return send_action(i, r, n, "pause", speaker, true, SN_AVT, "Pause", instance0, false);
}

static sb_status cmd_stop(sb_instance *i, char *r, size_t n, const char *speaker)
{
    return send_action(i, r, n, "stop", speaker, true, SN_AVT, "Stop", instance0, false);
}

static sb_status cmd_toggle(sb_instance *i, char *r, size_t n, const char *speaker)
{
    sn_speaker *s = sn_speaker_find(i, speaker);
    sn_speaker *c = s != NULL ? sn_speaker_coordinator(i, s) : NULL;
    bool playing = c != NULL && strcmp(c->transport, "PLAYING") == 0;
    return playing ? send_action(i, r, n, "toggle", speaker, true, SN_AVT, "Pause", instance0, false)
                   : send_action(i, r, n, "toggle", speaker, true, SN_AVT, "Play", play_args, false);
}

static sb_status cmd_next(sb_instance *i, char *r, size_t n, const char *speaker)
{
    return send_action(i, r, n, "next", speaker, true, SN_AVT, "Next", instance0, false);
}

static sb_status cmd_previous(sb_instance *i, char *r, size_t n, const char *speaker)
{
    return send_action(i, r, n, "previous", speaker, true, SN_AVT, "Previous", instance0, false);
}

/* "90", "1:30" or "0:01:30" -> "0:01:30" (REL_TIME wants H:MM:SS). */
static bool rel_time(const char *in, char *out, size_t size)
{
    unsigned long parts[3] = { 0, 0, 0 };
    int count = 0;
    const char *p = in;
    while (*p != '\0' && count < 3) {
        char *end;
        unsigned long v = strtoul(p, &end, 10);
        if (end == p) return false;
        parts[count++] = v;
        if (*end == ':') p = end + 1;
        else if (*end == '\0') p = end;
        else return false;
    }
    if (*p != '\0' || count == 0) return false;
    unsigned long seconds = count == 1 ? parts[0] : count == 2 ? parts[0] * 60 + parts[1] : parts[0] * 3600 + parts[1] * 60 + parts[2];
    if (seconds > 99 * 3600) return false;
    snprintf(out, size, "%lu:%02lu:%02lu", seconds / 3600, seconds / 60 % 60, seconds % 60);
    return true;
}

static sb_status cmd_seek(sb_instance *i, char *r, size_t n, const char *speaker, const char *position, uint32_t track)
{
    char target[32];
    if (track > 0) {
        snprintf(target, sizeof target, "%u", (unsigned)track);
        return send_action(i, r, n, "seek", speaker, true, SN_AVT, "Seek",
                           (const char *const[]){ "InstanceID", "0", "Unit", "TRACK_NR", "Target", target, NULL }, false);
    }
    if (position == NULL || !rel_time(position, target, sizeof target)) {
        return refuse(r, n, SB_ERR_INVALID, "give position (\"90\", \"1:30\" or \"0:01:30\") or track (1…)%s%s", "", NULL);
    }
    return send_action(i, r, n, "seek", speaker, true, SN_AVT, "Seek",
                       (const char *const[]){ "InstanceID", "0", "Unit", "REL_TIME", "Target", target, NULL }, false);
}

static sb_status set_volume(sb_instance *i, char *r, size_t n, const char *command, const char *speaker, int level)
{
    sn_speaker *s = sn_speaker_find(i, speaker);
    if (s != NULL && s->output_fixed) {
        return refuse(r, n, SB_ERR_UNSUPPORTED, "%s has a fixed volume output (set on the amplifier)%s", s->name, NULL);
    }
    char value[16];
    snprintf(value, sizeof value, "%d", level < 0 ? 0 : level > 100 ? 100 : level);
    return send_action(i, r, n, command, speaker, false, SN_RC, "SetVolume",
                       (const char *const[]){ "InstanceID", "0", "Channel", "Master", "DesiredVolume", value, NULL }, false);
}

static sb_status cmd_volume(sb_instance *i, char *r, size_t n, const char *speaker, int32_t level)
{
    return set_volume(i, r, n, "volume", speaker, level);
}

static sb_status step_volume(sb_instance *i, char *r, size_t n, const char *command, const char *speaker, int step)
{
    sn_speaker *s = sn_speaker_find(i, speaker);
    if (s == NULL) return refuse(r, n, SB_ERR_NOT_FOUND, "unknown speaker %s%s", speaker, NULL);
    if (s->volume < 0) return refuse(r, n, SB_ERR_BUSY, "the volume of %s is not known yet; try again%s", s->id, NULL);
    return set_volume(i, r, n, command, speaker, s->volume + step);
}

static sb_status cmd_volumeup(sb_instance *i, char *r, size_t n, const char *speaker, int32_t step)
{
    return step_volume(i, r, n, "volumeup", speaker, step);
}

static sb_status cmd_volumedown(sb_instance *i, char *r, size_t n, const char *speaker, int32_t step)
{
    return step_volume(i, r, n, "volumedown", speaker, -step);
}

static sb_status cmd_mute(sb_instance *i, char *r, size_t n, const char *speaker)
{
    return send_action(i, r, n, "mute", speaker, false, SN_RC, "SetMute",
                       (const char *const[]){ "InstanceID", "0", "Channel", "Master", "DesiredMute", "1", NULL }, false);
}

static sb_status cmd_unmute(sb_instance *i, char *r, size_t n, const char *speaker)
{
    return send_action(i, r, n, "unmute", speaker, false, SN_RC, "SetMute",
                       (const char *const[]){ "InstanceID", "0", "Channel", "Master", "DesiredMute", "0", NULL }, false);
}

static sb_status cmd_groupvolume(sb_instance *i, char *r, size_t n, const char *speaker, int32_t level)
{
    char value[16];
    snprintf(value, sizeof value, "%d", (int)level);
    return send_action(i, r, n, "groupvolume", speaker, true, SN_GRC, "SetGroupVolume",
                       (const char *const[]){ "InstanceID", "0", "DesiredVolume", value, NULL }, false);
}

static sb_status cmd_joingroup(sb_instance *i, char *r, size_t n, const char *speaker, const char *group)
{
    sn_speaker *s = sn_speaker_find(i, speaker), *t = sn_speaker_find(i, group);
    if (s == NULL) return refuse(r, n, SB_ERR_NOT_FOUND, "unknown speaker %s%s", speaker, NULL);
    if (t == NULL) return refuse(r, n, SB_ERR_NOT_FOUND, "unknown speaker %s to join%s", group, NULL);
    if (!s->desc.is_sonos || !t->desc.is_sonos) {
        return refuse(r, n, SB_ERR_UNSUPPORTED, "not supported by this device: grouping needs Sonos players (%s, %s)",
                      s->name, t->name);
    }
    sn_speaker *coordinator = sn_speaker_coordinator(i, t);
    if (coordinator == s) return refuse(r, n, SB_ERR_INVALID, "%s already coordinates %s's group", s->id, t->id);
    char uri[160];
    snprintf(uri, sizeof uri, "x-rincon:%s", coordinator->uuid);
    return send_action(i, r, n, "joingroup", speaker, false, SN_AVT, "SetAVTransportURI",
                       (const char *const[]){ "InstanceID", "0", "CurrentURI", uri, "CurrentURIMetaData", "", NULL }, false);
}

static sb_status cmd_leavegroup(sb_instance *i, char *r, size_t n, const char *speaker)
{
    sn_speaker *s = sn_speaker_find(i, speaker);
    if (s != NULL && !s->desc.is_sonos) {
        return refuse(r, n, SB_ERR_UNSUPPORTED, "not supported by this device: %s is not a Sonos player%s", s->name, NULL);
    }
    return send_action(i, r, n, "leavegroup", speaker, false, SN_AVT, "BecomeCoordinatorOfStandaloneGroup", instance0, false);
}

static sb_status cmd_setavtransporturi(sb_instance *i, char *r, size_t n, const char *speaker, const char *uri,
                                       const char *metadata, bool play)
{
    if (uri[0] == '\0') return refuse(r, n, SB_ERR_INVALID, "uri is empty%s%s", "", NULL);
    return send_action(i, r, n, "setavtransporturi", speaker, true, SN_AVT, "SetAVTransportURI",
                       (const char *const[]){ "InstanceID", "0", "CurrentURI", uri, "CurrentURIMetaData",
                                              metadata != NULL ? metadata : "", NULL }, play);
}

static sb_status cmd_playmode(sb_instance *i, char *r, size_t n, const char *speaker, const char *mode)
{
    static const char *const modes[] = { "NORMAL", "REPEAT_ALL", "REPEAT_ONE", "SHUFFLE_NOREPEAT", "SHUFFLE",
                                         "SHUFFLE_REPEAT_ONE" };
    char upper[32];
    size_t k = 0;
    for (; mode[k] != '\0' && k + 1 < sizeof upper; k++) upper[k] = (mode[k] >= 'a' && mode[k] <= 'z') ? (char)(mode[k] - 32) : mode[k];
    upper[k] = '\0';
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        if (strcmp(upper, modes[m]) == 0) {
            return send_action(i, r, n, "playmode", speaker, true, SN_AVT, "SetPlayMode",
                               (const char *const[]){ "InstanceID", "0", "NewPlayMode", modes[m], NULL }, false);
        }
    }
    return refuse(r, n, SB_ERR_INVALID, "unknown play mode \"%s\" (normal, repeat_all, repeat_one, shuffle_norepeat, "
                                        "shuffle, shuffle_repeat_one)%s", mode, NULL);
}

#define FN(f) ((void (*)(void))(f))

static const sb_command commands[] = {
    { sizeof(sb_command), "play", "speaker:str", "Play (the group's coordinator)", FN(cmd_play) },
    { sizeof(sb_command), "pause", "speaker:str", "Pause", FN(cmd_pause) },
    { sizeof(sb_command), "stop", "speaker:str", "Stop", FN(cmd_stop) },
    { sizeof(sb_command), "toggle", "speaker:str", "Pause when playing, play otherwise", FN(cmd_toggle) },
    { sizeof(sb_command), "next", "speaker:str", "Next track", FN(cmd_next) },
    { sizeof(sb_command), "previous", "speaker:str", "Previous track", FN(cmd_previous) },
    { sizeof(sb_command), "seek", "speaker:str position:str? track:u32=0",
      "Seek to a position (\"90\", \"1:30\", \"0:01:30\") or to a queue track", FN(cmd_seek) },
    { sizeof(sb_command), "volume", "speaker:str level:i32[0..100]", "Set the room's volume", FN(cmd_volume) },
    { sizeof(sb_command), "volumeup", "speaker:str step:i32[1..100]=5", "Raise the volume", FN(cmd_volumeup) },
    { sizeof(sb_command), "volumedown", "speaker:str step:i32[1..100]=5", "Lower the volume", FN(cmd_volumedown) },
    { sizeof(sb_command), "mute", "speaker:str", "Mute the room", FN(cmd_mute) },
    { sizeof(sb_command), "unmute", "speaker:str", "Unmute the room", FN(cmd_unmute) },
    { sizeof(sb_command), "groupvolume", "speaker:str level:i32[0..100]", "Set the whole group's volume (Sonos)",
      FN(cmd_groupvolume) },
    { sizeof(sb_command), "joingroup", "speaker:str group:str", "Join the group of another speaker (Sonos)",
      FN(cmd_joingroup) },
    { sizeof(sb_command), "leavegroup", "speaker:str", "Leave the group (Sonos)", FN(cmd_leavegroup) },
    { sizeof(sb_command), "setavtransporturi", "speaker:str uri:str metadata:str? play:bool=true",
      "Play a URI (with optional DIDL-Lite metadata)", FN(cmd_setavtransporturi) },
    { sizeof(sb_command), "playmode", "speaker:str mode:str",
      "normal, repeat_all, repeat_one, shuffle_norepeat, shuffle or shuffle_repeat_one", FN(cmd_playmode) },
};

static uint32_t commands_count(sb_instance *inst)
{
    (void)inst;
    return (uint32_t)(sizeof commands / sizeof commands[0]);
}

static const sb_command *commands_get(sb_instance *inst, uint32_t index)
{
    return index < commands_count(inst) ? &commands[index] : NULL;
}

const sb_plugin_commands sn_commands_table = {
    .struct_size = sizeof(sb_plugin_commands),
    .count = commands_count,
    .get = commands_get,
};

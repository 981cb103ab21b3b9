/* Group commands: join and leave a group, the group's volume (GroupRenderingControl on the
 * coordinator, which scales every member from a snapshot), and pause all / resume all over every
 * coordinator the bridge drives. */
#define _POSIX_C_SOURCE 200809L

#include "commands_group.h"
#include "commands_send.h"
#include "text.h"

#include <stdio.h>
#include <string.h>

#define FN(f) ((void (*)(void))(f))

static const char *const instance0[] = { "InstanceID", "0", NULL };

static sb_status cmd_groupvolume(sb_instance *i, char *r, size_t n, const char *speaker, int32_t level)
{
    char value[16];
    snprintf(value, sizeof value, "%d", (int)level);
    return sn_command_start(i, r, n, "groupvolume", speaker, SN_CMD_COORDINATOR, SN_GRC, "SetGroupVolume",
                            (const char *const[]){ "InstanceID", "0", "DesiredVolume", value, NULL }, NULL);
}

static void relative_done(sb_instance *inst, sn_command *c, sn_soap_result *result)
{
    sn_command_add_outputs(c, result); /* NewVolume */
    sn_command_finish(inst, c, true, NULL);
}

/* SnapshotGroupVolume first, so the members keep their proportions (SoCo's
 * group.set_relative_volume does the same); text[0] holds the adjustment. */
static void snapshot_taken(sb_instance *inst, sn_command *c, sn_soap_result *result)
{
    (void)result;
    c->then = relative_done;
    sn_command_send(inst, c, c->target, SN_GRC, "SetRelativeGroupVolume",
                    (const char *const[]){ "InstanceID", "0", "Adjustment", c->text[0] != NULL ? c->text[0] : "0", NULL });
}

static sb_status step_group(sb_instance *i, char *r, size_t n, const char *command, const char *speaker, int step)
{
    sn_command *c;
    sb_status status = sn_command_start(i, r, n, command, speaker, SN_CMD_COORDINATOR, SN_GRC, "SnapshotGroupVolume",
                                        instance0, &c);
    if (status != SB_OK) return status;
    char value[16];
    snprintf(value, sizeof value, "%d", step);
    sn_command_keep(c, 0, value);
    c->then = snapshot_taken;
    return SB_OK;
}

static sb_status cmd_groupvolumeup(sb_instance *i, char *r, size_t n, const char *speaker, int32_t step)
{
    return step_group(i, r, n, "groupvolumeup", speaker, step);
}

static sb_status cmd_groupvolumedown(sb_instance *i, char *r, size_t n, const char *speaker, int32_t step)
{
    return step_group(i, r, n, "groupvolumedown", speaker, -step);
}

static sb_status cmd_joingroup(sb_instance *i, char *r, size_t n, const char *speaker, const char *group)
{
    sn_speaker *s = sn_speaker_find(i, speaker), *t = sn_speaker_find(i, group);
    if (s == NULL) return sn_command_refuse(r, n, SB_ERR_NOT_FOUND, "unknown speaker %s", speaker);
    if (t == NULL) return sn_command_refuse(r, n, SB_ERR_NOT_FOUND, "unknown speaker %s to join", group);
    if (!s->desc.is_sonos || !t->desc.is_sonos) {
        return sn_command_refuse(r, n, SB_ERR_UNSUPPORTED, "not supported by this device: grouping needs Sonos players (%s, %s)",
                                 s->name, t->name);
    }
    sn_speaker *coordinator = sn_speaker_coordinator(i, t);
    if (coordinator == s) return sn_command_refuse(r, n, SB_ERR_INVALID, "%s already coordinates %s's group", s->id, t->id);
    char uri[160];
    snprintf(uri, sizeof uri, "x-rincon:%s", coordinator->uuid);
    return sn_command_start(i, r, n, "joingroup", speaker, SN_CMD_ROOM, SN_AVT, "SetAVTransportURI",
                            (const char *const[]){ "InstanceID", "0", "CurrentURI", uri, "CurrentURIMetaData", "", NULL }, NULL);
}

static sb_status cmd_leavegroup(sb_instance *i, char *r, size_t n, const char *speaker)
{
    return sn_command_start(i, r, n, "leavegroup", speaker, SN_CMD_ROOM | SN_CMD_SONOS_ONLY, SN_AVT,
                            "BecomeCoordinatorOfStandaloneGroup", instance0, NULL);
}

/* --- pause all / resume all -------------------------------------------------------------------
 * Bridge-wide: every room that leads its group (a standalone player or renderer is its own
 * coordinator). Pause all marks the ones it paused; resume all plays only those again, so music
 * someone had paused by hand stays paused. */

static bool leads(sb_instance *inst, sn_speaker *s)
{
    return s->described && s->online && !s->invisible && s->id[0] != '\0' && s->services[SN_AVT] != NULL &&
           sn_speaker_coordinator(inst, s) == s;
}

static void paused(sb_instance *inst, sn_command *c, sn_soap_result *result)
{
    (void)result;
    c->speaker->paused_by_pauseall = true;
    sn_command_finish(inst, c, true, NULL);
}

static void resumed(sb_instance *inst, sn_command *c, sn_soap_result *result)
{
    (void)result;
    c->speaker->paused_by_pauseall = false;
    sn_command_finish(inst, c, true, NULL);
}

/* Sends `action` to every leading room `pick` chooses; the reply lists them, and the rooms left
 * alone because an announcement plays there (pausing its clip would hold the announcement until
 * its timeout; the room's music comes back with the announcement's restore). */
static sb_status each_leader(sb_instance *inst, char *r, size_t n, const char *command, const char *action,
                             const char *const *args, bool (*pick)(sn_speaker *), sn_command_then then)
{
    sn_text to = { 0 }, busy = { 0 };
    size_t sent = 0;
    for (size_t k = 0; k < inst->speaker_count; k++) {
        sn_speaker *s = inst->speakers[k];
        if (!leads(inst, s) || !pick(s)) continue;
        if (s->announcement != NULL) {
            sn_text_puts(&busy, busy.len > 0 ? "," : "");
            sn_text_json_string(&busy, s->id);
            continue;
        }
        sn_command *c = sn_command_new(s, command);
        if (c == NULL) break;
        c->then = then;
        if (!sn_command_send(inst, c, s, SN_AVT, action, args)) continue; /* finished, with the reason */
        sn_text_puts(&to, to.len > 0 ? "," : "");
        sn_text_json_string(&to, s->id);
        sent++;
    }
    sb_status status;
    if (to.failed || busy.failed) {
        status = sn_command_refuse(r, n, SB_ERR_FAILED, "out of memory");
    } else if (to.len + busy.len + 64 < n) {
        status = sn_command_refuse(r, n, SB_OK, "{\"sent\":\"%s\",\"to\":[%s]%s%s%s}", action, sn_text_str(&to),
                                   busy.len > 0 ? ",\"announcing\":[" : "", sn_text_str(&busy), busy.len > 0 ? "]" : "");
    } else {
        /* 64 rooms with long ids would not fit: the count, and the rooms in the command events. */
        status = sn_command_refuse(r, n, SB_OK, "{\"sent\":\"%s\",\"count\":%zu}", action, sent);
    }
    sn_text_free(&to);
    sn_text_free(&busy);
    return status;
}

static bool playing(sn_speaker *s)
{
    bool on = strcmp(s->transport, "PLAYING") == 0 || strcmp(s->transport, "TRANSITIONING") == 0;
    /* A mark from an earlier pause all stays while the room is still paused (pause all twice must
     * not forget what the first one paused); a room started or stopped since is no longer ours. */
    if (!on && strcmp(s->transport, "PAUSED_PLAYBACK") != 0) s->paused_by_pauseall = false;
    return on;
}

static bool marked(sn_speaker *s)
{
    if (s->paused_by_pauseall && strcmp(s->transport, "PLAYING") == 0) s->paused_by_pauseall = false;
    return s->paused_by_pauseall;
}

static sb_status cmd_pauseall(sb_instance *i, char *r, size_t n)
{
    return each_leader(i, r, n, "pauseall", "Pause", instance0, playing, paused);
}

static sb_status cmd_resumeall(sb_instance *i, char *r, size_t n)
{
    return each_leader(i, r, n, "resumeall", "Play", (const char *const[]){ "InstanceID", "0", "Speed", "1", NULL },
                       marked, resumed);
}

const sb_command sn_group_commands[] = {
    { sizeof(sb_command), "groupvolume", "speaker:str level:i32[0..100]", "Set the whole group's volume (Sonos)",
      FN(cmd_groupvolume) },
    { sizeof(sb_command), "groupvolumeup", "speaker:str step:i32[1..100]=5",
      "Raise the group's volume, members in proportion (Sonos)", FN(cmd_groupvolumeup) },
    { sizeof(sb_command), "groupvolumedown", "speaker:str step:i32[1..100]=5",
      "Lower the group's volume, members in proportion (Sonos)", FN(cmd_groupvolumedown) },
    { sizeof(sb_command), "joingroup", "speaker:str group:str", "Join the group of another speaker (Sonos)",
      FN(cmd_joingroup) },
    { sizeof(sb_command), "leavegroup", "speaker:str", "Leave the group (Sonos)", FN(cmd_leavegroup) },
    { sizeof(sb_command), "pauseall", "", "Pause every group that is playing (bridge request)", FN(cmd_pauseall) },
    { sizeof(sb_command), "resumeall", "", "Play again the groups pauseall paused (bridge request)", FN(cmd_resumeall) },
};
const size_t sn_group_command_count = sizeof sn_group_commands / sizeof sn_group_commands[0];

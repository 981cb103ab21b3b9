/* Alarm commands. The household's alarms live in every player's AlarmClock service: `alarms` reads
 * them (ListAlarms) and sends the list in the `command` event; `alarm` changes one alarm's Enabled
 * by reading the list and writing the whole alarm back with UpdateAlarm, which takes every field
 * (node-sonos-ts's PatchAlarm does the same); `snooze` is AVTransport SnoozeAlarm on the room that
 * rings. */
#define _POSIX_C_SOURCE 200809L

#include "commands_alarms.h"
#include "commands_parse.h"
#include "commands_send.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>

#define FN(f) ((void (*)(void))(f))

/* Any online Sonos player answers for the household; the named one when there is a name. */
static const char *household_player(sb_instance *inst, const char *speaker)
{
    if (speaker != NULL) return speaker;
    for (size_t k = 0; k < inst->speaker_count; k++) {
        sn_speaker *s = inst->speakers[k];
        if (s->described && s->online && s->desc.is_sonos && s->services[SN_ALARM] != NULL && s->id[0] != '\0') return s->id;
    }
    return NULL;
}

static void alarm_json(sb_instance *inst, sn_text *t, const sn_alarm *a)
{
    sn_speaker *room = sn_speaker_by_uuid(inst, a->room_uuid);
    sn_text_printf(t, "{\"id\":%u,\"time\":", (unsigned)a->id);
    sn_text_json_string(t, a->start_time);
    sn_text_puts(t, ",\"duration\":");
    sn_text_json_string(t, a->duration);
    sn_text_puts(t, ",\"recurrence\":");
    sn_text_json_string(t, a->recurrence);
    sn_text_printf(t, ",\"enabled\":%s,\"speaker\":", a->enabled ? "true" : "false");
    /* The room's MQTT id when the bridge knows it, else the player's uuid. */
    sn_text_json_string(t, room != NULL && room->id[0] != '\0' ? room->id : a->room_uuid);
    sn_text_printf(t, ",\"volume\":%d,\"play_mode\":", a->volume);
    sn_text_json_string(t, a->play_mode);
    sn_text_puts(t, ",\"program\":");
    sn_text_json_string(t, a->program_uri);
    sn_text_printf(t, ",\"include_linked_zones\":%s}", a->include_linked_zones ? "true" : "false");
}

static void listed(sb_instance *inst, sn_command *c, sn_soap_result *result)
{
    sn_alarm *alarms;
    size_t count;
    char err[200];
    if (sn_alarms_parse(sn_soap_out(result, "CurrentAlarmList"), &alarms, &count, err, sizeof err) != 0) {
        sn_command_finish(inst, c, false, err);
        return;
    }
    sn_text_puts(&c->values, "\"alarms\":[");
    for (size_t k = 0; k < count; k++) {
        if (k > 0) sn_text_puts(&c->values, ",");
        alarm_json(inst, &c->values, &alarms[k]);
    }
    sn_text_puts(&c->values, "]");
    sn_alarms_free(alarms, count);
    sn_command_finish(inst, c, true, NULL);
}

static const char *const no_args[] = { NULL };

static sb_status cmd_alarms(sb_instance *i, char *r, size_t n, const char *speaker)
{
    const char *player = household_player(i, speaker);
    if (player == NULL) return sn_command_refuse(r, n, SB_ERR_NOT_FOUND, "no Sonos player is online to ask for the alarms");
    sn_command *c;
    sb_status status = sn_command_start(i, r, n, "alarms", player, SN_CMD_ROOM | SN_CMD_SONOS_ONLY, SN_ALARM, "ListAlarms",
                                        no_args, &c);
    if (status == SB_OK) c->then = listed;
    return status;
}

/* c->index: the alarm's id; c->step: 1 to enable, 0 to disable. */
static void update(sb_instance *inst, sn_command *c, sn_soap_result *result)
{
    sn_alarm *alarms;
    size_t count;
    char err[200];
    if (sn_alarms_parse(sn_soap_out(result, "CurrentAlarmList"), &alarms, &count, err, sizeof err) != 0) {
        sn_command_finish(inst, c, false, err);
        return;
    }
    const sn_alarm *a = NULL;
    sn_text ids = { 0 };
    for (size_t k = 0; k < count; k++) {
        if (alarms[k].id == c->index) a = &alarms[k];
        sn_text_printf(&ids, "%s%u", k > 0 ? ", " : "", (unsigned)alarms[k].id);
    }
    if (a == NULL) {
        char reason[300];
        snprintf(reason, sizeof reason, "no alarm with id %u (%s%s)", (unsigned)c->index,
                 count > 0 ? "there are: " : "there are none", sn_text_str(&ids));
        sn_text_free(&ids);
        sn_alarms_free(alarms, count);
        sn_command_finish(inst, c, false, reason);
        return;
    }
    sn_text_free(&ids);
    char id[16], volume[16];
    snprintf(id, sizeof id, "%u", (unsigned)a->id);
    snprintf(volume, sizeof volume, "%d", a->volume);
    sn_text_printf(&c->values, "\"id\":%u,\"enabled\":%s", (unsigned)a->id, c->step ? "true" : "false");
    sn_speaker *target = c->target;
    c->then = NULL;
    sn_command_send(inst, c, target, SN_ALARM, "UpdateAlarm",
                    (const char *const[]){ "ID", id, "StartLocalTime", a->start_time, "Duration", a->duration,
                                           "Recurrence", a->recurrence, "Enabled", c->step ? "1" : "0",
                                           "RoomUUID", a->room_uuid, "ProgramURI", a->program_uri,
                                           "ProgramMetaData", a->program_metadata, "PlayMode", a->play_mode,
                                           "Volume", volume, "IncludeLinkedZones", a->include_linked_zones ? "1" : "0",
                                           NULL });
    sn_alarms_free(alarms, count);
}

static sb_status cmd_alarm(sb_instance *i, char *r, size_t n, const char *speaker, uint32_t id, bool enabled)
{
    const char *player = household_player(i, speaker);
    if (player == NULL) return sn_command_refuse(r, n, SB_ERR_NOT_FOUND, "no Sonos player is online to change the alarm");
    sn_command *c;
    sb_status status = sn_command_start(i, r, n, "alarm", player, SN_CMD_ROOM | SN_CMD_SONOS_ONLY, SN_ALARM, "ListAlarms",
                                        no_args, &c);
    if (status != SB_OK) return status;
    c->index = id;
    c->step = enabled ? 1 : 0;
    c->then = update;
    return SB_OK;
}

/* The alarm rings on the room's group, whose coordinator takes the snooze. */
static sb_status cmd_snooze(sb_instance *i, char *r, size_t n, const char *speaker, uint32_t minutes)
{
    char duration[16];
    sn_minutes_hms(minutes, duration, sizeof duration);
    return sn_command_start(i, r, n, "snooze", speaker, SN_CMD_COORDINATOR | SN_CMD_SONOS_ONLY, SN_AVT, "SnoozeAlarm",
                            (const char *const[]){ "InstanceID", "0", "Duration", duration, NULL }, NULL);
}

const sb_command sn_alarms_commands[] = {
    { sizeof(sb_command), "alarms", "speaker:str?",
      "The household's alarms, in the command event's values (Sonos)", FN(cmd_alarms) },
    { sizeof(sb_command), "alarm", "speaker:str? id:u32 enabled:bool", "Switch an alarm on or off (Sonos)", FN(cmd_alarm) },
    { sizeof(sb_command), "snooze", "speaker:str minutes:u32[1..1439]", "Snooze the ringing alarm (Sonos)",
      FN(cmd_snooze) },
};
const size_t sn_alarms_command_count = sizeof sn_alarms_commands / sizeof sn_alarms_commands[0];

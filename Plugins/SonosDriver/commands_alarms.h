/* Alarm commands (list, enable or disable, snooze): the household's AlarmClock and the ringing
 * room's AVTransport. */
#ifndef SONOS_COMMANDS_ALARMS_H
#define SONOS_COMMANDS_ALARMS_H

#include <speakerbridge_plugin.h>

#include <stddef.h>

extern const sb_command sn_alarms_commands[];
extern const size_t sn_alarms_command_count;

#endif

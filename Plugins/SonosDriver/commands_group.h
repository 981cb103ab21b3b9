/* Group commands (join, leave, group volume) and the bridge-wide pause all / resume all. */
#ifndef SONOS_COMMANDS_GROUP_H
#define SONOS_COMMANDS_GROUP_H

#include <speakerbridge_plugin.h>

#include <stddef.h>

extern const sb_command sn_group_commands[];
extern const size_t sn_group_command_count;

#endif

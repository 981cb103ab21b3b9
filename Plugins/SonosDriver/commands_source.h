/* Source commands (a URI, line-in, TV, the queue, a Sonos favorite or playlist, queue add/clear):
 * what the room's group plays. */
#ifndef SONOS_COMMANDS_SOURCE_H
#define SONOS_COMMANDS_SOURCE_H

#include <speakerbridge_plugin.h>

#include <stddef.h>

extern const sb_command sn_source_commands[];
extern const size_t sn_source_command_count;

#endif

/* Transport commands (play, pause, seek, play mode, crossfade, sleep timer): AVTransport on the
 * room's group coordinator. */
#ifndef SONOS_COMMANDS_TRANSPORT_H
#define SONOS_COMMANDS_TRANSPORT_H

#include <speakerbridge_plugin.h>

#include <stddef.h>

extern const sb_command sn_transport_commands[];
extern const size_t sn_transport_command_count;

#endif

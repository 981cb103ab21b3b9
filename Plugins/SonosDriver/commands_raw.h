/* The raw `upnp` command: any action of any service a speaker describes, for what the typed
 * commands do not cover. */
#ifndef SONOS_COMMANDS_RAW_H
#define SONOS_COMMANDS_RAW_H

#include <speakerbridge_plugin.h>

#include <stddef.h>

extern const sb_command sn_raw_commands[];
extern const size_t sn_raw_command_count;

#endif

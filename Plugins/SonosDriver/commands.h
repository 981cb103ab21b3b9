/* Typed commands (`<speaker>/set`, plugin requests): the table the host reads. */
#ifndef SONOS_COMMANDS_H
#define SONOS_COMMANDS_H

#include <speakerbridge_plugin.h>

extern const sb_plugin_commands sn_commands_table;

#endif

/* Typed commands (`<speaker>/set`, plugin requests): one SOAP action each. */
#ifndef SONOS_COMMANDS_H
#define SONOS_COMMANDS_H

#include <speakerbridge_plugin.h>

extern const sb_plugin_commands sn_commands_table;

#endif

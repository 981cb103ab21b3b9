/* Typed commands (SB_EXT_COMMANDS): the table the host reads, made of each kind's commands
 * (commands_transport.c, commands_sound.c, commands_source.c, commands_group.c, commands_alarms.c,
 * commands_raw.c; commands_send.c is what they share). */
#include "commands.h"
#include "commands_alarms.h"
#include "commands_group.h"
#include "commands_raw.h"
#include "commands_sound.h"
#include "commands_source.h"
#include "commands_transport.h"

typedef struct kind {
    const sb_command *commands;
    const size_t *count;
} kind;

static const kind kinds[] = {
    { sn_transport_commands, &sn_transport_command_count },
    { sn_sound_commands, &sn_sound_command_count },
    { sn_source_commands, &sn_source_command_count },
    { sn_group_commands, &sn_group_command_count },
    { sn_alarms_commands, &sn_alarms_command_count },
    { sn_raw_commands, &sn_raw_command_count },
};

static uint32_t commands_count(sb_instance *inst)
{
    (void)inst;
    size_t n = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) n += *kinds[k].count;
    return (uint32_t)n;
}

static const sb_command *commands_get(sb_instance *inst, uint32_t index)
{
    (void)inst;
    size_t i = index;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        if (i < *kinds[k].count) return &kinds[k].commands[i];
        i -= *kinds[k].count;
    }
    return NULL;
}

const sb_plugin_commands sn_commands_table = {
    .struct_size = sizeof(sb_plugin_commands),
    .count = commands_count,
    .get = commands_get,
};

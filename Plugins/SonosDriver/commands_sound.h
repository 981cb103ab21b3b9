/* Sound commands (volume, mute, bass, treble, loudness, night mode, speech enhancement):
 * RenderingControl on the room itself. */
#ifndef SONOS_COMMANDS_SOUND_H
#define SONOS_COMMANDS_SOUND_H

#include <speakerbridge_plugin.h>

#include <stddef.h>

extern const sb_command sn_sound_commands[];
extern const size_t sn_sound_command_count;

#endif

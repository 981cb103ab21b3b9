/* Sound commands: RenderingControl on the room itself (each room of a group keeps its own volume
 * and EQ). Bass, treble, loudness and the home-theater EQ are Sonos actions (SetBass, SetTreble,
 * SetLoudness, SetEQ with EQType NightMode / DialogLevel, as node-sonos-ts documents them). */
#define _POSIX_C_SOURCE 200809L

#include "commands_sound.h"
#include "commands_send.h"

#include <stdio.h>

#define FN(f) ((void (*)(void))(f))

static sb_status rc(sb_instance *i, char *r, size_t n, const char *command, const char *speaker, int flags,
                    const char *action, const char *const *args)
{
    return sn_command_start(i, r, n, command, speaker, flags, SN_RC, action, args, NULL);
}

static sb_status set_volume(sb_instance *i, char *r, size_t n, const char *command, const char *speaker, int level)
{
    sn_speaker *s = sn_speaker_find(i, speaker);
    if (s != NULL && s->output_fixed) {
        return sn_command_refuse(r, n, SB_ERR_UNSUPPORTED, "%s has a fixed volume output (set on the amplifier)", s->name);
    }
    char value[16];
    snprintf(value, sizeof value, "%d", level < 0 ? 0 : level > 100 ? 100 : level);
    return rc(i, r, n, command, speaker, SN_CMD_ROOM, "SetVolume",
              (const char *const[]){ "InstanceID", "0", "Channel", "Master", "DesiredVolume", value, NULL });
}

static sb_status cmd_volume(sb_instance *i, char *r, size_t n, const char *speaker, int32_t level)
{
    return set_volume(i, r, n, "volume", speaker, level);
}

static sb_status step_volume(sb_instance *i, char *r, size_t n, const char *command, const char *speaker, int step)
{
    sn_speaker *s = sn_speaker_find(i, speaker);
    if (s == NULL) return sn_command_refuse(r, n, SB_ERR_NOT_FOUND, "unknown speaker %s", speaker);
    if (s->volume < 0) return sn_command_refuse(r, n, SB_ERR_BUSY, "the volume of %s is not known yet; try again", s->id);
    return set_volume(i, r, n, command, speaker, s->volume + step);
}

static sb_status cmd_volumeup(sb_instance *i, char *r, size_t n, const char *speaker, int32_t step)
{
    return step_volume(i, r, n, "volumeup", speaker, step);
}

static sb_status cmd_volumedown(sb_instance *i, char *r, size_t n, const char *speaker, int32_t step)
{
    return step_volume(i, r, n, "volumedown", speaker, -step);
}

static sb_status cmd_mute(sb_instance *i, char *r, size_t n, const char *speaker)
{
    return rc(i, r, n, "mute", speaker, SN_CMD_ROOM, "SetMute",
              (const char *const[]){ "InstanceID", "0", "Channel", "Master", "DesiredMute", "1", NULL });
}

static sb_status cmd_unmute(sb_instance *i, char *r, size_t n, const char *speaker)
{
    return rc(i, r, n, "unmute", speaker, SN_CMD_ROOM, "SetMute",
              (const char *const[]){ "InstanceID", "0", "Channel", "Master", "DesiredMute", "0", NULL });
}

/* Night mode and speech enhancement are home-theater settings: only soundbars take them, and
 * only soundbars describe an HTControl service (node-sonos-ts's service docs: HTControl on the
 * Beam and Playbar, no other model). Asked of anything else, it is refused before sending. */
static sb_status eq(sb_instance *i, char *r, size_t n, const char *command, const char *speaker, const char *type, bool on)
{
    sn_speaker *s = sn_speaker_find(i, speaker);
    if (s != NULL && s->desc.is_sonos && s->services[SN_HT] == NULL) {
        return sn_command_refuse(r, n, SB_ERR_UNSUPPORTED, "not supported by this device: %s is not a soundbar "
                                                           "(no HTControl service)", s->name);
    }
    return rc(i, r, n, command, speaker, SN_CMD_SONOS_ONLY, "SetEQ",
              (const char *const[]){ "InstanceID", "0", "EQType", type, "DesiredValue", on ? "1" : "0", NULL });
}

static sb_status cmd_nightmode(sb_instance *i, char *r, size_t n, const char *speaker, bool on)
{
    return eq(i, r, n, "nightmode", speaker, "NightMode", on);
}

static sb_status cmd_speechenhancement(sb_instance *i, char *r, size_t n, const char *speaker, bool on)
{
    return eq(i, r, n, "speechenhancement", speaker, "DialogLevel", on);
}

static sb_status cmd_bass(sb_instance *i, char *r, size_t n, const char *speaker, int32_t level)
{
    char value[16];
    snprintf(value, sizeof value, "%d", (int)level);
    return rc(i, r, n, "bass", speaker, SN_CMD_SONOS_ONLY, "SetBass",
              (const char *const[]){ "InstanceID", "0", "DesiredBass", value, NULL });
}

static sb_status cmd_treble(sb_instance *i, char *r, size_t n, const char *speaker, int32_t level)
{
    char value[16];
    snprintf(value, sizeof value, "%d", (int)level);
    return rc(i, r, n, "treble", speaker, SN_CMD_SONOS_ONLY, "SetTreble",
              (const char *const[]){ "InstanceID", "0", "DesiredTreble", value, NULL });
}

static sb_status cmd_loudness(sb_instance *i, char *r, size_t n, const char *speaker, bool on)
{
    return rc(i, r, n, "loudness", speaker, SN_CMD_SONOS_ONLY, "SetLoudness",
              (const char *const[]){ "InstanceID", "0", "Channel", "Master", "DesiredLoudness", on ? "1" : "0", NULL });
}

const sb_command sn_sound_commands[] = {
    { sizeof(sb_command), "volume", "speaker:str level:i32[0..100]", "Set the room's volume", FN(cmd_volume) },
    { sizeof(sb_command), "volumeup", "speaker:str step:i32[1..100]=5", "Raise the volume", FN(cmd_volumeup) },
    { sizeof(sb_command), "volumedown", "speaker:str step:i32[1..100]=5", "Lower the volume", FN(cmd_volumedown) },
    { sizeof(sb_command), "mute", "speaker:str", "Mute the room", FN(cmd_mute) },
    { sizeof(sb_command), "unmute", "speaker:str", "Unmute the room", FN(cmd_unmute) },
    { sizeof(sb_command), "nightmode", "speaker:str on:bool", "Night mode on a soundbar (Sonos)", FN(cmd_nightmode) },
    { sizeof(sb_command), "speechenhancement", "speaker:str on:bool", "Speech enhancement on a soundbar (Sonos)",
      FN(cmd_speechenhancement) },
    { sizeof(sb_command), "bass", "speaker:str level:i32[-10..10]", "The room's bass, -10 to 10 (Sonos)", FN(cmd_bass) },
    { sizeof(sb_command), "treble", "speaker:str level:i32[-10..10]", "The room's treble, -10 to 10 (Sonos)",
      FN(cmd_treble) },
    { sizeof(sb_command), "loudness", "speaker:str on:bool", "Loudness on or off (Sonos)", FN(cmd_loudness) },
};
const size_t sn_sound_command_count = sizeof sn_sound_commands / sizeof sn_sound_commands[0];

/* Transport commands: AVTransport actions on the room's group coordinator (a group member would
 * answer 800, or leave its group on SetAVTransportURI). */
#define _POSIX_C_SOURCE 200809L

#include "commands_transport.h"
#include "commands_parse.h"
#include "commands_send.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FN(f) ((void (*)(void))(f))
#define TO_COORDINATOR SN_CMD_COORDINATOR

static const char *const instance0[] = { "InstanceID", "0", NULL };
static const char *const play_args[] = { "InstanceID", "0", "Speed", "1", NULL };

static sb_status avt(sb_instance *i, char *r, size_t n, const char *command, const char *speaker, int flags,
                     const char *action, const char *const *args)
{
    return sn_command_start(i, r, n, command, speaker, flags, SN_AVT, action, args, NULL);
}

static sb_status cmd_play(sb_instance *i, char *r, size_t n, const char *speaker)
{
    return avt(i, r, n, "play", speaker, TO_COORDINATOR, "Play", play_args);
}

static sb_status cmd_pause(sb_instance *i, char *r, size_t n, const char *speaker)
{
    return avt(i, r, n, "pause", speaker, TO_COORDINATOR, "Pause", instance0);
}

static sb_status cmd_stop(sb_instance *i, char *r, size_t n, const char *speaker)
{
    return avt(i, r, n, "stop", speaker, TO_COORDINATOR, "Stop", instance0);
}

static sb_status cmd_toggle(sb_instance *i, char *r, size_t n, const char *speaker)
{
    sn_speaker *s = sn_speaker_find(i, speaker);
    sn_speaker *c = s != NULL ? sn_speaker_coordinator(i, s) : NULL;
    bool playing = c != NULL && strcmp(c->transport, "PLAYING") == 0;
    return playing ? avt(i, r, n, "toggle", speaker, TO_COORDINATOR, "Pause", instance0)
                   : avt(i, r, n, "toggle", speaker, TO_COORDINATOR, "Play", play_args);
}

static sb_status cmd_next(sb_instance *i, char *r, size_t n, const char *speaker)
{
    return avt(i, r, n, "next", speaker, TO_COORDINATOR, "Next", instance0);
}

static sb_status cmd_previous(sb_instance *i, char *r, size_t n, const char *speaker)
{
    return avt(i, r, n, "previous", speaker, TO_COORDINATOR, "Previous", instance0);
}

/* "90", "1:30" or "0:01:30" -> "0:01:30" (REL_TIME wants H:MM:SS). */
static bool rel_time(const char *in, char *out, size_t size)
{
    unsigned long parts[3] = { 0, 0, 0 };
    int count = 0;
    const char *p = in;
    while (*p != '\0' && count < 3) {
        char *end;
        unsigned long v = strtoul(p, &end, 10);
        if (end == p) return false;
        parts[count++] = v;
        if (*end == ':') p = end + 1;
        else if (*end == '\0') p = end;
        else return false;
    }
    if (*p != '\0' || count == 0) return false;
    unsigned long seconds = count == 1 ? parts[0] : count == 2 ? parts[0] * 60 + parts[1] : parts[0] * 3600 + parts[1] * 60 + parts[2];
    if (seconds > 99 * 3600) return false;
    snprintf(out, size, "%lu:%02lu:%02lu", seconds / 3600, seconds / 60 % 60, seconds % 60);
    return true;
}

static sb_status cmd_seek(sb_instance *i, char *r, size_t n, const char *speaker, const char *position, uint32_t track)
{
    char target[32];
    if (track > 0) {
        snprintf(target, sizeof target, "%u", (unsigned)track);
        return avt(i, r, n, "seek", speaker, TO_COORDINATOR, "Seek",
                   (const char *const[]){ "InstanceID", "0", "Unit", "TRACK_NR", "Target", target, NULL });
    }
    if (position == NULL || !rel_time(position, target, sizeof target)) {
        return sn_command_refuse(r, n, SB_ERR_INVALID, "give position (\"90\", \"1:30\" or \"0:01:30\") or track (1…)");
    }
    return avt(i, r, n, "seek", speaker, TO_COORDINATOR, "Seek",
               (const char *const[]){ "InstanceID", "0", "Unit", "REL_TIME", "Target", target, NULL });
}

static sb_status cmd_playmode(sb_instance *i, char *r, size_t n, const char *speaker, const char *mode)
{
    static const char *const modes[] = { "NORMAL", "REPEAT_ALL", "REPEAT_ONE", "SHUFFLE_NOREPEAT", "SHUFFLE",
                                         "SHUFFLE_REPEAT_ONE" };
    char upper[32];
    size_t k = 0;
    for (; mode[k] != '\0' && k + 1 < sizeof upper; k++) upper[k] = (mode[k] >= 'a' && mode[k] <= 'z') ? (char)(mode[k] - 32) : mode[k];
    upper[k] = '\0';
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        if (strcmp(upper, modes[m]) == 0) {
            return avt(i, r, n, "playmode", speaker, TO_COORDINATOR, "SetPlayMode",
                       (const char *const[]){ "InstanceID", "0", "NewPlayMode", modes[m], NULL });
        }
    }
    return sn_command_refuse(r, n, SB_ERR_INVALID, "unknown play mode \"%s\" (normal, repeat_all, repeat_one, "
                                                   "shuffle_norepeat, shuffle, shuffle_repeat_one)", mode);
}

/* Crossfade belongs to the group's playback (node-sonos-ts: a member answers 800). */
static sb_status cmd_crossfade(sb_instance *i, char *r, size_t n, const char *speaker, bool on)
{
    return avt(i, r, n, "crossfade", speaker, TO_COORDINATOR | SN_CMD_SONOS_ONLY, "SetCrossfadeMode",
               (const char *const[]){ "InstanceID", "0", "CrossfadeMode", on ? "1" : "0", NULL });
}

/* ConfigureSleepTimer takes hh:mm:ss, or "" to cancel (node-sonos-ts AVTransport docs); the
 * coordinator's timer stops the whole group. */
static sb_status cmd_sleep(sb_instance *i, char *r, size_t n, const char *speaker, uint32_t minutes)
{
    char duration[16] = "";
    if (minutes > 0) sn_minutes_hms(minutes, duration, sizeof duration);
    return avt(i, r, n, "sleep", speaker, TO_COORDINATOR | SN_CMD_SONOS_ONLY, "ConfigureSleepTimer",
               (const char *const[]){ "InstanceID", "0", "NewSleepTimerDuration", duration, NULL });
}

const sb_command sn_transport_commands[] = {
    { sizeof(sb_command), "play", "speaker:str", "Play (the group's coordinator)", FN(cmd_play) },
    { sizeof(sb_command), "pause", "speaker:str", "Pause", FN(cmd_pause) },
    { sizeof(sb_command), "stop", "speaker:str", "Stop", FN(cmd_stop) },
    { sizeof(sb_command), "toggle", "speaker:str", "Pause when playing, play otherwise", FN(cmd_toggle) },
    { sizeof(sb_command), "next", "speaker:str", "Next track", FN(cmd_next) },
    { sizeof(sb_command), "previous", "speaker:str", "Previous track", FN(cmd_previous) },
    { sizeof(sb_command), "seek", "speaker:str position:str? track:u32=0",
      "Seek to a position (\"90\", \"1:30\", \"0:01:30\") or to a queue track", FN(cmd_seek) },
    { sizeof(sb_command), "playmode", "speaker:str mode:str",
      "normal, repeat_all, repeat_one, shuffle_norepeat, shuffle or shuffle_repeat_one", FN(cmd_playmode) },
    { sizeof(sb_command), "crossfade", "speaker:str on:bool", "Crossfade between tracks on or off (Sonos)",
      FN(cmd_crossfade) },
    { sizeof(sb_command), "sleep", "speaker:str minutes:u32[0..1439]",
      "Stop the group after this many minutes; 0 cancels the sleep timer (Sonos)", FN(cmd_sleep) },
};
const size_t sn_transport_command_count = sizeof sn_transport_commands / sizeof sn_transport_commands[0];

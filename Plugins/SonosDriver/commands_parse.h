/* What the commands read from and write for Sonos services, as pure functions: the DIDL-Lite of a
 * ContentDirectory Browse (Sonos favorites FV:2, Sonos playlists SQ:), the alarm list of AlarmClock
 * ListAlarms, and the hh:mm:ss durations AVTransport wants. */
#ifndef SONOS_COMMANDS_PARSE_H
#define SONOS_COMMANDS_PARSE_H

#include "text.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sn_didl_entry {
    char id[128];          /* "FV:2/12", "SQ:3" */
    char title[256];
    char uri[1024];        /* <res> */
    char *metadata;        /* r:resMD of a favorite (DIDL-Lite to play it with); NULL when none */
    bool container;        /* a playlist or album: it is played through the queue, not set as the URI */
} sn_didl_entry;

/* Looks for the entry titled `title` (trimmed, ASCII case ignored) among the items and containers
 * of a Browse Result. 1: found (`out` filled; sn_didl_entry_free it). 0: not there; the titles
 * seen are appended to `seen` (may be NULL) as a JSON-ish list "a", "b". -1: the document is
 * unreadable (reason in `err`). `*returned` (may be NULL) gets the number of entries read. */
int sn_didl_find(const char *didl, const char *title, sn_didl_entry *out, sn_text *seen, size_t *returned,
                 char *err, size_t err_size);
void sn_didl_entry_free(sn_didl_entry *e);
/* DIDL-Lite for enqueuing a Sonos playlist (SQ:n), the shape SoCo's DidlPlaylistContainer has. */
void sn_didl_playlist(sn_text *out, const sn_didl_entry *e);

/* One alarm of AlarmClock ListAlarms (the attributes of <Alarm>; StartTime there is the
 * StartLocalTime UpdateAlarm takes back, as node-sonos-ts's PatchAlarm does it). */
typedef struct sn_alarm {
    uint32_t id;
    char start_time[16];
    char duration[16];
    char recurrence[64];
    bool enabled;
    char room_uuid[128];
    char program_uri[512];
    char *program_metadata;  /* "" when none, never NULL after a successful parse */
    char play_mode[32];
    int volume;
    bool include_linked_zones;
} sn_alarm;

/* The alarms of a CurrentAlarmList document ("" is none). 0 with `*alarms` (free with
 * sn_alarms_free) and `*count`, or -1 with a reason. */
int sn_alarms_parse(const char *xml, sn_alarm **alarms, size_t *count, char *err, size_t err_size);
void sn_alarms_free(sn_alarm *alarms, size_t count);

/* 90 minutes -> "01:30:00" (hh:mm:ss, as ConfigureSleepTimer and SnoozeAlarm take it). */
void sn_minutes_hms(uint32_t minutes, char *out, size_t size);

#endif

/* One typed command's exchange with the players: which player takes it, the actions it sends one
 * after another, and the verdict published as the plugin event `command`. Every commands_*.c file
 * builds its commands on this. */
#ifndef SONOS_COMMANDS_SEND_H
#define SONOS_COMMANDS_SEND_H

#include "instance.h"
#include "soap_call.h"

#include <stdarg.h>

/* Where a command goes and who may take it. */
enum {
    SN_CMD_ROOM = 0,            /* the room itself (volume, EQ) */
    SN_CMD_COORDINATOR = 1,     /* the room's group coordinator (transport, queue, group volume) */
    SN_CMD_SONOS_ONLY = 2,      /* refused on plain UPnP renderers before anything is sent */
};

typedef struct sn_command sn_command;
/* Runs when an action of the command succeeded. It sends the next action (sn_command_send) or
 * finishes the command (sn_command_finish); either way the command is its own until then. */
typedef void (*sn_command_then)(sb_instance *inst, sn_command *c, sn_soap_result *result);

struct sn_command {
    sn_speaker *speaker;     /* the room the command names: "speaker" in the event */
    sn_speaker *target;      /* where the last action went */
    char name[32];
    char action[64];         /* the action in flight */
    sn_command_then then;    /* NULL: done once the action in flight succeeded */
    int tolerated;           /* a UPnP fault code that counts as success for the action in flight */
    sn_text values;          /* members of the event's "values" object ("" when none) */
    int step;                /* the command's own progress */
    uint32_t index;
    char *text[3];           /* the command's own strings (freed with it) */
};

/* Writes the reason into `reply` and returns `status`: a command refused before anything was sent. */
sb_status sn_command_refuse(char *reply, size_t reply_size, sb_status status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The room `key` names, online; NULL with the refusal in `reply` and `*status`. */
sn_speaker *sn_command_room(sb_instance *inst, const char *key, char *reply, size_t reply_size, sb_status *status);
/* The checks every command shares, then its first action: the room is known and online; with
 * SN_CMD_SONOS_ONLY it is a Sonos player; the target (the room or its coordinator) has the
 * service. The reply says what was sent and to whom ({"sent":"Pause","to":"kitchen"}). `out`
 * (may be NULL) gets the running command, to set its `then`, texts or tolerated code: the answer
 * comes later on this same executor, never before this returns. */
sb_status sn_command_start(sb_instance *inst, char *reply, size_t reply_size, const char *name, const char *speaker,
                           int flags, sn_service_kind kind, const char *action, const char *const *args,
                           sn_command **out);
/* A command that sends nothing yet (commands over several rooms); NULL when out of memory. */
sn_command *sn_command_new(sn_speaker *speaker, const char *name);
/* Sends the next action of a running command; false when it could not start, and then the command
 * is finished with that reason (do not touch it afterwards). */
bool sn_command_send(sb_instance *inst, sn_command *c, sn_speaker *target, sn_service_kind kind, const char *action,
                     const char *const *args);
/* Publishes the verdict {"speaker","command","ok","reason"[,"values"]} and frees the command. */
void sn_command_finish(sb_instance *inst, sn_command *c, bool ok, const char *reason);
/* Adds every output argument of the answer to the event's values, as strings (what the device
 * said, unchanged). */
void sn_command_add_outputs(sn_command *c, const sn_soap_result *result);
/* Replaces text slot `i` with a copy of `value`; false when out of memory. */
bool sn_command_keep(sn_command *c, int i, const char *value);

#endif

/* The lifecycle hub: what happens to a speaker, told to whoever cares. The model (speakers.c) and
 * the feature modules publish events here instead of calling each other; each feature module
 * registers its handlers at create (driver.c). So a module only ever calls modules below it, and
 * a new feature needs no edit in the modules that notice the change.
 *
 * Handlers run at once, in the order they were registered, on the instance's executor. driver.c
 * registers the state publisher last, so the state it publishes is the one after every other
 * module has reacted. */
#ifndef SONOS_LIFECYCLE_H
#define SONOS_LIFECYCLE_H

#include <speakerbridge_plugin.h>

#include <stdbool.h>
#include <stddef.h>

typedef struct sn_speaker sn_speaker;

typedef enum {
    SN_EV_ONLINE,            /* it went online (described, and a room) */
    SN_EV_OFFLINE,           /* it went offline (byebye, no answer, its description went bad) */
    SN_EV_MOVED,             /* it answers from a new location (DHCP); it may be online or not */
    SN_EV_UNREACHABLE,       /* a request to it got no answer: is it still there? */
    SN_EV_TRANSPORT_CHANGED, /* an event changed its transport state (speaker->transport) */
    SN_EV_NEEDS_TOPOLOGY,    /* a Sonos player was described while offline: its household's
                              * topology says whether it is a room or a bonded satellite */
    SN_EV_TOPOLOGY_BY_EVENTS, /* its household answers no GetZoneGroupState (501: households of
                              * about 20 players and more): its ZoneGroupTopology events, whose
                              * first carries the whole topology, have to place it */
    SN_EV_FORGOTTEN,         /* it leaves the speaker table (offline and unseen for forget_after,
                              * its slot wanted by a new device): drop every reference to it; the
                              * record is freed right after the handlers ran */
    SN_EV_COUNT
} sn_event;

/* `why` is a reason for logs (may be ""); `user` is what was registered with the handler. */
typedef void (*sn_event_fn)(sb_instance *inst, sn_speaker *s, const char *why, void *user);

#define SN_MAX_HANDLERS 24

typedef struct sn_lifecycle {
    struct {
        sn_event event;
        sn_event_fn fn;
        void *user;
    } handlers[SN_MAX_HANDLERS];
    size_t count;
} sn_lifecycle;

/* False when the table is full (a build error in practice: the driver registers a fixed set). */
bool sn_lifecycle_on(sn_lifecycle *hub, sn_event event, sn_event_fn fn, void *user);
/* Runs every handler of `event`, in registration order. */
void sn_lifecycle_emit(const sn_lifecycle *hub, sb_instance *inst, sn_event event, sn_speaker *s, const char *why);

#endif

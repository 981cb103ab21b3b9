/* The lifecycle hub (lifecycle.h): a fixed table of handlers, run in registration order. */
#include "lifecycle.h"

bool sn_lifecycle_on(sn_lifecycle *hub, sn_event event, sn_event_fn fn, void *user)
{
    if (hub->count >= SN_MAX_HANDLERS || fn == NULL || event >= SN_EV_COUNT) return false;
    hub->handlers[hub->count].event = event;
    hub->handlers[hub->count].fn = fn;
    hub->handlers[hub->count].user = user;
    hub->count++;
    return true;
}

void sn_lifecycle_emit(const sn_lifecycle *hub, sb_instance *inst, sn_event event, sn_speaker *s, const char *why)
{
    /* The table is fixed after create: a handler cannot register another while this runs. */
    for (size_t i = 0; i < hub->count; i++) {
        if (hub->handlers[i].event == event) hub->handlers[i].fn(inst, s, why != NULL ? why : "", hub->handlers[i].user);
    }
}


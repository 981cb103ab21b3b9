/* The lifecycle hub alone: handlers run for their event only, in registration order, with the
 * speaker, the reason and their own pointer; a full table refuses more. */
#include "check.h"
#include "lifecycle.h"

static char calls[256];

static void record(sb_instance *inst, sn_speaker *s, const char *why, void *user)
{
    (void)inst;
    (void)s;
    size_t n = strlen(calls);
    snprintf(calls + n, sizeof calls - n, "%s:%s;", (const char *)user, why);
}

int main(void)
{
    sn_lifecycle hub = { 0 };
    sn_speaker *speaker = (sn_speaker *)&hub; /* never dereferenced by the hub */
    CHECK(sn_lifecycle_on(&hub, SN_EV_ONLINE, record, "a"));
    CHECK(sn_lifecycle_on(&hub, SN_EV_OFFLINE, record, "b"));
    CHECK(sn_lifecycle_on(&hub, SN_EV_ONLINE, record, "c"));

    sn_lifecycle_emit(&hub, NULL, SN_EV_ONLINE, speaker, "found");
    CHECK_STR(calls, "a:found;c:found;");

    calls[0] = '\0';
    sn_lifecycle_emit(&hub, NULL, SN_EV_OFFLINE, speaker, NULL);
    CHECK_STR(calls, "b:;");

    calls[0] = '\0';
    sn_lifecycle_emit(&hub, NULL, SN_EV_MOVED, speaker, "x");
    CHECK_STR(calls, "");

    CHECK(!sn_lifecycle_on(&hub, SN_EV_COUNT, record, "bad"));
    CHECK(!sn_lifecycle_on(&hub, SN_EV_ONLINE, NULL, "bad"));
    while (hub.count < SN_MAX_HANDLERS) CHECK(sn_lifecycle_on(&hub, SN_EV_UNREACHABLE, record, "u"));
    CHECK(!sn_lifecycle_on(&hub, SN_EV_UNREACHABLE, record, "one too many"));
    return CHECK_DONE("test_lifecycle");
}

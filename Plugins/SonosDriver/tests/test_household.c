/* The household (household.c over state, discovery, soap_call and the model, with a fake host): a
 * Sonos player placed by its household's topology before it goes online; satellites that are no
 * rooms. */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "discovery.h"
#include "fake_devices.h"
#include "household.h"
#include "state.h"

static fake_host f;

static bool has(const char *text, const char *part) { return strstr(text, part) != NULL; }

static const char TOPOLOGY[] =
    "<ZoneGroupState><ZoneGroups><ZoneGroup Coordinator=\"RINCON_A\" ID=\"RINCON_A:1\">"
    "<ZoneGroupMember UUID=\"RINCON_A\" Location=\"http://10.0.0.9:1400/xml/device_description.xml\" ZoneName=\"Kitchen\"/>"
    "<ZoneGroupMember UUID=\"RINCON_B\" Location=\"http://10.0.0.10:1400/xml/device_description.xml\" ZoneName=\"Hall\"/>"
    "<ZoneGroupMember UUID=\"RINCON_S\" Location=\"http://10.0.0.11:1400/xml/device_description.xml\" ZoneName=\"Kitchen\" Invisible=\"1\"/>"
    "</ZoneGroup></ZoneGroups></ZoneGroupState>";

static void test_topology(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    sn_discovery_init(inst);
    sn_household_init(inst);
    sn_state_init(inst);
    fake_listen(&f, inst);
    sn_speaker *a = fake_speaker(inst, "RINCON_A", "Kitchen", "10.0.0.9", true);
    CHECK(!a->online);
    fake_request *r = fake_http_find(&f, "POST", "10.0.0.9:1400/ZoneGroupTopology/Control");
    CHECK(r != NULL && strcmp(fake_soap_action(r), "GetZoneGroupState") == 0);
    if (r == NULL) return;
    fake_soap_answer(&f, r, (const char *const[]){ "ZoneGroupState", TOPOLOGY, NULL });
    CHECK(a->online);
    CHECK_STR(a->id, "kitchen");
    CHECK(has(f.events, "online:kitchen:found;"));
    CHECK_STR(a->coordinator, "RINCON_A");
    CHECK(has(f.last_state, "\"group\":{\"coordinator\":\"kitchen\",\"members\":[\"kitchen\"]}"));
    /* The topology names the household's other players: one static address finds them all. */
    CHECK(fake_http_find(&f, "GET", "http://10.0.0.10:1400/xml/device_description.xml") != NULL);
    /* Satellites are not rooms: not described for their own sake. */
    CHECK(fake_http_find(&f, "GET", "10.0.0.11") == NULL);

    /* A bonded satellite found some other way stays out of the list. */
    sn_speaker *sat = fake_speaker(inst, "RINCON_S", "Kitchen", "10.0.0.11", true);
    r = fake_http_find(&f, "POST", "10.0.0.11:1400/ZoneGroupTopology/Control");
    CHECK(r != NULL);
    if (r != NULL) fake_soap_answer(&f, r, (const char *const[]){ "ZoneGroupState", TOPOLOGY, NULL });
    CHECK(sat->invisible && !sat->online);
    CHECK(inst->visible_count == 1);

    /* A player that does not answer its topology request is asked again later, not guessed. */
    sn_speaker *b = fake_speaker(inst, "RINCON_C", "Den", "10.0.0.12", true);
    r = fake_http_find(&f, "POST", "10.0.0.12:1400/ZoneGroupTopology/Control");
    if (r != NULL) fake_http_fail(&f, r, "timed out");
    CHECK(!b->online && !b->awaiting_topology);
    CHECK(fake_logged(&f, "Den did not answer its topology request; trying again later"));
    fake_instance_free(inst);
}

int main(void)
{
    test_topology();
    return CHECK_DONE("test_household");
}

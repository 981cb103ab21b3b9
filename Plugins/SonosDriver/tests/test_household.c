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

/* A stereo pair (the right speaker Invisible, ChannelMapSet on both: node-sonos-ts's
 * zone-group.GroupState.ChannelMapSet.stereo.xml), a Boost (IsZoneBridge), and a player the
 * household lists under VanishedDevices with a reason. */
static const char BIG_HOUSEHOLD[] =
    "<ZoneGroupState><ZoneGroups>"
    "<ZoneGroup Coordinator=\"RINCON_L\" ID=\"RINCON_L:7\">"
    "<ZoneGroupMember UUID=\"RINCON_L\" Location=\"http://10.0.0.20:1400/xml/device_description.xml\" ZoneName=\"Lounge\" "
    "ChannelMapSet=\"RINCON_L:LF,LF;RINCON_R:RF,RF\"/>"
    "<ZoneGroupMember UUID=\"RINCON_R\" Location=\"http://10.0.0.21:1400/xml/device_description.xml\" ZoneName=\"Lounge\" "
    "ChannelMapSet=\"RINCON_L:LF,LF;RINCON_R:RF,RF\" Invisible=\"1\"/>"
    "</ZoneGroup>"
    "<ZoneGroup Coordinator=\"RINCON_X\" ID=\"RINCON_X:2\">"
    "<ZoneGroupMember UUID=\"RINCON_X\" Location=\"http://10.0.0.22:1400/xml/device_description.xml\" ZoneName=\"BOOST\" "
    "IsZoneBridge=\"1\"/></ZoneGroup>"
    "<ZoneGroup Coordinator=\"RINCON_K\" ID=\"RINCON_K:3\">"
    "<ZoneGroupMember UUID=\"RINCON_K\" Location=\"http://10.0.0.23:1400/xml/device_description.xml\" ZoneName=\"Kitchen\"/>"
    "</ZoneGroup></ZoneGroups>"
    "<VanishedDevices><Device UUID=\"RINCON_G\" ZoneName=\"Garden\" Reason=\"powered off\"/></VanishedDevices>"
    "</ZoneGroupState>";

static int by_events;
static void count_by_events(sb_instance *inst, sn_speaker *s, const char *why, void *user)
{
    (void)inst;
    (void)s;
    (void)why;
    (void)user;
    by_events++;
}

static void answer_topology(const char *ip, const char *document)
{
    char part[64];
    snprintf(part, sizeof part, "%s:1400/ZoneGroupTopology/Control", ip);
    fake_request *r = fake_http_find(&f, "POST", part);
    CHECK(r != NULL);
    if (r != NULL) fake_soap_answer(&f, r, (const char *const[]){ "ZoneGroupState", document, NULL });
}

static void test_bonded_bridges_and_vanished(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    sn_discovery_init(inst);
    sn_household_init(inst);
    sn_state_init(inst);
    fake_listen(&f, inst);
    sn_speaker *left = fake_speaker(inst, "RINCON_L", "Lounge", "10.0.0.20", true);
    answer_topology("10.0.0.20", BIG_HOUSEHOLD);
    sn_speaker *right = fake_speaker(inst, "RINCON_R", "Lounge", "10.0.0.21", true);
    answer_topology("10.0.0.21", BIG_HOUSEHOLD);
    sn_speaker *boost = fake_speaker(inst, "RINCON_X", "BOOST", "10.0.0.22", true);
    answer_topology("10.0.0.22", BIG_HOUSEHOLD);
    /* The pair is one room; the right speaker and the Boost are none, and not described for it. */
    CHECK(left->online && !left->invisible);
    CHECK_STR(left->id, "lounge");
    CHECK(!right->online && right->invisible && right->id[0] == '\0');
    CHECK(!boost->online && boost->invisible);
    CHECK(fake_logged(&f, "BOOST (10.0.0.22) is a Boost or Bridge, not a room"));
    CHECK(fake_logged(&f, "Lounge (10.0.0.21) is bonded to another player (satellite or stereo pair), not a room"));
    CHECK(fake_http_find(&f, "GET", "10.0.0.21") == NULL && fake_http_find(&f, "GET", "10.0.0.22") == NULL);
    CHECK(fake_http_find(&f, "GET", "http://10.0.0.23:1400/xml/device_description.xml") != NULL);
    CHECK(inst->visible_count == 1 && inst->visible[0] == left);

    /* A player the household lists as vanished goes offline with the household's reason. */
    sn_speaker *garden = fake_speaker(inst, "RINCON_G", "Garden", "10.0.0.24", true);
    answer_topology("10.0.0.24", TOPOLOGY); /* a document without it: a room, online */
    CHECK(garden->online);
    sn_household_apply_topology(inst, BIG_HOUSEHOLD);
    CHECK(!garden->online);
    CHECK(fake_logged(&f, "garden (Garden, 10.0.0.24) is offline: the household says: powered off"));
    CHECK(has(f.events, "offline:garden:the household says: powered off;"));
    CHECK(has(f.last_state, "\"state\":\"offline\",\"offline_reason\":\"the household says: powered off\""));

    /* A household of about 20 players and more answers 501: the player waits for its topology
     * event (gena subscribes), neither online as a guess nor dropped. */
    sn_lifecycle_on(&inst->hub, SN_EV_TOPOLOGY_BY_EVENTS, count_by_events, NULL);
    sn_speaker *den = fake_speaker(inst, "RINCON_D", "Den", "10.0.0.25", true);
    fake_request *r = fake_http_find(&f, "POST", "10.0.0.25:1400/ZoneGroupTopology/Control");
    CHECK(r != NULL);
    if (r != NULL) fake_soap_fault(&f, r, 501);
    CHECK(by_events == 1 && den->awaiting_topology && !den->online);
    CHECK(fake_logged(&f, "Den answers no GetZoneGroupState (501, a large household): waiting for its topology event"));
    /* Any topology document that names it places it. */
    static const char WITH_DEN[] =
        "<ZoneGroupState><ZoneGroups><ZoneGroup Coordinator=\"RINCON_D\" ID=\"RINCON_D:1\">"
        "<ZoneGroupMember UUID=\"RINCON_D\" Location=\"http://10.0.0.25:1400/xml/device_description.xml\" ZoneName=\"Den\"/>"
        "</ZoneGroup></ZoneGroups></ZoneGroupState>";
    sn_household_apply_topology(inst, WITH_DEN);
    CHECK(den->online && !den->awaiting_topology);
    CHECK_STR(den->id, "den");
    fake_instance_free(inst);
}

int main(void)
{
    test_topology();
    test_bonded_bridges_and_vanished();
    return CHECK_DONE("test_household");
}

/* Speaker state (state.c over discovery, soap_call and the model, with a fake host): the retained
 * state from events, published only on change; a Sonos player placed by its household's topology
 * before it goes online; satellites that are no rooms. */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "discovery.h"
#include "fake_devices.h"
#include "state.h"

static fake_host f;

static bool has(const char *text, const char *part) { return strstr(text, part) != NULL; }

static void test_events_to_state(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    sn_state_init(inst);
    sn_speaker *s = fake_speaker(inst, "uuid-1", "Study", "10.0.0.5", false);
    CHECK(f.state_count == 1); /* ONLINE publishes */
    CHECK_STR(f.last_state_speaker, "study");
    CHECK(has(f.last_state, "\"name\":\"Study\"") && has(f.last_state, "\"address\":\"10.0.0.5\""));

    sn_state_apply_avt(inst, s, "TransportState", "PLAYING");
    sn_state_apply_avt(inst, s, "AVTransportURI", "http://radio.example/stream");
    sn_state_apply_avt(inst, s, "CurrentTrackMetaData",
                       "<DIDL-Lite xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:upnp=\"urn:schemas-upnp-org:metadata-1-0/upnp/\" "
                       "xmlns=\"urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/\"><item><dc:title>Song</dc:title>"
                       "<dc:creator>Band</dc:creator></item></DIDL-Lite>");
    sn_state_apply_rc(inst, s, "Volume", "Master", "30");
    sn_state_apply_rc(inst, s, "Volume", "LF", "99"); /* another channel: not the room's volume */
    sn_state_apply_rc(inst, s, "Mute", NULL, "1");
    sn_state_publish(inst, s);
    CHECK(f.state_count == 2);
    CHECK(has(f.last_state, "\"state\":\"playing\""));
    CHECK(has(f.last_state, "\"volume\":30") && has(f.last_state, "\"mute\":true"));
    CHECK(has(f.last_state, "\"title\":\"Song\"") && has(f.last_state, "\"artist\":\"Band\""));
    CHECK(has(f.last_state, "\"uri\":\"http://radio.example/stream\""));
    sn_state_publish(inst, s); /* nothing changed: nothing sent */
    CHECK(f.state_count == 2);

    sn_speaker_set_online(inst, s, false, "gone");
    CHECK(f.state_count == 3 && has(f.last_state, "\"state\":\"offline\""));
    fake_instance_free(inst);
}

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
    test_events_to_state();
    test_topology();
    return CHECK_DONE("test_state");
}

/* GENA (gena.c over state, discovery, soap_call and the model, with a fake host): subscriptions
 * when a speaker goes online, renewals, NOTIFY into state and a TRANSPORT_CHANGED event, stale
 * SIDs refused, and subscriptions started again after a move or a refused renewal. */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "discovery.h"
#include "fake_devices.h"
#include "gena.h"
#include "household.h"
#include "state.h"

static fake_host f;

static bool has(const char *text, const char *part) { return strstr(text, part) != NULL; }

/* A propertyset whose LastChange sets TransportState. */
static void transport_event(char *out, size_t size, const char *state)
{
    snprintf(out, size,
             "<e:propertyset xmlns:e=\"urn:schemas-upnp-org:event-1-0\"><e:property><LastChange>"
             "&lt;Event xmlns=&quot;urn:schemas-upnp-org:metadata-1-0/AVT/&quot;&gt;&lt;InstanceID val=&quot;0&quot;&gt;"
             "&lt;TransportState val=&quot;%s&quot;/&gt;&lt;/InstanceID&gt;&lt;/Event&gt;"
             "</LastChange></e:property></e:propertyset>", state);
}

/* A large household answers GetZoneGroupState with 501: the player's ZoneGroupTopology events are
 * subscribed while it waits, and the first one (the whole topology) brings it online. */
static void test_topology_by_events(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    sn_discovery_init(inst);
    sn_gena_init(inst);
    sn_household_init(inst);
    sn_state_init(inst);
    fake_listen(&f, inst);
    sn_speaker *s = fake_speaker(inst, "RINCON_D", "Den", "10.0.0.25", true);
    fake_request *r = fake_http_find(&f, "POST", "10.0.0.25:1400/ZoneGroupTopology/Control");
    CHECK(r != NULL);
    if (r != NULL) fake_soap_fault(&f, r, 501);
    CHECK(!s->online && s->awaiting_topology);
    fake_request *zgt = fake_http_find(&f, "SUBSCRIBE", "/ZoneGroupTopology/Event");
    CHECK(zgt != NULL && fake_http_find(&f, "SUBSCRIBE", "/AVTransport/Event") == NULL);
    if (zgt == NULL) return;
    fake_http_answer(&f, zgt, 200, "SID: uuid:zgt-1\nTIMEOUT: Second-600", NULL);
    static const char EVENT[] =
        "<e:propertyset xmlns:e=\"urn:schemas-upnp-org:event-1-0\"><e:property><ZoneGroupState>"
        "&lt;ZoneGroupState&gt;&lt;ZoneGroups&gt;&lt;ZoneGroup Coordinator=&quot;RINCON_D&quot; ID=&quot;RINCON_D:1&quot;&gt;"
        "&lt;ZoneGroupMember UUID=&quot;RINCON_D&quot; Location=&quot;http://10.0.0.25:1400/xml/device_description.xml&quot; "
        "ZoneName=&quot;Den&quot;/&gt;&lt;/ZoneGroup&gt;&lt;/ZoneGroups&gt;&lt;/ZoneGroupState&gt;"
        "</ZoneGroupState></e:property></e:propertyset>";
    /* Forged first: from another host, nothing happens. */
    CHECK(fake_route_call_from(&f, "/zgt", "10.0.0.66", "NOTIFY", "SID: uuid:zgt-1\nNTS: upnp:propchange", EVENT) == 412);
    CHECK(!s->online);
    CHECK(fake_route_call_from(&f, "/zgt", "10.0.0.25", "NOTIFY", "SID: uuid:zgt-1\nNTS: upnp:propchange", EVENT) == 200);
    CHECK(s->online && !s->awaiting_topology);
    CHECK_STR(s->id, "den");
    /* Online: the other services are subscribed, the topology one is kept. */
    CHECK(fake_http_find(&f, "SUBSCRIBE", "/AVTransport/Event") != NULL);
    CHECK_STR(s->subs[SN_ZGT].sid, "uuid:zgt-1");
    sn_gena_stop(inst);
    fake_instance_free(inst);
}

int main(void)
{
    test_topology_by_events();
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{\"subscription_timeout\": 1200}");
    sn_discovery_init(inst);
    sn_gena_init(inst);
    sn_household_init(inst);
    sn_state_init(inst);
    fake_listen(&f, inst);
    sn_speaker *s = fake_speaker(inst, "uuid-1", "Study", "10.0.0.5", false);

    /* Online: AVTransport and RenderingControl subscribed, each with its own callback route. */
    fake_request *avt = fake_http_find(&f, "SUBSCRIBE", "/AVTransport/Event");
    fake_request *rc = fake_http_find(&f, "SUBSCRIBE", "/RenderingControl/Event");
    CHECK(avt != NULL && rc != NULL);
    if (avt == NULL || rc == NULL) return CHECK_DONE("test_gena");
    CHECK(has(avt->headers, "CALLBACK: <http://127.0.0.1:8080/plugin/org.speakerbridge.sonos/gena/uuid-1/avt>"));
    CHECK(has(avt->headers, "NT: upnp:event") && has(avt->headers, "TIMEOUT: Second-1200"));
    CHECK(s->requests == 2); /* the record is not forgotten while they point at it */
    fake_http_answer(&f, avt, 200, "SID: uuid:sub-avt\nTIMEOUT: Second-600", NULL);
    CHECK(s->requests == 1);
    CHECK(fake_timer_find(&f, 300000, 0) != NULL); /* renewed at half the granted lifetime */

    /* An event: state follows, the hub hears the transport changed, 200 goes back. */
    char body[1024];
    transport_event(body, sizeof body, "PLAYING");
    CHECK(fake_route_call(&f, "/avt", "NOTIFY", "SID: uuid:sub-avt\nNTS: upnp:propchange", body) == 200);
    CHECK_STR(s->transport, "PLAYING");
    CHECK(has(f.last_state, "\"state\":\"playing\""));
    CHECK(has(f.events, "transport:study:event;"));
    /* An SID we do not hold is an old subscription: 412 so the device drops it. */
    CHECK(fake_route_call(&f, "/avt", "NOTIFY", "SID: uuid:old\nNTS: upnp:propchange", body) == 412);
    CHECK(fake_route_call(&f, "/avt", "GET", NULL, NULL) == 405);
    CHECK(fake_route_call(&f, "/avt", "NOTIFY", "SID: uuid:sub-avt\nNTS: upnp:propchange", "<not xml") == 400);

    /* Trust: a NOTIFY from another address, even with the right SID, changes nothing; an empty SID
     * matches no subscription, not even one still without an SID (RenderingControl's, pending). */
    transport_event(body, sizeof body, "PAUSED_PLAYBACK");
    CHECK(fake_route_call_from(&f, "/avt", "10.0.0.66", "NOTIFY", "SID: uuid:sub-avt\nNTS: upnp:propchange", body) == 412);
    CHECK_STR(s->transport, "PLAYING");
    CHECK(fake_route_call_from(&f, "/avt", "10.0.0.5", "NOTIFY", "SID: \nNTS: upnp:propchange", body) == 412);
    CHECK(fake_route_call_from(&f, "/rc", "10.0.0.5", "NOTIFY", "SID: \nNTS: upnp:propchange", body) == 412);
    CHECK_STR(s->transport, "PLAYING");
    CHECK(fake_route_call_from(&f, "/avt", "10.0.0.5", "NOTIFY", "SID: uuid:sub-avt\nNTS: upnp:propchange", body) == 200);
    CHECK_STR(s->transport, "PAUSED_PLAYBACK");
    transport_event(body, sizeof body, "PLAYING");
    CHECK(fake_route_call_from(&f, "/avt", "10.0.0.5", "NOTIFY", "SID: uuid:sub-avt\nNTS: upnp:propchange", body) == 200);

    /* A subscription without an answer: the speaker is UNREACHABLE, discovery describes it again. */
    fake_http_fail(&f, rc, "timed out");
    CHECK(has(f.events, "unreachable:study:timed out;"));
    CHECK(fake_http_find(&f, "GET", "http://10.0.0.5:49152/description.xml") != NULL);
    CHECK(fake_timer_find(&f, 30000, 0) != NULL); /* and tried again later */

    /* A renewal carries the SID only; refused (the device forgot us): subscribe afresh at once. */
    fake_timer_fire(&f, fake_timer_find(&f, 300000, 0));
    avt = fake_http_find(&f, "SUBSCRIBE", "/AVTransport/Event");
    CHECK(avt != NULL && has(avt->headers, "SID: uuid:sub-avt") && !has(avt->headers, "CALLBACK"));
    if (avt != NULL) fake_http_answer(&f, avt, 412, NULL, NULL);
    avt = fake_http_find(&f, "SUBSCRIBE", "/AVTransport/Event");
    CHECK(avt != NULL && has(avt->headers, "CALLBACK: <"));
    /* The first event may overtake the SUBSCRIBE's answer: it is kept, and applied once the answer
     * grants that very SID. A second one meanwhile is refused. */
    transport_event(body, sizeof body, "STOPPED");
    CHECK(fake_route_call(&f, "/avt", "NOTIFY", "SID: uuid:sub-new\nNTS: upnp:propchange", body) == 200);
    CHECK_STR(s->transport, "PLAYING"); /* not yet */
    CHECK(s->subs[SN_AVT].sid[0] == '\0');
    CHECK(fake_route_call(&f, "/avt", "NOTIFY", "SID: uuid:sub-other\nNTS: upnp:propchange", body) == 412);
    if (avt != NULL) fake_http_answer(&f, avt, 200, "SID: uuid:sub-new\nTIMEOUT: Second-600", NULL);
    CHECK_STR(s->subs[SN_AVT].sid, "uuid:sub-new");
    CHECK_STR(s->transport, "STOPPED");
    CHECK(s->subs[SN_AVT].early_body == NULL);

    /* Moved: subscribed again at the new address. */
    fake_speaker(inst, "uuid-1", "Study", "10.0.0.50", false);
    CHECK(fake_http_find(&f, "SUBSCRIBE", "http://10.0.0.50:49152/MediaRenderer/AVTransport/Event") != NULL);

    /* Offline: renewals stop. */
    sn_speaker_set_online(inst, s, false, "gone");
    CHECK(fake_timer_find(&f, 300000, 0) == NULL && fake_timer_find(&f, 30000, 0) == NULL);
    CHECK(s->subs[SN_AVT].sid[0] == '\0');
    /* An offline speaker's subscriptions hold no SID: neither an empty nor its last one matches. */
    transport_event(body, sizeof body, "PLAYING");
    CHECK(fake_route_call(&f, "/avt", "NOTIFY", "SID: \nNTS: upnp:propchange", body) == 412);
    CHECK(fake_route_call(&f, "/avt", "NOTIFY", "SID: uuid:sub-new\nNTS: upnp:propchange", body) == 412);
    CHECK_STR(s->transport, "STOPPED");

    /* Forgotten (its table slot went to a new device): the routes go with it. */
    sn_lifecycle_emit(&inst->hub, inst, SN_EV_FORGOTTEN, s, "test");
    CHECK(fake_route_find(&f, "/avt") == NULL && fake_route_find(&f, "/rc") == NULL);
    CHECK(s->subs[SN_AVT].route_id == 0);

    /* Destroy: the routes go. */
    sn_gena_stop(inst);
    CHECK(fake_route_find(&f, "/avt") == NULL && fake_route_find(&f, "/rc") == NULL);
    fake_instance_free(inst);
    return CHECK_DONE("test_gena");
}

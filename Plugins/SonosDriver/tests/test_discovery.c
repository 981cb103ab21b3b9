/* Discovery (discovery.c over the model, with a fake host): the static list and SSDP lead to one
 * description fetch each, a description makes a speaker, byebye and a failed re-fetch take it
 * offline, and an UNREACHABLE speaker is described again. */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "discovery.h"
#include "fake_devices.h"
#include "ssdp.h"

static fake_host f;

static void description_xml(char *out, size_t size, const char *uuid, const char *name)
{
    snprintf(out, size,
             "<?xml version=\"1.0\"?><root xmlns=\"urn:schemas-upnp-org:device-1-0\"><device>"
             "<deviceType>urn:schemas-upnp-org:device:MediaRenderer:1</deviceType><friendlyName>%s</friendlyName>"
             "<modelName>gmediarender</modelName><UDN>uuid:%s</UDN><serviceList>"
             "<service><serviceType>urn:schemas-upnp-org:service:AVTransport:1</serviceType><serviceId>a</serviceId>"
             "<controlURL>/avt/control</controlURL><eventSubURL>/avt/event</eventSubURL></service>"
             "</serviceList></device></root>", name, uuid);
}

static void answer_description(const char *url_part, const char *uuid, const char *name)
{
    char xml[2048];
    description_xml(xml, sizeof xml, uuid, name);
    fake_request *r = fake_http_find(&f, "GET", url_part);
    CHECK(r != NULL);
    if (r != NULL) fake_http_answer(&f, r, 200, "Content-Type: text/xml", xml);
}

static void test_static_list(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{\"discovery\": false, \"speakers\": [\"http://10.0.0.5:49152/description.xml\"]}");
    sn_discovery_init(inst);
    fake_listen(&f, inst);
    sn_discovery_start(inst);
    CHECK(fake_udp_find(&f, 0) == NULL); /* discovery off: no socket */
    fake_timer *search = fake_timer_find(&f, 0, 60000);
    CHECK(search != NULL);
    if (search == NULL) return;
    fake_timer_fire(&f, search);
    fake_timer_fire(&f, search); /* a second round while the first fetch runs: still one fetch */
    CHECK(fake_http_open_count(&f) == 1);
    answer_description("http://10.0.0.5:49152/description.xml", "uuid-attic", "Attic");
    sn_speaker *s = sn_speaker_find(inst, "attic");
    CHECK(s != NULL && s->online);
    CHECK_STR(f.events, "online:attic:found;");

    /* A request to it got no answer: described again; no answer there either: offline. */
    sn_lifecycle_emit(&inst->hub, inst, SN_EV_UNREACHABLE, s, "Play: timed out");
    CHECK(fake_logged(&f, "checking attic: Play: timed out"));
    fake_request *r = fake_http_find(&f, "GET", "10.0.0.5");
    CHECK(r != NULL);
    if (r != NULL) fake_http_fail(&f, r, "connection refused");
    CHECK(s != NULL && !s->online);
    CHECK_STR(f.last_availability, "attic offline");

    /* The probe asks offline speakers again; they come back by themselves. */
    fake_timer *probe = fake_timer_find(&f, 10000, 10000);
    CHECK(probe != NULL);
    if (probe != NULL) fake_timer_fire(&f, probe);
    answer_description("10.0.0.5", "uuid-attic", "Attic");
    CHECK(s != NULL && s->online);

    /* A hostile or broken description is logged and changes nothing but availability. */
    sn_describe(inst, "http://10.0.0.5:49152/description.xml", NULL);
    r = fake_http_find(&f, "GET", "10.0.0.5");
    if (r != NULL) fake_http_answer(&f, r, 200, NULL, "<!DOCTYPE x [<!ENTITY a \"b\">]><root/>");
    CHECK(fake_logged(&f, "ignoring the device at http://10.0.0.5:49152/description.xml"));
    CHECK(s != NULL && !s->online);

    sn_discovery_stop(inst);
    CHECK(fake_timer_active_count(&f) == 0);
    fake_instance_free(inst);
}

static void test_ssdp(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    sn_discovery_init(inst);
    sn_discovery_start(inst);
    fake_socket *search = fake_udp_find(&f, 0);
    fake_socket *notify = fake_udp_find(&f, SN_SSDP_PORT);
    CHECK(search != NULL && notify != NULL);
    if (search == NULL || notify == NULL) return;
    fake_timer_fire(&f, fake_timer_find(&f, 0, 60000));
    CHECK(strstr(search->sent, "M-SEARCH * HTTP/1.1") != NULL && search->sent_count == 2); /* ZonePlayer, MediaRenderer */

    fake_udp_deliver(&f, search, "10.0.0.6",
                     "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nLOCATION: http://10.0.0.6:49152/description.xml\r\n"
                     "ST: urn:schemas-upnp-org:device:MediaRenderer:1\r\nUSN: uuid:uuid-pi::urn:schemas-upnp-org:device:MediaRenderer:1\r\n\r\n");
    answer_description("10.0.0.6", "uuid-pi", "Pi");
    sn_speaker *s = sn_speaker_find(inst, "pi");
    CHECK(s != NULL && s->online);

    /* Other devices on the network are not fetched. */
    fake_udp_deliver(&f, notify, "10.0.0.99",
                     "NOTIFY * HTTP/1.1\r\nLOCATION: http://10.0.0.99/d.xml\r\nNT: urn:schemas-upnp-org:device:Printer:1\r\n"
                     "NTS: ssdp:alive\r\nUSN: uuid:printer\r\n\r\n");
    CHECK(fake_http_open_count(&f) == 0);

    fake_udp_deliver(&f, notify, "10.0.0.6",
                     "NOTIFY * HTTP/1.1\r\nNT: urn:schemas-upnp-org:device:MediaRenderer:1\r\nNTS: ssdp:byebye\r\n"
                     "USN: uuid:uuid-pi::urn:schemas-upnp-org:device:MediaRenderer:1\r\n\r\n");
    CHECK(s != NULL && !s->online);
    CHECK(fake_logged(&f, "it said goodbye (ssdp:byebye)"));
    sn_discovery_stop(inst);
    CHECK(!search->open && !notify->open);
    fake_instance_free(inst);
}

/* An ssdp:alive for a ZonePlayer, with an X-RINCON-HOUSEHOLD header unless `household` is NULL. */
static void alive(fake_socket *sock, const char *from, const char *location, const char *uuid, const char *household)
{
    char msg[1024];
    snprintf(msg, sizeof msg,
             "NOTIFY * HTTP/1.1\r\nLOCATION: %s\r\nNT: urn:schemas-upnp-org:device:ZonePlayer:1\r\nNTS: ssdp:alive\r\n"
             "USN: uuid:%s::urn:schemas-upnp-org:device:ZonePlayer:1\r\n%s%s%s\r\n",
             location, uuid, household != NULL ? "X-RINCON-HOUSEHOLD: " : "", household != NULL ? household : "",
             household != NULL ? "\r\n" : "");
    fake_udp_deliver(&f, sock, from, msg);
}

static void byebye(fake_socket *sock, const char *from, const char *usn_uuid)
{
    char msg[512];
    snprintf(msg, sizeof msg,
             "NOTIFY * HTTP/1.1\r\nNT: urn:schemas-upnp-org:device:ZonePlayer:1\r\nNTS: ssdp:byebye\r\n"
             "USN: uuid:%s::urn:schemas-upnp-org:device:ZonePlayer:1\r\n\r\n", usn_uuid);
    fake_udp_deliver(&f, sock, from, msg);
}

/* Trust on the LAN: goodbyes only for the exact UDN and from the speaker's address; a known UDN
 * claimed from a new address by SSDP followed only within the speaker's household. */
static void test_lan_trust(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    sn_discovery_init(inst);
    fake_listen(&f, inst);
    sn_discovery_start(inst);
    fake_socket *notify = fake_udp_find(&f, SN_SSDP_PORT);
    CHECK(notify != NULL);
    if (notify == NULL) return;
    alive(notify, "10.0.0.6", "http://10.0.0.6:1400/d.xml", "RINCON_A1400", "Sonos_H");
    answer_description("10.0.0.6", "RINCON_A1400", "Hall");
    sn_speaker *s = sn_speaker_find(inst, "hall");
    CHECK(s != NULL && s->online);
    if (s == NULL) return;
    CHECK_STR(s->household, "Sonos_H");

    byebye(notify, "10.0.0.6", "RINCON_A"); /* a prefix of its UDN */
    CHECK(s->online);
    byebye(notify, "10.0.0.66", "RINCON_A1400"); /* the UDN, from another host */
    CHECK(s->online);
    CHECK(fake_logged(&f, "a goodbye for RINCON_A1400 from 10.0.0.66, not from its address 10.0.0.6: ignored"));
    byebye(notify, "10.0.0.6", "RINCON_A1400");
    CHECK(!s->online);
    alive(notify, "10.0.0.6", "http://10.0.0.6:1400/d.xml", "RINCON_A1400", "Sonos_H");
    answer_description("10.0.0.6", "RINCON_A1400", "Hall");
    CHECK(s->online);

    /* Another household's device, and one that names none, claiming the UDN: not followed. */
    alive(notify, "10.0.0.66", "http://10.0.0.66:1400/d.xml", "RINCON_A1400", "Sonos_Other");
    answer_description("10.0.0.66", "RINCON_A1400", "Hall");
    CHECK_STR(s->location, "http://10.0.0.6:1400/d.xml");
    CHECK(fake_logged(&f, "claims to be hall (at http://10.0.0.6:1400/d.xml), but its household is \"Sonos_Other\", not \"Sonos_H\": ignored"));
    alive(notify, "10.0.0.67", "http://10.0.0.67:1400/d.xml", "RINCON_A1400", NULL);
    answer_description("10.0.0.67", "RINCON_A1400", "Hall");
    CHECK_STR(s->location, "http://10.0.0.6:1400/d.xml");
    CHECK(s->online && strcmp(f.events, "") != 0 && strstr(f.events, "moved") == NULL);
    /* Its own household at a new address (a new DHCP lease): followed. */
    alive(notify, "10.0.0.7", "http://10.0.0.7:1400/d.xml", "RINCON_A1400", "Sonos_H");
    answer_description("10.0.0.7", "RINCON_A1400", "Hall");
    CHECK_STR(s->location, "http://10.0.0.7:1400/d.xml");
    CHECK_STR(s->address, "10.0.0.7");
    sn_discovery_stop(inst);
    fake_instance_free(inst);
}

/* Description fetches: at most two per host at once, the rest wait their turn; another host's
 * fetch starts at once. */
static void test_fetch_slots_per_host(void)
{
    fake_host_init(&f);
    sb_instance *inst = fake_instance(&f, "{}");
    sn_discovery_init(inst);
    fake_listen(&f, inst);
    for (int port = 1; port <= 20; port++) {
        char location[64];
        snprintf(location, sizeof location, "http://10.0.0.66:%d/slow.xml", port);
        sn_describe(inst, location, NULL);
    }
    CHECK(fake_http_open_count(&f) == 2);
    CHECK(inst->fetch_queued == 18);
    sn_describe(inst, "http://10.0.0.66:5/slow.xml", NULL); /* waiting already: not queued twice */
    CHECK(inst->fetch_queued == 18);
    sn_describe(inst, "http://10.0.0.9:1400/d.xml", NULL);
    CHECK(fake_http_open_count(&f) == 3);
    answer_description("10.0.0.9", "RINCON_B1400", "Den");
    CHECK(sn_speaker_find(inst, "den") != NULL);
    /* A slow fetch ends (timed out): the next one of that host starts. */
    fake_request *r = fake_http_find(&f, "GET", "10.0.0.66:1/");
    CHECK(r != NULL);
    if (r != NULL) fake_http_fail(&f, r, "timed out");
    CHECK(fake_http_open_count(&f) == 2 && inst->fetch_queued == 17);
    CHECK(fake_http_find(&f, "GET", "10.0.0.66:3/") != NULL);
    sn_discovery_stop(inst);
    CHECK(inst->fetch_queued == 0);
    fake_instance_free(inst);
}

int main(void)
{
    test_static_list();
    test_ssdp();
    test_lan_trust();
    test_fetch_slots_per_host();
    return CHECK_DONE("test_discovery");
}

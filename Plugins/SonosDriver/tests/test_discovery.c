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

int main(void)
{
    test_static_list();
    test_ssdp();
    return CHECK_DONE("test_discovery");
}

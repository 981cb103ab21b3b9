/* The UPnP documents the driver reads: device descriptions, SOAP envelopes and answers,
 * ZoneGroupState, GENA property sets, LastChange and DIDL-Lite. Realistic shapes come from
 * tests/fixtures/; hostile ones are built here. */
#include "check.h"

#include "description.h"
#include "events.h"
#include "soap.h"
#include "text.h"
#include "topology.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------------- */

/* Fixtures sit next to this file. __FILE__ is the path the Makefile compiled it with (absolute
 * there), so the test finds them from any working directory; -DFIXTURES=… overrides. */
static void fixture_path(char *out, size_t out_size, const char *name) {
#ifdef FIXTURES
    snprintf(out, out_size, "%s/%s", FIXTURES, name);
#else
    const char *file = __FILE__;
    const char *slash = strrchr(file, '/');
    int dir_len = slash != NULL ? (int)(slash - file) : 1;
    snprintf(out, out_size, "%.*s/fixtures/%s", dir_len, slash != NULL ? file : ".", name);
#endif
}

static char *read_fixture(const char *name, size_t *size) {
    char path[1024];
    fixture_path(path, sizeof path, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open fixture %s\n", path);
        *size = 0;
        return NULL;
    }
    char *data = malloc(1024 * 1024);
    size_t n = data != NULL ? fread(data, 1, 1024 * 1024 - 1, f) : 0;
    fclose(f);
    if (data != NULL) data[n] = '\0';
    *size = n;
    return data;
}

/* True when `s` is well-formed UTF-8 (truncation must never leave half a character). */
static bool valid_utf8(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int extra = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;
        if (extra < 0) return false;
        p++;
        for (int i = 0; i < extra; i++, p++) {
            if ((*p & 0xC0) != 0x80) return false;
        }
    }
    return true;
}

static bool contains(const char *haystack, const char *needle) {
    return haystack != NULL && needle != NULL && strstr(haystack, needle) != NULL;
}

/* Repeats `unit` `count` times into a new text. */
static void repeat(sn_text *t, const char *unit, int count) {
    for (int i = 0; i < count; i++) sn_text_puts(t, unit);
}

/* Collects callback values (copies: the strings die with the parsed document). */
#define MAX_SEEN 64
typedef struct seen {
    size_t count;
    char name[MAX_SEEN][64];
    char channel[MAX_SEEN][16];
    bool has_channel[MAX_SEEN];
    char *value[MAX_SEEN];
} seen;

static void seen_property(void *user, const char *name, const char *value) {
    seen *s = user;
    if (s->count >= MAX_SEEN) return;
    snprintf(s->name[s->count], sizeof s->name[0], "%s", name);
    s->has_channel[s->count] = false;
    s->value[s->count] = sn_strdup(value);
    s->count++;
}

static void seen_lastchange(void *user, const char *name, const char *channel, const char *value) {
    seen *s = user;
    if (s->count >= MAX_SEEN) return;
    snprintf(s->name[s->count], sizeof s->name[0], "%s", name);
    s->has_channel[s->count] = channel != NULL;
    snprintf(s->channel[s->count], sizeof s->channel[0], "%s", channel != NULL ? channel : "");
    s->value[s->count] = sn_strdup(value);
    s->count++;
}

/* The value of the first variable `name` (with `channel`, when not NULL), or NULL. */
static const char *seen_value(const seen *s, const char *name, const char *channel) {
    for (size_t i = 0; i < s->count; i++) {
        if (strcmp(s->name[i], name) != 0) continue;
        if (channel != NULL && (!s->has_channel[i] || strcmp(s->channel[i], channel) != 0)) continue;
        return s->value[i];
    }
    return NULL;
}

static size_t seen_count(const seen *s, const char *name) {
    size_t n = 0;
    for (size_t i = 0; i < s->count; i++) n += strcmp(s->name[i], name) == 0;
    return n;
}

static void seen_free(seen *s) {
    for (size_t i = 0; i < s->count; i++) free(s->value[i]);
    s->count = 0;
}

static int parse_description(const char *xml, const char *location, sn_description *d, char *err,
                             size_t err_size) {
    return sn_description_parse(xml, strlen(xml), location, d, err, err_size);
}

/* ---- device descriptions ------------------------------------------------------------------- */

static void test_sonos_description(void) {
    size_t size;
    char *xml = read_fixture("sonos_one_description.xml", &size);
    CHECK(xml != NULL);
    if (xml == NULL) return;
    sn_description *d = malloc(sizeof *d);
    char err[256] = "";
    int rc = sn_description_parse(xml, size, "http://192.168.1.31:1400/xml/device_description.xml", d, err,
                                  sizeof err);
    CHECK(rc == 0);
    CHECK_STR(err, "");
    CHECK_STR(d->udn, "RINCON_48A6B8C0FFEE01400");
    CHECK_STR(d->device_type, "urn:schemas-upnp-org:device:ZonePlayer:1");
    CHECK_STR(d->friendly_name, "192.168.1.31 - Sonos One - RINCON_48A6B8C0FFEE01400");
    CHECK_STR(d->room_name, "Kitchen");
    CHECK_STR(d->manufacturer, "Sonos, Inc.");
    CHECK_STR(d->model_name, "Sonos One");
    CHECK_STR(d->model_number, "S18");
    CHECK_STR(d->display_name, "One");
    CHECK(d->is_sonos);
    /* 8 root services + 2 MediaServer + 6 MediaRenderer. */
    CHECK(d->service_count == 16);

    const sn_service *avt = sn_description_service(d, "AVTransport");
    CHECK(avt != NULL);
    if (avt != NULL) {
        CHECK_STR(avt->type, "urn:schemas-upnp-org:service:AVTransport:1");
        CHECK_STR(avt->control_url, "http://192.168.1.31:1400/MediaRenderer/AVTransport/Control");
        CHECK_STR(avt->event_url, "http://192.168.1.31:1400/MediaRenderer/AVTransport/Event");
    }
    const sn_service *rc_svc = sn_description_service(d, "RenderingControl");
    CHECK(rc_svc != NULL && strcmp(rc_svc->control_url, "http://192.168.1.31:1400/MediaRenderer/RenderingControl/Control") == 0);
    const sn_service *zgt = sn_description_service(d, "ZoneGroupTopology");
    CHECK(zgt != NULL);
    if (zgt != NULL) {
        CHECK_STR(zgt->control_url, "http://192.168.1.31:1400/ZoneGroupTopology/Control");
        CHECK_STR(zgt->event_url, "http://192.168.1.31:1400/ZoneGroupTopology/Event");
    }
    /* ConnectionManager exists under MediaServer and MediaRenderer: the renderer's is found. */
    const sn_service *cm = sn_description_service(d, "ConnectionManager");
    CHECK(cm != NULL && strcmp(cm->control_url, "http://192.168.1.31:1400/MediaRenderer/ConnectionManager/Control") == 0);
    /* Vendor domains match too; partial names and versions in the name do not. */
    const sn_service *queue = sn_description_service(d, "Queue");
    CHECK(queue != NULL && strcmp(queue->type, "urn:schemas-sonos-com:service:Queue:1") == 0);
    CHECK(sn_description_service(d, "QPlay") != NULL);
    CHECK(sn_description_service(d, "GroupRenderingControl") != NULL);
    CHECK(sn_description_service(d, "Transport") == NULL);
    CHECK(sn_description_service(d, "AVTransport:1") == NULL);
    CHECK(sn_description_service(d, "") == NULL);
    CHECK(sn_description_service(d, NULL) == NULL);
    CHECK(sn_description_service(NULL, "AVTransport") == NULL);
    free(d);
    free(xml);
}

static void test_generic_renderer_description(void) {
    size_t size;
    char *xml = read_fixture("gmediarender_description.xml", &size);
    CHECK(xml != NULL);
    if (xml == NULL) return;
    sn_description d;
    char err[256] = "";
    CHECK(sn_description_parse(xml, size, "http://192.168.1.60:49494/description.xml", &d, err, sizeof err) == 0);
    CHECK_STR(d.udn, "8a3f2c1e-5b7d-4e9a-a1c2-b8e4f0d6c3a5"); /* trimmed, "uuid:" removed */
    CHECK_STR(d.device_type, "urn:schemas-upnp-org:device:MediaRenderer:1");
    CHECK_STR(d.friendly_name, "Living Room Pi");
    CHECK_STR(d.manufacturer, "gmediarender project");
    CHECK_STR(d.model_number, "0.0.9");
    CHECK_STR(d.room_name, "");
    CHECK_STR(d.display_name, "");
    CHECK(!d.is_sonos);
    CHECK(d.service_count == 3);
    const sn_service *avt = sn_description_service(&d, "AVTransport");
    CHECK(avt != NULL);
    if (avt != NULL) {
        /* No URLBase: relative URLs resolve against the LOCATION's directory. */
        CHECK_STR(avt->control_url, "http://192.168.1.60:49494/upnp/control/rendertransport1");
        CHECK_STR(avt->event_url, "http://192.168.1.60:49494/upnp/event/rendertransport1");
    }
    const sn_service *cm = sn_description_service(&d, "ConnectionManager");
    CHECK(cm != NULL && strcmp(cm->control_url, "http://192.168.1.60:49494/upnp/control/renderconnmgr1") == 0);
    free(xml);
}

static void test_description_url_base(void) {
    const char *xml =
        "<root xmlns=\"urn:schemas-upnp-org:device-1-0\"><URLBase> http://10.0.0.5:8080/dev/ </URLBase>"
        "<device><deviceType>urn:schemas-upnp-org:device:MediaRenderer:1</deviceType>"
        "<manufacturer>Sonos, Inc.</manufacturer><UDN>uuid:abc</UDN><serviceList>"
        "<service><serviceType>urn:schemas-upnp-org:service:AVTransport:1</serviceType>"
        "<controlURL>avt/ctl</controlURL><eventSubURL></eventSubURL></service>"
        "<service><serviceType>urn:schemas-upnp-org:service:RenderingControl:1</serviceType>"
        "<controlURL>/rc/ctl</controlURL></service>"
        "<service><serviceType>urn:schemas-upnp-org:service:ConnectionManager:1</serviceType>"
        "<controlURL>ftp://10.0.0.5/cm</controlURL></service>"
        "<service><controlURL>/no-type</controlURL></service>"
        "<service><serviceType>urn:schemas-upnp-org:service:Other:1</serviceType></service>"
        "</serviceList></device></root>";
    sn_description d;
    char err[256] = "";
    CHECK(parse_description(xml, "http://10.0.0.9:1400/desc.xml", &d, err, sizeof err) == 0);
    CHECK(d.is_sonos); /* by manufacturer */
    CHECK(d.service_count == 2);
    const sn_service *avt = sn_description_service(&d, "AVTransport");
    CHECK(avt != NULL && strcmp(avt->control_url, "http://10.0.0.5:8080/dev/avt/ctl") == 0);
    CHECK(avt != NULL && strcmp(avt->event_url, "") == 0);
    const sn_service *rc = sn_description_service(&d, "RenderingControl");
    CHECK(rc != NULL && strcmp(rc->control_url, "http://10.0.0.5:8080/rc/ctl") == 0);
    CHECK(rc != NULL && strcmp(rc->event_url, "") == 0);
    CHECK(sn_description_service(&d, "ConnectionManager") == NULL); /* not an http:// URL */

    /* A broken URLBase falls back to the LOCATION. */
    const char *broken =
        "<root><URLBase>gopher://x</URLBase><device><UDN>uuid:abc</UDN><serviceList>"
        "<service><serviceType>urn:schemas-upnp-org:service:AVTransport:1</serviceType>"
        "<controlURL>/avt</controlURL></service></serviceList></device></root>";
    CHECK(parse_description(broken, "http://10.0.0.9:1400/desc.xml", &d, err, sizeof err) == 0);
    CHECK(d.service_count == 1 && strcmp(d.services[0].control_url, "http://10.0.0.9:1400/avt") == 0);
    /* Neither usable: nothing to resolve against. */
    CHECK(parse_description(broken, "not a url", &d, err, sizeof err) == -1);
    CHECK(err[0] != '\0');
    CHECK(parse_description(broken, NULL, &d, err, sizeof err) == -1);
}

static void test_description_hostile(void) {
    sn_description d;
    char err[256];
    const char *loc = "http://192.168.1.7:1400/xml/device_description.xml";

    err[0] = '\0';
    CHECK(parse_description("<html><body>hello</body></html>", loc, &d, err, sizeof err) == -1);
    CHECK(contains(err, "root"));
    err[0] = '\0';
    CHECK(parse_description("<root><specVersion/></root>", loc, &d, err, sizeof err) == -1);
    CHECK(contains(err, "device"));
    err[0] = '\0';
    CHECK(parse_description("<root><device><friendlyName>x</friendlyName></device></root>", loc, &d, err,
                            sizeof err) == -1);
    CHECK(contains(err, "UDN"));
    CHECK(parse_description("<root><device><UDN>uuid:</UDN></device></root>", loc, &d, err, sizeof err) == -1);
    err[0] = '\0';
    CHECK(parse_description("<?xml version=\"1.0\"?><!DOCTYPE root [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
                            "<root><device><UDN>&x;</UDN></device></root>",
                            loc, &d, err, sizeof err) == -1);
    CHECK(contains(err, "DOCTYPE"));
    CHECK(parse_description("<root><device><UDN>uuid:x</UDN>", loc, &d, err, sizeof err) == -1);
    CHECK(parse_description("", loc, &d, err, sizeof err) == -1);
    CHECK(sn_description_parse(NULL, 0, loc, &d, err, sizeof err) == -1);
    CHECK(d.service_count == 0 && d.udn[0] == '\0'); /* left empty on failure */

    /* 100 embedded devices, each with one service, nested in breadth: capped, no overflow. */
    sn_text t = {0};
    sn_text_puts(&t, "<root><device><UDN>uuid:RINCON_1</UDN><deviceList>");
    repeat(&t,
           "<device><deviceType>urn:schemas-upnp-org:device:MediaRenderer:1</deviceType><UDN>uuid:e</UDN>"
           "<serviceList><service><serviceType>urn:schemas-upnp-org:service:AVTransport:1</serviceType>"
           "<controlURL>/c</controlURL><eventSubURL>/e</eventSubURL></service></serviceList></device>",
           100);
    sn_text_puts(&t, "</deviceList></device></root>");
    CHECK(!t.failed);
    CHECK(parse_description(sn_text_str(&t), loc, &d, err, sizeof err) == 0);
    CHECK(d.service_count == SN_MAX_SERVICES);
    sn_text_free(&t);

    /* 100 services in one device. */
    sn_text_puts(&t, "<root><device><UDN>uuid:RINCON_1</UDN><serviceList>");
    repeat(&t,
           "<service><serviceType>urn:schemas-upnp-org:service:X:1</serviceType>"
           "<controlURL>/c</controlURL></service>",
           100);
    sn_text_puts(&t, "</serviceList></device></root>");
    CHECK(parse_description(sn_text_str(&t), loc, &d, err, sizeof err) == 0);
    CHECK(d.service_count == SN_MAX_SERVICES);
    sn_text_free(&t);

    /* Devices nested 40 deep (within the XML reader's depth limit): bounded walk, no crash. */
    sn_text_puts(&t, "<root><device><UDN>uuid:RINCON_1</UDN>");
    repeat(&t,
           "<deviceList><device><serviceList><service><serviceType>urn:a:service:Deep:1</serviceType>"
           "<controlURL>/d</controlURL></service></serviceList>",
           14);
    repeat(&t, "</device></deviceList>", 14);
    sn_text_puts(&t, "</device></root>");
    CHECK(parse_description(sn_text_str(&t), loc, &d, err, sizeof err) == 0);
    CHECK(d.service_count > 0 && d.service_count <= SN_MAX_SERVICES);
    sn_text_free(&t);

    /* Over-long values: names truncate to whole UTF-8 characters; an over-long service type,
     * URL or UDN is left out or refused rather than cut into something else. */
    sn_text_puts(&t, "<root><device><UDN>uuid:RINCON_1</UDN><friendlyName>A");
    repeat(&t, "\xc3\xbc", 300); /* "ü" */
    sn_text_puts(&t, "</friendlyName><roomName>");
    repeat(&t, "K\xc3\xbc" "che ", 100);
    sn_text_puts(&t, "</roomName><modelNumber>");
    repeat(&t, "9", 500);
    sn_text_puts(&t, "</modelNumber><serviceList><service><serviceType>urn:schemas-upnp-org:service:");
    repeat(&t, "Long", 60);
    sn_text_puts(&t, ":1</serviceType><controlURL>/c</controlURL></service>"
                     "<service><serviceType>urn:schemas-upnp-org:service:AVTransport:1</serviceType><controlURL>/");
    repeat(&t, "p", 600);
    sn_text_puts(&t, "</controlURL></service>"
                     "<service><serviceType>urn:schemas-upnp-org:service:RenderingControl:1</serviceType>"
                     "<controlURL>/rc</controlURL><eventSubURL>/");
    repeat(&t, "e", 600);
    sn_text_puts(&t, "</eventSubURL></service></serviceList></device></root>");
    CHECK(parse_description(sn_text_str(&t), loc, &d, err, sizeof err) == 0);
    CHECK(strlen(d.friendly_name) <= sizeof d.friendly_name - 1 && strlen(d.friendly_name) >= sizeof d.friendly_name - 2);
    CHECK(strncmp(d.friendly_name, "A\xc3\xbc", 3) == 0);
    CHECK(valid_utf8(d.friendly_name));
    CHECK(valid_utf8(d.room_name) && strlen(d.room_name) < sizeof d.room_name);
    CHECK(strlen(d.model_number) == sizeof d.model_number - 1);
    CHECK(d.service_count == 1);
    const sn_service *rc = sn_description_service(&d, "RenderingControl");
    CHECK(rc != NULL && strcmp(rc->control_url, "http://192.168.1.7:1400/rc") == 0 && rc->event_url[0] == '\0');
    sn_text_free(&t);

    sn_text_puts(&t, "<root><device><UDN>uuid:");
    repeat(&t, "R", 200);
    sn_text_puts(&t, "</UDN></device></root>");
    CHECK(parse_description(sn_text_str(&t), loc, &d, err, sizeof err) == -1);
    sn_text_free(&t);

    /* Wrong types: elements where text is expected, text where elements are. */
    const char *odd = "<root><device><UDN><b>uuid:x</b>uuid:RINCON_2</UDN><deviceType><x/></deviceType>"
                      "<serviceList>just text<service>more text</service></serviceList>"
                      "<deviceList>text<device/></deviceList></device></root>";
    CHECK(parse_description(odd, loc, &d, err, sizeof err) == 0);
    CHECK_STR(d.udn, "RINCON_2");
    CHECK(d.service_count == 0);
}

/* ---- SOAP ---------------------------------------------------------------------------------- */

static void test_soap_envelope(void) {
    sn_text t = {0};
    const char *args[] = {"InstanceID", "0", "CurrentURI", "http://10.0.0.2:8080/clip.wav?a=1&b=2",
                          "CurrentURIMetaData", "<DIDL-Lite><item id=\"1\"/></DIDL-Lite>", NULL};
    sn_soap_envelope(&t, "urn:schemas-upnp-org:service:AVTransport:1", "SetAVTransportURI", args);
    CHECK(!t.failed);
    CHECK_STR(sn_text_str(&t),
              "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:Envelope "
              "xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
              "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>"
              "<u:SetAVTransportURI xmlns:u=\"urn:schemas-upnp-org:service:AVTransport:1\">"
              "<InstanceID>0</InstanceID>"
              "<CurrentURI>http://10.0.0.2:8080/clip.wav?a=1&amp;b=2</CurrentURI>"
              "<CurrentURIMetaData>&lt;DIDL-Lite&gt;&lt;item id=&quot;1&quot;/&gt;&lt;/DIDL-Lite&gt;</CurrentURIMetaData>"
              "</u:SetAVTransportURI></s:Body></s:Envelope>");
    sn_text_free(&t);

    sn_soap_envelope(&t, "urn:schemas-upnp-org:service:ZoneGroupTopology:1", "GetZoneGroupState", NULL);
    CHECK(contains(sn_text_str(&t), "<u:GetZoneGroupState xmlns:u=\"urn:schemas-upnp-org:service:ZoneGroupTopology:1\">"
                                    "</u:GetZoneGroupState></s:Body>"));
    sn_text_free(&t);

    /* A NULL value ends the list as an empty value instead of reading past it. */
    const char *short_args[] = {"InstanceID", NULL};
    sn_soap_envelope(&t, "urn:schemas-upnp-org:service:AVTransport:1", "Stop", short_args);
    CHECK(contains(sn_text_str(&t), "<u:Stop xmlns:u=\"urn:schemas-upnp-org:service:AVTransport:1\"><InstanceID></InstanceID></u:Stop>"));
    sn_text_free(&t);
}

#define ENVELOPE_OPEN                                                                                   \
    "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "          \
    "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>"
#define ENVELOPE_CLOSE "</s:Body></s:Envelope>"
#define FAULT(code_xml)                                                                                 \
    ENVELOPE_OPEN "<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>" \
                  "<UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\">" code_xml "</UPnPError>"       \
                  "</detail></s:Fault>" ENVELOPE_CLOSE

static int soap(int status, const char *body, const char *action, sn_soap_result *r) {
    return sn_soap_parse_response(status, body, body != NULL ? strlen(body) : 0, action, r);
}

static void test_soap_responses(void) {
    sn_soap_result r;
    const char *volume = ENVELOPE_OPEN
        "<u:GetVolumeResponse xmlns:u=\"urn:schemas-upnp-org:service:RenderingControl:1\">"
        "<CurrentVolume>30</CurrentVolume></u:GetVolumeResponse>" ENVELOPE_CLOSE;
    CHECK(soap(200, volume, "GetVolume", &r) == 0);
    CHECK(r.upnp_code == 0);
    CHECK(r.response != NULL && strcmp(r.response->name, "GetVolumeResponse") == 0);
    CHECK_STR(sn_soap_out(&r, "CurrentVolume"), "30");
    CHECK(sn_soap_out(&r, "CurrentMute") == NULL);
    sn_soap_result_free(&r);
    sn_soap_result_free(&r); /* twice is harmless */
    CHECK(sn_soap_out(&r, "CurrentVolume") == NULL);
    CHECK(sn_soap_out(NULL, "CurrentVolume") == NULL);

    /* Empty response element (Play answers with no out arguments). */
    CHECK(soap(200, ENVELOPE_OPEN "<u:PlayResponse xmlns:u=\"urn:schemas-upnp-org:service:AVTransport:1\"/>" ENVELOPE_CLOSE,
               "Play", &r) == 0);
    sn_soap_result_free(&r);

    /* The wrong response element is a failure. */
    CHECK(soap(200, volume, "GetMute", &r) == -1);
    CHECK(contains(r.reason, "GetMuteResponse"));
    CHECK(r.doc == NULL && r.response == NULL);
    sn_soap_result_free(&r);

    /* GetZoneGroupState, then the document in its out argument. */
    size_t size;
    char *xml = read_fixture("get_zone_group_state_response.xml", &size);
    CHECK(xml != NULL);
    if (xml != NULL) {
        CHECK(sn_soap_parse_response(200, xml, size, "GetZoneGroupState", &r) == 0);
        const char *state = sn_soap_out(&r, "ZoneGroupState");
        CHECK(state != NULL && strncmp(state, "<ZoneGroupState><ZoneGroups>", 28) == 0);
        sn_topology topo;
        char err[256] = "";
        CHECK(state != NULL && sn_topology_parse(state, strlen(state), &topo, err, sizeof err) == 0);
        CHECK(topo.group_count == 2);
        sn_topology_free(&topo);
        sn_soap_result_free(&r);
        free(xml);
    }

    /* The 714 fault from the fixture. */
    xml = read_fixture("soap_fault_714.xml", &size);
    CHECK(xml != NULL);
    if (xml != NULL) {
        CHECK(sn_soap_parse_response(500, xml, size, "SetAVTransportURI", &r) == -1);
        CHECK(r.upnp_code == 714);
        CHECK_STR(r.reason, "UPnP error 714: illegal MIME-type (AVTransport)");
        CHECK(r.doc == NULL && r.response == NULL);
        sn_soap_result_free(&r);
        free(xml);
    }

    /* 7xx codes depend on the service the action belongs to. */
    CHECK(soap(500, FAULT("<errorCode>701</errorCode>"), "SetVolume", &r) == -1);
    CHECK_STR(r.reason, "UPnP error 701: invalid name (RenderingControl)");
    CHECK(soap(500, FAULT("<errorCode> 701 </errorCode>"), "Play", &r) == -1);
    CHECK_STR(r.reason, "UPnP error 701: transition not available (AVTransport)");
    CHECK(soap(500, FAULT("<errorCode>800</errorCode>"), "SetVolume", &r) == -1);
    CHECK(r.upnp_code == 800);
    CHECK(contains(r.reason, "UPnP error 800: not possible on this player in its current role"));
    CHECK(soap(500, FAULT("<errorCode>402</errorCode><errorDescription>Invalid Args</errorDescription>"),
               "SomeVendorAction", &r) == -1);
    CHECK_STR(r.reason, "UPnP error 402: invalid args");
    /* Codes the table cannot name show the device's own description, cleaned. */
    CHECK(soap(500, FAULT("<errorCode>899</errorCode><errorDescription>Bad\tthing\nsecond line</errorDescription>"),
               "Play", &r) == -1);
    CHECK_STR(r.reason, "UPnP error 899: Bad?thing (AVTransport)");

    /* Malformed faults. */
    CHECK(soap(500, FAULT(""), "Play", &r) == -1);
    CHECK(r.upnp_code == 0);
    CHECK(contains(r.reason, "without a UPnP error code"));
    CHECK(soap(500, ENVELOPE_OPEN "<s:Fault><faultcode>s:Server</faultcode><faultstring>boom</faultstring></s:Fault>" ENVELOPE_CLOSE,
               "Play", &r) == -1);
    CHECK(r.upnp_code == 0);
    CHECK_STR(r.reason, "HTTP 500: SOAP fault without a UPnP error code (boom)");
    CHECK(soap(500, FAULT("<errorCode>seven hundred</errorCode>"), "Play", &r) == -1);
    CHECK(r.upnp_code == 0);
    CHECK(contains(r.reason, "invalid UPnP errorCode \"seven hundred\""));
    CHECK(soap(500, FAULT("<errorCode>714x</errorCode>"), "Play", &r) == -1);
    CHECK(r.upnp_code == 0);
    CHECK(soap(500, FAULT("<errorCode>-714</errorCode>"), "Play", &r) == -1);
    CHECK(r.upnp_code == 0);
    CHECK(soap(500, FAULT("<errorCode>99999999999999999999</errorCode>"), "Play", &r) == -1);
    CHECK(r.upnp_code == 0);
    CHECK(soap(500, FAULT("<errorCode>0</errorCode>"), "Play", &r) == -1);
    CHECK(r.upnp_code == 0);
    CHECK(soap(500, FAULT("<errorCode><b>714</b></errorCode>"), "Play", &r) == -1);
    CHECK(r.upnp_code == 0);

    /* Not SOAP at all. */
    CHECK(soap(500, "<html><body>Internal Server Error</body></html>", "Play", &r) == -1);
    CHECK_STR(r.reason, "HTTP 500 (the body is not a SOAP fault)");
    CHECK(soap(500, "\x01\x02 garbage <<<", "Play", &r) == -1);
    CHECK_STR(r.reason, "HTTP 500 (the body is not a SOAP fault)");
    CHECK(soap(500, NULL, "Play", &r) == -1);
    CHECK_STR(r.reason, "HTTP 500 (the body is not a SOAP fault)");
    CHECK(soap(500, "<!DOCTYPE s [<!ENTITY a \"b\">]>" FAULT("<errorCode>714</errorCode>"), "Play", &r) == -1);
    CHECK(r.upnp_code == 0);
    CHECK(soap(503, "Service Unavailable", "Play", &r) == -1);
    CHECK_STR(r.reason, "HTTP 503");
    CHECK(soap(404, "", "Play", &r) == -1);
    CHECK_STR(r.reason, "HTTP 404");
    CHECK(soap(200, "not xml", "Play", &r) == -1);
    CHECK(contains(r.reason, "malformed"));
    CHECK(soap(200, "", "Play", &r) == -1);
    CHECK(soap(200, "<Envelope><Header/></Envelope>", "Play", &r) == -1);
    CHECK(contains(r.reason, "Body"));
    /* A fault sent with 200 is still a fault. */
    CHECK(soap(200, FAULT("<errorCode>714</errorCode>"), "SetAVTransportURI", &r) == -1);
    CHECK(r.upnp_code == 714);
    /* An over-long action name cannot overflow anything. */
    char long_action[400];
    memset(long_action, 'A', sizeof long_action - 1);
    long_action[sizeof long_action - 1] = '\0';
    CHECK(soap(200, volume, long_action, &r) == -1);
    CHECK(soap(200, volume, NULL, &r) == -1);
}

static void test_upnp_error_text(void) {
    CHECK_STR(sn_upnp_error_text(NULL, 401), "invalid action");
    CHECK_STR(sn_upnp_error_text("AVTransport", 402), "invalid args");
    CHECK_STR(sn_upnp_error_text(NULL, 501), "action failed");
    CHECK_STR(sn_upnp_error_text(NULL, 600), "argument value invalid");
    CHECK_STR(sn_upnp_error_text(NULL, 605), "string argument too long");
    CHECK_STR(sn_upnp_error_text("AVTransport", 701), "transition not available");
    CHECK_STR(sn_upnp_error_text("AVTransport", 714), "illegal MIME-type");
    CHECK_STR(sn_upnp_error_text("urn:schemas-upnp-org:service:AVTransport:1", 716), "resource not found");
    CHECK_STR(sn_upnp_error_text("AVTransport", 718), "invalid InstanceID");
    CHECK_STR(sn_upnp_error_text("RenderingControl", 701), "invalid name");
    CHECK_STR(sn_upnp_error_text("urn:schemas-upnp-org:service:RenderingControl:1", 702), "invalid InstanceID");
    CHECK_STR(sn_upnp_error_text("ConnectionManager", 701), "incompatible protocol info");
    CHECK_STR(sn_upnp_error_text(NULL, 714), "service-specific error");
    CHECK_STR(sn_upnp_error_text("AVTransport", 799), "service-specific error");
    CHECK(contains(sn_upnp_error_text("RenderingControl", 800), "group member"));
    CHECK_STR(sn_upnp_error_text(NULL, 850), "vendor-specific error");
    CHECK_STR(sn_upnp_error_text(NULL, 0), "unknown error");
    CHECK_STR(sn_upnp_error_text(NULL, -1), "unknown error");
    CHECK_STR(sn_upnp_error_text("Bogus", 123456), "unknown error");
}

/* ---- topology ------------------------------------------------------------------------------ */

static void test_topology_fixture(void) {
    size_t size;
    char *xml = read_fixture("get_zone_group_state_response.xml", &size);
    sn_soap_result r;
    CHECK(xml != NULL);
    if (xml == NULL) return;
    CHECK(sn_soap_parse_response(200, xml, size, "GetZoneGroupState", &r) == 0);
    const char *state = sn_soap_out(&r, "ZoneGroupState");
    sn_topology t;
    char err[256] = "";
    CHECK(state != NULL && sn_topology_parse(state, strlen(state), &t, err, sizeof err) == 0);
    CHECK(t.group_count == 2);
    if (t.group_count == 2) {
        const sn_zone_group *home = &t.groups[0];
        CHECK_STR(home->coordinator, "RINCON_38420B11AAAA01400");
        CHECK_STR(home->id, "RINCON_38420B11AAAA01400:2871");
        /* Arc, its three satellites, the Kitchen One. */
        CHECK(home->member_count == 5);
        if (home->member_count == 5) {
            CHECK_STR(home->members[0].uuid, "RINCON_38420B11AAAA01400");
            CHECK_STR(home->members[0].name, "Living Room");
            CHECK_STR(home->members[0].location, "http://192.168.1.41:1400/xml/device_description.xml");
            CHECK(!home->members[0].invisible);
            CHECK_STR(home->members[1].uuid, "RINCON_5CAAFD22BBBB01400");
            CHECK(home->members[1].invisible);
            CHECK(home->members[2].invisible && home->members[3].invisible);
            CHECK_STR(home->members[3].location, "http://192.168.1.44:1400/xml/device_description.xml");
            CHECK_STR(home->members[4].uuid, "RINCON_48A6B8C0FFEE01400");
            CHECK_STR(home->members[4].name, "Kitchen");
            CHECK(!home->members[4].invisible);
        }
        const sn_zone_group *bedroom = &t.groups[1];
        CHECK_STR(bedroom->coordinator, "RINCON_347E5C55EEEE01400");
        CHECK(bedroom->member_count == 2);
        if (bedroom->member_count == 2) {
            CHECK(!bedroom->members[0].invisible);
            CHECK_STR(bedroom->members[1].uuid, "RINCON_347E5C66FFFF01400");
            CHECK_STR(bedroom->members[1].name, "Bedroom");
            CHECK(bedroom->members[1].invisible); /* the stereo pair's second speaker */
        }
        CHECK(sn_topology_group_of(&t, "RINCON_48A6B8C0FFEE01400") == home);
        CHECK(sn_topology_group_of(&t, "RINCON_F0F6C133CCCC01400") == home); /* a satellite */
        CHECK(sn_topology_group_of(&t, "RINCON_347E5C66FFFF01400") == bedroom);
        CHECK(sn_topology_group_of(&t, "RINCON_000000000000") == NULL);
        CHECK(sn_topology_group_of(&t, "") == NULL);
        CHECK(sn_topology_group_of(&t, NULL) == NULL);
        CHECK(sn_topology_group_of(NULL, "RINCON_347E5C66FFFF01400") == NULL);
    }
    sn_topology_free(&t);
    sn_topology_free(&t);
    sn_soap_result_free(&r);
    free(xml);
}

static int topo(const char *xml, sn_topology *t, char *err, size_t err_size) {
    return sn_topology_parse(xml, strlen(xml), t, err, err_size);
}

static void test_topology_shapes(void) {
    sn_topology t;
    char err[256];

    /* Older firmware: <ZoneGroups> is the root. */
    const char *old = "<ZoneGroups><ZoneGroup Coordinator=\"RINCON_A\" ID=\"RINCON_A:5\">"
                      "<ZoneGroupMember UUID=\"RINCON_A\" Location=\"http://10.0.0.1:1400/xml/device_description.xml\" "
                      "ZoneName=\"Kid&apos;s Room &amp; Study\"/></ZoneGroup></ZoneGroups>";
    CHECK(topo(old, &t, err, sizeof err) == 0);
    CHECK(t.group_count == 1 && t.groups[0].member_count == 1);
    if (t.group_count == 1 && t.groups[0].member_count == 1) CHECK_STR(t.groups[0].members[0].name, "Kid's Room & Study");
    sn_topology_free(&t);

    /* Empty household (a player just booting). */
    CHECK(topo("<ZoneGroupState><ZoneGroups/><VanishedDevices/></ZoneGroupState>", &t, err, sizeof err) == 0);
    CHECK(t.group_count == 0 && t.groups == NULL);
    CHECK(sn_topology_group_of(&t, "RINCON_A") == NULL);
    sn_topology_free(&t);

    /* Wrong root / shape. */
    err[0] = '\0';
    CHECK(topo("<ZoneGroupState><Other/></ZoneGroupState>", &t, err, sizeof err) == -1);
    CHECK(err[0] != '\0' && t.group_count == 0 && t.groups == NULL);
    CHECK(topo("<html/>", &t, err, sizeof err) == -1);
    CHECK(topo("&lt;ZoneGroupState&gt;", &t, err, sizeof err) == -1); /* still escaped */
    err[0] = '\0';
    CHECK(topo("<!DOCTYPE z [<!ENTITY a SYSTEM \"http://evil/\">]><ZoneGroups>&a;</ZoneGroups>", &t, err, sizeof err) == -1);
    CHECK(contains(err, "DOCTYPE"));
    CHECK(sn_topology_parse(NULL, 0, &t, err, sizeof err) == -1);

    /* Members without UUID and groups without coordinator are left out; odd content is ignored. */
    const char *odd = "<ZoneGroups>text<ZoneGroup ID=\"x\"><ZoneGroupMember UUID=\"RINCON_X\"/></ZoneGroup>"
                      "<ZoneGroup Coordinator=\"RINCON_B\"><ZoneGroupMember ZoneName=\"no uuid\"/>"
                      "<ZoneGroupMember UUID=\"RINCON_B\" Invisible=\"0\"><Satellite ZoneName=\"no uuid\"/>"
                      "<Satellite UUID=\"RINCON_S\" Invisible=\"0\"/></ZoneGroupMember><Other UUID=\"RINCON_O\"/>"
                      "</ZoneGroup><ZoneGroup Coordinator=\"RINCON_C\"/></ZoneGroups>";
    CHECK(topo(odd, &t, err, sizeof err) == 0);
    CHECK(t.group_count == 2);
    if (t.group_count == 2) {
        CHECK_STR(t.groups[0].coordinator, "RINCON_B");
        CHECK_STR(t.groups[0].id, "");
        CHECK(t.groups[0].member_count == 2);
        if (t.groups[0].member_count == 2) {
            CHECK(!t.groups[0].members[0].invisible);
            CHECK(t.groups[0].members[1].invisible); /* satellites always are */
            CHECK_STR(t.groups[0].members[1].location, "");
        }
        CHECK(t.groups[1].member_count == 0 && t.groups[1].members == NULL);
        CHECK(sn_topology_group_of(&t, "RINCON_C") == &t.groups[1]);
    }
    sn_topology_free(&t);

    /* Over-long values. */
    sn_text x = {0};
    sn_text_puts(&x, "<ZoneGroups><ZoneGroup Coordinator=\"RINCON_A\" ID=\"");
    repeat(&x, "I", 300);
    sn_text_puts(&x, "\"><ZoneGroupMember UUID=\"RINCON_A\" ZoneName=\"");
    repeat(&x, "\xe2\x82\xac", 100); /* "€" */
    sn_text_puts(&x, "\" Location=\"http://10.0.0.1/");
    repeat(&x, "l", 600);
    sn_text_puts(&x, "\"/><ZoneGroupMember UUID=\"RINCON_");
    repeat(&x, "U", 100);
    sn_text_puts(&x, "\"/></ZoneGroup></ZoneGroups>");
    CHECK(topo(sn_text_str(&x), &t, err, sizeof err) == 0);
    CHECK(t.group_count == 1);
    if (t.group_count == 1) {
        CHECK_STR(t.groups[0].id, "");
        CHECK(t.groups[0].member_count == 1); /* the over-long UUID is not a player we can name */
        if (t.groups[0].member_count == 1) {
            CHECK(valid_utf8(t.groups[0].members[0].name));
            CHECK(strlen(t.groups[0].members[0].name) == 126); /* 42 whole "€" */
            CHECK_STR(t.groups[0].members[0].location, "");
        }
    }
    sn_topology_free(&t);
    sn_text_free(&x);

    /* Many groups and members: bounded. */
    sn_text_puts(&x, "<ZoneGroups>");
    repeat(&x, "<ZoneGroup Coordinator=\"RINCON_A\"><ZoneGroupMember UUID=\"RINCON_A\"/></ZoneGroup>", 200);
    sn_text_puts(&x, "<ZoneGroup Coordinator=\"RINCON_Z\">");
    repeat(&x, "<ZoneGroupMember UUID=\"RINCON_M\"><Satellite UUID=\"RINCON_S\"/></ZoneGroupMember>", 200);
    sn_text_puts(&x, "</ZoneGroup></ZoneGroups>");
    CHECK(topo(sn_text_str(&x), &t, err, sizeof err) == 0);
    CHECK(t.group_count == 64); /* the cap: far above a real household */
    sn_topology_free(&t);
    sn_text_free(&x);
    sn_text_puts(&x, "<ZoneGroups><ZoneGroup Coordinator=\"RINCON_Z\">");
    repeat(&x, "<ZoneGroupMember UUID=\"RINCON_M\"><Satellite UUID=\"RINCON_S\"/></ZoneGroupMember>", 200);
    sn_text_puts(&x, "</ZoneGroup></ZoneGroups>");
    CHECK(topo(sn_text_str(&x), &t, err, sizeof err) == 0);
    CHECK(t.group_count == 1 && t.groups[0].member_count == 64);
    sn_topology_free(&t);
    sn_text_free(&x);
}

/* ---- events -------------------------------------------------------------------------------- */

static void test_avtransport_event(void) {
    size_t size;
    char *xml = read_fixture("avtransport_event.xml", &size);
    CHECK(xml != NULL);
    if (xml == NULL) return;
    seen props = {0};
    char err[256] = "";
    CHECK(sn_event_properties(xml, size, seen_property, &props, err, sizeof err) == 0);
    CHECK(props.count == 1);
    const char *lastchange = seen_value(&props, "LastChange", NULL);
    CHECK(lastchange != NULL && strncmp(lastchange, "<Event xmlns=\"urn:schemas-upnp-org:metadata-1-0/AVT/\"", 53) == 0);

    seen vars = {0};
    CHECK(lastchange != NULL && sn_lastchange_values(lastchange, strlen(lastchange), seen_lastchange, &vars, err, sizeof err) == 0);
    CHECK_STR(seen_value(&vars, "TransportState", NULL), "PLAYING");
    CHECK(vars.count > 0 && !vars.has_channel[0]);
    CHECK_STR(seen_value(&vars, "CurrentTrack", NULL), "3");
    CHECK_STR(seen_value(&vars, "CurrentTrackDuration", NULL), "0:04:12");
    CHECK_STR(seen_value(&vars, "CurrentTrackURI", NULL), "x-sonosapi-hls-static:ALkSOiH%3a%3aT?sid=204&flags=8232&sn=3");
    CHECK_STR(seen_value(&vars, "AVTransportURI", NULL), "x-rincon-queue:RINCON_48A6B8C0FFEE01400#0");
    CHECK_STR(seen_value(&vars, "NextTrackURI", NULL), ""); /* r: prefix dropped */
    CHECK_STR(seen_value(&vars, "TransportStatus", NULL), "OK");

    sn_didl_item item;
    const char *meta = seen_value(&vars, "CurrentTrackMetaData", NULL);
    CHECK(meta != NULL && sn_didl_parse(meta, strlen(meta), &item) == 0);
    CHECK_STR(item.title, "Bohemian Rhapsody");
    CHECK_STR(item.artist, "Queen");
    CHECK_STR(item.album, "A Night at the Opera (2011 Remaster)");
    CHECK_STR(item.upnp_class, "object.item.audioItem.musicTrack");
    CHECK_STR(item.stream_content, "");
    CHECK_STR(item.album_art, "/getaa?s=1&u=x-sonosapi-hls-static%3aALkSOiH");
    CHECK_STR(seen_value(&vars, "CurrentCrossfadeMode", NULL), "0");

    meta = seen_value(&vars, "EnqueuedTransportURIMetaData", NULL);
    CHECK(meta != NULL && sn_didl_parse(meta, strlen(meta), &item) == 0);
    CHECK_STR(item.stream_content, "Radio Paradise - Talking Heads - Once in a Lifetime");
    CHECK_STR(item.upnp_class, "object.item");
    CHECK_STR(item.artist, "");
    CHECK_STR(item.album, "");

    /* Empty metadata is not DIDL. */
    meta = seen_value(&vars, "AVTransportURIMetaData", NULL);
    CHECK(meta != NULL && sn_didl_parse(meta, strlen(meta), &item) == -1);
    CHECK_STR(item.title, "");
    seen_free(&vars);
    seen_free(&props);
    free(xml);
}

static void test_renderingcontrol_event(void) {
    size_t size;
    char *xml = read_fixture("renderingcontrol_event.xml", &size);
    CHECK(xml != NULL);
    if (xml == NULL) return;
    seen props = {0};
    char err[256] = "";
    CHECK(sn_event_properties(xml, size, seen_property, &props, err, sizeof err) == 0);
    const char *lastchange = seen_value(&props, "LastChange", NULL);
    seen vars = {0};
    CHECK(lastchange != NULL && sn_lastchange_values(lastchange, strlen(lastchange), seen_lastchange, &vars, err, sizeof err) == 0);
    CHECK_STR(seen_value(&vars, "Volume", "Master"), "30");
    CHECK_STR(seen_value(&vars, "Volume", "LF"), "100");
    CHECK(seen_count(&vars, "Volume") == 3);
    CHECK_STR(seen_value(&vars, "Mute", "Master"), "0");
    CHECK_STR(seen_value(&vars, "OutputFixed", NULL), "0");
    CHECK_STR(seen_value(&vars, "PresetNameList", NULL), "FactoryDefaults");
    seen_free(&vars);
    seen_free(&props);
    free(xml);
}

static void test_event_shapes(void) {
    seen s = {0};
    char err[256];

    /* Several properties, plain values (e.g. a ZoneGroupTopology or DeviceProperties event). */
    const char *plain = "<e:propertyset xmlns:e=\"urn:schemas-upnp-org:event-1-0\">"
                        "<e:property><ZoneName>Kitchen</ZoneName></e:property>"
                        "<e:property><Invisible>0</Invisible></e:property>"
                        "<e:property/>text<other><x>1</x></other></e:propertyset>";
    CHECK(sn_event_properties(plain, strlen(plain), seen_property, &s, err, sizeof err) == 0);
    CHECK(s.count == 2);
    CHECK_STR(seen_value(&s, "ZoneName", NULL), "Kitchen");
    CHECK_STR(seen_value(&s, "Invisible", NULL), "0");
    seen_free(&s);

    err[0] = '\0';
    CHECK(sn_event_properties("<propertysets/>", 15, seen_property, &s, err, sizeof err) == -1);
    CHECK(contains(err, "propertyset"));
    CHECK(sn_event_properties("<e:propertyset>", 15, seen_property, &s, err, sizeof err) == -1);
    CHECK(sn_event_properties(NULL, 0, seen_property, &s, err, sizeof err) == -1);
    /* Entity expansion in the outer document is refused by the reader. */
    const char *laughs = "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]>"
                         "<e:propertyset xmlns:e=\"urn:schemas-upnp-org:event-1-0\"><e:property>"
                         "<LastChange>&lol2;</LastChange></e:property></e:propertyset>";
    err[0] = '\0';
    CHECK(sn_event_properties(laughs, strlen(laughs), seen_property, &s, err, sizeof err) == -1);
    CHECK(contains(err, "DOCTYPE"));
    CHECK(s.count == 0);

    /* A DOCTYPE smuggled in escaped inside LastChange: the outer parse hands over text, the inner
     * parse refuses it. */
    const char *smuggled = "<e:propertyset xmlns:e=\"urn:schemas-upnp-org:event-1-0\"><e:property><LastChange>"
                           "&lt;!DOCTYPE Event [&lt;!ENTITY xxe SYSTEM &quot;file:///etc/passwd&quot;&gt;]&gt;"
                           "&lt;Event&gt;&lt;InstanceID val=&quot;0&quot;&gt;&lt;TransportState val=&quot;&amp;xxe;&quot;/&gt;"
                           "&lt;/InstanceID&gt;&lt;/Event&gt;</LastChange></e:property></e:propertyset>";
    CHECK(sn_event_properties(smuggled, strlen(smuggled), seen_property, &s, err, sizeof err) == 0);
    const char *lc = seen_value(&s, "LastChange", NULL);
    CHECK(lc != NULL && strncmp(lc, "<!DOCTYPE", 9) == 0);
    seen vars = {0};
    err[0] = '\0';
    CHECK(lc != NULL && sn_lastchange_values(lc, strlen(lc), seen_lastchange, &vars, err, sizeof err) == -1);
    CHECK(contains(err, "DOCTYPE"));
    CHECK(vars.count == 0);
    seen_free(&s);

    /* Undefined entity without a DOCTYPE is an error too, never passed through. */
    const char *undefined = "<Event><InstanceID val=\"0\"><TransportState val=\"&xxe;\"/></InstanceID></Event>";
    CHECK(sn_lastchange_values(undefined, strlen(undefined), seen_lastchange, &vars, err, sizeof err) == -1);
    CHECK(vars.count == 0);

    /* Only InstanceID 0; variables without val are skipped. */
    const char *instances = "<Event xmlns=\"urn:schemas-upnp-org:metadata-1-0/RCS/\">"
                            "<InstanceID val=\"1\"><Volume channel=\"Master\" val=\"99\"/></InstanceID>"
                            "<InstanceID val=\" 0 \"><Volume Channel=\"Master\" val=\"12\"/><Mute/>"
                            "<Volume channel=\"LF\">77</Volume></InstanceID>"
                            "<InstanceID val=\"0\"><Volume channel=\"Master\" val=\"55\"/></InstanceID></Event>";
    CHECK(sn_lastchange_values(instances, strlen(instances), seen_lastchange, &vars, err, sizeof err) == 0);
    CHECK(vars.count == 1);
    CHECK_STR(seen_value(&vars, "Volume", "Master"), "12");
    seen_free(&vars);
    CHECK(sn_lastchange_values("<Event><InstanceID val=\"x\"/></Event>", 36, seen_lastchange, &vars, err, sizeof err) == 0);
    CHECK(vars.count == 0);
    err[0] = '\0';
    CHECK(sn_lastchange_values("<Events/>", 9, seen_lastchange, &vars, err, sizeof err) == -1);
    CHECK(contains(err, "Event"));
    CHECK(sn_lastchange_values("NOT_IMPLEMENTED", 15, seen_lastchange, &vars, err, sizeof err) == -1);
    CHECK(sn_lastchange_values(NULL, 0, seen_lastchange, &vars, err, sizeof err) == -1);
}

static void test_didl(void) {
    sn_didl_item item;
    CHECK(sn_didl_parse("NOT_IMPLEMENTED", 15, &item) == -1);
    CHECK(sn_didl_parse("", 0, &item) == -1);
    CHECK(sn_didl_parse(NULL, 0, &item) == -1);
    CHECK(sn_didl_parse("<Event/>", 8, &item) == -1);
    const char *xxe = "<!DOCTYPE DIDL-Lite [<!ENTITY t SYSTEM \"file:///etc/hostname\">]>"
                      "<DIDL-Lite><item><dc:title>&t;</dc:title></item></DIDL-Lite>";
    CHECK(sn_didl_parse(xxe, strlen(xxe), &item) == -1);
    CHECK_STR(item.title, "");

    /* A container, upnp:artist as the artist, whitespace trimmed, entities decoded. */
    const char *container = "<DIDL-Lite xmlns:dc=\"http://purl.org/dc/elements/1.1/\" "
                            "xmlns:upnp=\"urn:schemas-upnp-org:metadata-1-0/upnp/\">"
                            "<container id=\"FV:2/13\" parentID=\"FV:2\" restricted=\"false\">"
                            "<dc:title>\n  Rock &amp; Roll Radio  \n</dc:title><upnp:artist>Various</upnp:artist>"
                            "<upnp:class>object.container.playlistContainer</upnp:class></container></DIDL-Lite>";
    CHECK(sn_didl_parse(container, strlen(container), &item) == 0);
    CHECK_STR(item.title, "Rock & Roll Radio");
    CHECK_STR(item.artist, "Various");
    CHECK_STR(item.upnp_class, "object.container.playlistContainer");

    /* DIDL without an item: valid, empty. */
    CHECK(sn_didl_parse("<DIDL-Lite/>", 12, &item) == 0);
    CHECK_STR(item.title, "");

    /* Over-long values truncate to whole characters; wrong types do not confuse it. */
    sn_text t = {0};
    sn_text_puts(&t, "<DIDL-Lite><item><dc:title>");
    repeat(&t, "\xf0\x9f\x8e\xb5", 200); /* 4-byte "🎵" */
    sn_text_puts(&t, "</dc:title><dc:creator><b>x</b>Artist</dc:creator><upnp:album>");
    repeat(&t, "a", 1000);
    sn_text_puts(&t, "</upnp:album><upnp:class>");
    repeat(&t, "c", 300);
    sn_text_puts(&t, "</upnp:class></item></DIDL-Lite>");
    CHECK(sn_didl_parse(sn_text_str(&t), t.len, &item) == 0);
    CHECK(strlen(item.title) == 252 && valid_utf8(item.title));
    CHECK_STR(item.artist, "Artist");
    CHECK(strlen(item.album) == sizeof item.album - 1);
    CHECK(strlen(item.upnp_class) == sizeof item.upnp_class - 1);
    sn_text_free(&t);
}

int main(void) {
    test_sonos_description();
    test_generic_renderer_description();
    test_description_url_base();
    test_description_hostile();
    test_soap_envelope();
    test_soap_responses();
    test_upnp_error_text();
    test_topology_fixture();
    test_topology_shapes();
    test_avtransport_event();
    test_renderingcontrol_event();
    test_event_shapes();
    test_didl();
    return CHECK_DONE("test_documents") != 0;
}

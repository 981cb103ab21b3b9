/* The devices' side for unit tests (fake_devices.h). */
#define _POSIX_C_SOURCE 200809L

#include "fake_devices.h"
#include "text.h"

#include <stdio.h>
#include <string.h>

static void service(sn_description *d, const char *base, const char *name, const char *path)
{
    sn_service *s = &d->services[d->service_count++];
    snprintf(s->type, sizeof s->type, "urn:schemas-upnp-org:service:%s:1", name);
    snprintf(s->control_url, sizeof s->control_url, "%s/%s/Control", base, path);
    snprintf(s->event_url, sizeof s->event_url, "%s/%s/Event", base, path);
}

void fake_location(char *out, size_t size, const char *ip, bool sonos)
{
    if (sonos) snprintf(out, size, "http://%s:1400/xml/device_description.xml", ip);
    else snprintf(out, size, "http://%s:49152/description.xml", ip);
}

void fake_description(sn_description *d, const char *uuid, const char *room, const char *ip, bool sonos)
{
    memset(d, 0, sizeof *d);
    char base[96];
    snprintf(base, sizeof base, "http://%s:%s", ip, sonos ? "1400" : "49152");
    sn_copy(d->udn, sizeof d->udn, uuid);
    sn_copy(d->device_type, sizeof d->device_type,
            sonos ? "urn:schemas-upnp-org:device:ZonePlayer:1" : "urn:schemas-upnp-org:device:MediaRenderer:1");
    sn_copy(d->friendly_name, sizeof d->friendly_name, room);
    if (sonos) sn_copy(d->room_name, sizeof d->room_name, room);
    sn_copy(d->manufacturer, sizeof d->manufacturer, sonos ? "Sonos, Inc." : "gmediarender project");
    sn_copy(d->model_name, sizeof d->model_name, sonos ? "Sonos One" : "gmediarender");
    d->is_sonos = sonos;
    service(d, base, "AVTransport", "MediaRenderer/AVTransport");
    service(d, base, "RenderingControl", "MediaRenderer/RenderingControl");
    if (sonos) {
        service(d, base, "GroupRenderingControl", "MediaRenderer/GroupRenderingControl");
        service(d, base, "ZoneGroupTopology", "ZoneGroupTopology");
    }
}

sn_speaker *fake_speaker(sb_instance *inst, const char *uuid, const char *room, const char *ip, bool sonos)
{
    sn_description d;
    char location[128];
    fake_description(&d, uuid, room, ip, sonos);
    fake_location(location, sizeof location, ip, sonos);
    sn_speaker *s = sn_speaker_by_uuid(inst, uuid);
    if (s == NULL) s = sn_speaker_add(inst, uuid);
    if (s != NULL) sn_speaker_apply_description(inst, s, &d, location);
    return s;
}

const char *fake_soap_action(const fake_request *r)
{
    static char action[64];
    action[0] = '\0';
    const char *p = strstr(r->headers, "SOAPACTION: ");
    const char *hash = p != NULL ? strchr(p, '#') : NULL;
    if (hash == NULL) return action;
    size_t n = strcspn(hash + 1, "\"\n");
    snprintf(action, sizeof action, "%.*s", (int)n, hash + 1);
    return action;
}

void fake_soap_answer(fake_host *f, fake_request *r, const char *const *out_args)
{
    sn_text body = { 0 };
    sn_text_printf(&body, "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                          "<s:Body><u:%sResponse xmlns:u=\"urn:schemas-upnp-org:service:X:1\">", fake_soap_action(r));
    for (size_t i = 0; out_args != NULL && out_args[i] != NULL && out_args[i + 1] != NULL; i += 2) {
        sn_text_printf(&body, "<%s>", out_args[i]);
        sn_text_xml_escaped(&body, out_args[i + 1]);
        sn_text_printf(&body, "</%s>", out_args[i]);
    }
    sn_text_printf(&body, "</u:%sResponse></s:Body></s:Envelope>", fake_soap_action(r));
    fake_http_answer(f, r, 200, "Content-Type: text/xml", sn_text_str(&body));
    sn_text_free(&body);
}

void fake_soap_fault(fake_host *f, fake_request *r, int code)
{
    char body[1024];
    snprintf(body, sizeof body,
             "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>"
             "<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>"
             "<UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>%d</errorCode></UPnPError>"
             "</detail></s:Fault></s:Body></s:Envelope>", code);
    fake_http_answer(f, r, 500, "Content-Type: text/xml", body);
}

/* UPnP device descriptions: who the device is, and where its services' control and event URLs
 * are. The document comes from whatever answered SSDP, so every value is bounded, trimmed and
 * checked before it reaches the fixed-size fields of sn_description. */
#include "description.h"

#include "text.h"
#include "url.h"
#include "xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Embedded devices nest (a Sonos player: ZonePlayer > MediaRenderer, MediaServer); real devices
 * go two levels deep. The bounds only keep a hostile document from making us walk forever. */
#define MAX_DEVICE_DEPTH 8
#define MAX_DEVICES 32

/* The trimmed text of a child as a new string ("" when absent); NULL only on allocation failure. */
static char *child_value(const sn_xml_node *node, const char *name) {
    size_t n;
    const char *s = sn_trimmed(sn_xml_child_text(node, name), &n);
    return sn_strndup(s, n);
}

typedef struct walk {
    sn_description *out;
    const char *base;
    size_t devices_seen;
    int out_of_memory;
} walk;

static int is_renderer(const sn_xml_node *device) {
    const char *type = sn_xml_child_text(device, "deviceType");
    return type != NULL && strstr(type, ":device:MediaRenderer:") != NULL;
}

/* Resolves a control or event URL into `dst`; -1 when it cannot be resolved or does not fit. */
static int resolve_into(walk *w, char *dst, size_t dst_size, const sn_xml_node *service, const char *name) {
    char *ref = child_value(service, name);
    if (ref == NULL) {
        w->out_of_memory = 1;
        return -1;
    }
    int rc = -1;
    if (ref[0] != '\0') {
        char *abs = sn_url_resolve(w->base, ref);
        sn_url check;
        /* Only http:// URLs we can later connect to are kept, whatever the reference was
         * ("ftp://…", "javascript:…", an over-long path). */
        if (abs != NULL && sn_url_parse(abs, &check) && sn_copy_trimmed_exact(dst, dst_size, abs) == 0) rc = 0;
        free(abs);
    }
    free(ref);
    return rc;
}

static void add_services(walk *w, const sn_xml_node *device) {
    const sn_xml_node *list = sn_xml_child(device, "serviceList");
    if (list == NULL) return;
    for (size_t i = 0; i < list->child_count && w->out->service_count < SN_MAX_SERVICES; i++) {
        const sn_xml_node *svc = list->children[i];
        if (strcmp(svc->name, "service") != 0) continue;
        sn_service *s = &w->out->services[w->out->service_count];
        memset(s, 0, sizeof *s);
        /* A service without a usable type or control URL cannot be called: skip it, keep the rest. */
        if (sn_copy_trimmed_exact(s->type, sizeof s->type, sn_xml_child_text(svc, "serviceType")) != 0 || s->type[0] == '\0')
            continue;
        if (resolve_into(w, s->control_url, sizeof s->control_url, svc, "controlURL") != 0) continue;
        /* No (usable) eventSubURL just means no events for this service. */
        if (resolve_into(w, s->event_url, sizeof s->event_url, svc, "eventSubURL") != 0) s->event_url[0] = '\0';
        w->out->service_count++;
    }
}

/* Depth-first over the device tree. Pass 0 takes the services of MediaRenderer devices, pass 1
 * those of all others. Renderer services come first because some names exist twice on a Sonos
 * player (ConnectionManager under both MediaServer and MediaRenderer), and the renderer's is
 * the one sn_description_service should find; it also keeps them when the list is capped. */
static void collect(walk *w, const sn_xml_node *device, int depth, int pass) {
    if (depth > MAX_DEVICE_DEPTH || w->devices_seen >= MAX_DEVICES) return;
    w->devices_seen++;
    if (is_renderer(device) == (pass == 0)) add_services(w, device);
    const sn_xml_node *list = sn_xml_child(device, "deviceList");
    if (list == NULL) return;
    for (size_t i = 0; i < list->child_count; i++) {
        if (strcmp(list->children[i]->name, "device") == 0) collect(w, list->children[i], depth + 1, pass);
    }
}

int sn_description_parse(const char *xml, size_t size, const char *location, sn_description *out,
                         char *err, size_t err_size) {
    char xml_err[160] = "";
    char msg[256];
    int rc = -1;

    if (out == NULL) {
        sn_set_err(err, err_size, "no output");
        return -1;
    }
    memset(out, 0, sizeof *out);
    if (xml == NULL) {
        sn_set_err(err, err_size, "no description document");
        return -1;
    }

    sn_xml_node *root = sn_xml_parse(xml, size, xml_err, sizeof xml_err);
    if (root == NULL) {
        snprintf(msg, sizeof msg, "device description: %s", xml_err);
        sn_set_err(err, err_size, "%s", msg);
        return -1;
    }
    char *url_base = NULL;

    if (strcmp(root->name, "root") != 0) {
        snprintf(msg, sizeof msg, "device description: root element is <%.64s>, not <root>", root->name);
        sn_set_err(err, err_size, "%s", msg);
        goto done;
    }
    const sn_xml_node *device = sn_xml_child(root, "device");
    if (device == NULL) {
        sn_set_err(err, err_size, "device description: no <device>");
        goto done;
    }

    /* The UDN identifies the player everywhere else (topology, SSDP USN); keep it only whole. */
    char udn[sizeof out->udn + 5];
    if (sn_copy_trimmed_exact(udn, sizeof udn, sn_xml_child_text(device, "UDN")) != 0) {
        sn_set_err(err, err_size, "device description: <UDN> too long");
        goto done;
    }
    const char *id = udn;
    if (strncmp(id, "uuid:", 5) == 0) id += 5;
    if (id[0] == '\0' || sn_copy_trimmed_exact(out->udn, sizeof out->udn, id) != 0) {
        sn_set_err(err, err_size, "device description: missing or over-long <UDN>");
        goto done;
    }

    sn_copy_trimmed(out->device_type, sizeof out->device_type, sn_xml_child_text(device, "deviceType"));
    sn_copy_trimmed(out->friendly_name, sizeof out->friendly_name, sn_xml_child_text(device, "friendlyName"));
    sn_copy_trimmed(out->room_name, sizeof out->room_name, sn_xml_child_text(device, "roomName"));
    sn_copy_trimmed(out->manufacturer, sizeof out->manufacturer, sn_xml_child_text(device, "manufacturer"));
    sn_copy_trimmed(out->model_name, sizeof out->model_name, sn_xml_child_text(device, "modelName"));
    sn_copy_trimmed(out->model_number, sizeof out->model_number, sn_xml_child_text(device, "modelNumber"));
    sn_copy_trimmed(out->display_name, sizeof out->display_name, sn_xml_child_text(device, "displayName"));
    out->is_sonos = strstr(out->device_type, "ZonePlayer") != NULL || strncmp(out->manufacturer, "Sonos", 5) == 0;

    /* URLBase (UDA 1.0; dropped in 1.1 but still sent by some stacks) wins over the LOCATION when
     * it is a usable URL; a broken URLBase falls back to the LOCATION rather than losing every
     * service. */
    url_base = child_value(root, "URLBase");
    if (url_base == NULL) {
        sn_set_err(err, err_size, "out of memory");
        goto done;
    }
    sn_url parsed;
    const char *base = NULL;
    if (url_base[0] != '\0' && sn_url_parse(url_base, &parsed)) base = url_base;
    else if (location != NULL && sn_url_parse(location, &parsed)) base = location;
    if (base == NULL) {
        sn_set_err(err, err_size, "device description: no usable URLBase or LOCATION to resolve URLs against");
        goto done;
    }

    walk w = {.out = out, .base = base, .devices_seen = 0, .out_of_memory = 0};
    collect(&w, device, 0, 0);
    w.devices_seen = 0;
    collect(&w, device, 0, 1);
    if (w.out_of_memory) {
        sn_set_err(err, err_size, "out of memory");
        goto done;
    }
    rc = 0;

done:
    free(url_base);
    sn_xml_free(root);
    if (rc != 0) memset(out, 0, sizeof *out);
    return rc;
}

/* "urn:<domain>:service:<name>:<version>", version all digits; the domain differs by vendor
 * (schemas-upnp-org, schemas-sonos-com, schemas-tencent-com). */
static int type_matches(const char *type, const char *name) {
    if (strncmp(type, "urn:", 4) != 0) return 0;
    const char *svc = strstr(type + 4, ":service:");
    if (svc == NULL) return 0;
    const char *p = svc + 9;
    size_t n = strlen(name);
    if (strncmp(p, name, n) != 0 || p[n] != ':') return 0;
    p += n + 1;
    if (*p == '\0') return 0;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') return 0;
    }
    return 1;
}

const sn_service *sn_description_service(const sn_description *d, const char *name) {
    if (d == NULL || name == NULL || name[0] == '\0') return NULL;
    for (size_t i = 0; i < d->service_count && i < SN_MAX_SERVICES; i++) {
        if (type_matches(d->services[i].type, name)) return &d->services[i];
    }
    return NULL;
}

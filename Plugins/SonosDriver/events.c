/* GENA event bodies and the documents nested in them. Three layers, each parsed by sn_xml_parse
 * on its own: the <propertyset> (text decoded once), the LastChange <Event> inside a property's
 * text, and the DIDL-Lite inside a LastChange val attribute. Going through the same parser at
 * every layer is what keeps a DOCTYPE or entity smuggled in as escaped text from being expanded
 * by anything. */
#include "events.h"
#include "text.h"

#include "xml.h"

#include <stdio.h>
#include <string.h>

int sn_event_properties(const void *body, size_t size, sn_event_value_fn each, void *user, char *err,
                        size_t err_size) {
    char xml_err[160] = "";
    if (body == NULL || each == NULL) {
        sn_set_err(err, err_size, "event: no body");
        return -1;
    }
    sn_xml_node *root = sn_xml_parse((const char *)body, size, xml_err, sizeof xml_err);
    if (root == NULL) {
        sn_set_err(err, err_size, "%s: %s", "event", xml_err);
        return -1;
    }
    if (strcmp(root->name, "propertyset") != 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "root element is <%.48s>, not <propertyset>", root->name);
        sn_set_err(err, err_size, "%s: %s", "event", msg);
        sn_xml_free(root);
        return -1;
    }
    /* Each <property> holds one variable in principle; taking every child element also copes
     * with stacks that put several into one property. Values are passed untrimmed: LastChange
     * and ZoneGroupState are documents whose text is the caller's to parse. */
    for (size_t i = 0; i < root->child_count; i++) {
        const sn_xml_node *property = root->children[i];
        if (strcmp(property->name, "property") != 0) continue;
        for (size_t j = 0; j < property->child_count; j++) {
            each(user, property->children[j]->name, property->children[j]->text);
        }
    }
    sn_xml_free(root);
    return 0;
}

/* True when the InstanceID's val is 0 (whitespace tolerated, "00" too: it is a ui4). */
static int is_instance_zero(const sn_xml_node *instance) {
    size_t n;
    const char *v = sn_trimmed(sn_xml_attr_value(instance, "val"), &n);
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] != '0') return 0;
    }
    return 1;
}

int sn_lastchange_values(const char *xml, size_t size, sn_lastchange_fn each, void *user, char *err,
                         size_t err_size) {
    char xml_err[160] = "";
    if (xml == NULL || each == NULL) {
        sn_set_err(err, err_size, "LastChange: no document");
        return -1;
    }
    sn_xml_node *root = sn_xml_parse(xml, size, xml_err, sizeof xml_err);
    if (root == NULL) {
        sn_set_err(err, err_size, "%s: %s", "LastChange", xml_err);
        return -1;
    }
    if (strcmp(root->name, "Event") != 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "root element is <%.48s>, not <Event>", root->name);
        sn_set_err(err, err_size, "%s: %s", "LastChange", msg);
        sn_xml_free(root);
        return -1;
    }
    /* Only InstanceID 0 exists on the renderers we drive; other instances are not ours to
     * report. An event without it is valid and simply says nothing. */
    for (size_t i = 0; i < root->child_count; i++) {
        const sn_xml_node *instance = root->children[i];
        if (strcmp(instance->name, "InstanceID") != 0 || !is_instance_zero(instance)) continue;
        for (size_t j = 0; j < instance->child_count; j++) {
            const sn_xml_node *var = instance->children[j];
            const char *value = sn_xml_attr_value(var, "val");
            /* A variable without val carries nothing we could report. */
            if (value == NULL) continue;
            const char *channel = sn_xml_attr_value(var, "channel");
            if (channel == NULL) channel = sn_xml_attr_value(var, "Channel");
            each(user, var->name, channel, value);
        }
        break;
    }
    sn_xml_free(root);
    return 0;
}

int sn_didl_parse(const char *xml, size_t size, sn_didl_item *out) {
    char xml_err[160];
    if (out == NULL) return -1;
    memset(out, 0, sizeof *out);
    /* Sonos sends "NOT_IMPLEMENTED" or "" where there is no metadata; both fail here, as does
     * anything the XML reader refuses. */
    if (xml == NULL || size == 0) return -1;
    sn_xml_node *root = sn_xml_parse(xml, size, xml_err, sizeof xml_err);
    if (root == NULL) return -1;
    if (strcmp(root->name, "DIDL-Lite") != 0) {
        sn_xml_free(root);
        return -1;
    }
    /* Tracks are <item>s; some radio and favourites metadata describes a <container>. */
    const sn_xml_node *item = sn_xml_child(root, "item");
    if (item == NULL) item = sn_xml_child(root, "container");
    if (item != NULL) {
        sn_copy_trimmed(out->title, sizeof out->title, sn_xml_child_text(item, "title"));
        const char *artist = sn_xml_child_text(item, "creator");
        /* upnp:artist is the other place renderers put the artist when dc:creator is absent. */
        if (artist == NULL) artist = sn_xml_child_text(item, "artist");
        sn_copy_trimmed(out->artist, sizeof out->artist, artist);
        sn_copy_trimmed(out->album, sizeof out->album, sn_xml_child_text(item, "album"));
        sn_copy_trimmed(out->upnp_class, sizeof out->upnp_class, sn_xml_child_text(item, "class"));
        sn_copy_trimmed(out->stream_content, sizeof out->stream_content, sn_xml_child_text(item, "streamContent"));
        /* A URL: whole or not at all (a cut one would point elsewhere). */
        if (sn_copy_trimmed_exact(out->album_art, sizeof out->album_art, sn_xml_child_text(item, "albumArtURI")) != 0) {
            out->album_art[0] = '\0';
        }
    }
    sn_xml_free(root);
    return 0;
}

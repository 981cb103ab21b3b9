/* Readers and builders for the commands' Sonos documents (commands_parse.h). The documents come
 * from the LAN, so every value is bounded and nothing is trusted to be there. */
#define _POSIX_C_SOURCE 200809L

#include "commands_parse.h"
#include "xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool title_is(const char *have, const char *want)
{
    size_t a, b;
    const char *x = sn_trimmed(have, &a), *y = sn_trimmed(want, &b);
    return a == b && a > 0 && strncasecmp(x, y, a) == 0;
}

/* Favorites of playlists and albums point at a container: they go through the queue (as
 * node-sonos-http-api's favorite action does for x-rincon-cpcontainer: URIs). */
static bool is_container(const sn_xml_node *node, const char *uri, const char *metadata)
{
    if (strcmp(node->name, "container") == 0) return true;
    static const char *const prefixes[] = { "x-rincon-cpcontainer:", "x-rincon-playlist:", "file:///jffs/settings/savedqueues.rsq" };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (strncmp(uri, prefixes[i], strlen(prefixes[i])) == 0) return true;
    }
    return metadata != NULL && strstr(metadata, "object.container") != NULL;
}

int sn_didl_find(const char *didl, const char *title, sn_didl_entry *out, sn_text *seen, size_t *returned,
                 char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    if (returned != NULL) *returned = 0;
    if (didl == NULL || didl[0] == '\0') return 0;
    char xml_err[160] = "";
    sn_xml_node *root = sn_xml_parse(didl, strlen(didl), xml_err, sizeof xml_err);
    if (root == NULL) {
        sn_set_err(err, err_size, "unreadable Browse result: %s", xml_err);
        return -1;
    }
    int found = 0;
    size_t n = 0;
    for (size_t i = 0; i < root->child_count && !found; i++) {
        const sn_xml_node *e = root->children[i];
        if (strcmp(e->name, "item") != 0 && strcmp(e->name, "container") != 0) continue;
        n++;
        const char *t = sn_xml_child_text(e, "title");
        if (t == NULL) continue;
        if (!title_is(t, title)) {
            if (seen != NULL) {
                size_t len;
                const char *trimmed = sn_trimmed(t, &len);
                char name[256];
                snprintf(name, sizeof name, "%.*s", (int)(len < 255 ? len : 255), trimmed);
                if (seen->len > 0) sn_text_puts(seen, ", ");
                sn_text_json_string(seen, name);
            }
            continue;
        }
        const char *uri = sn_xml_child_text(e, "res");
        const char *metadata = sn_xml_child_text(e, "resMD");
        sn_copy_trimmed(out->title, sizeof out->title, t);
        /* A cut id or URI would name something else: refuse it instead. */
        if (sn_copy_trimmed_exact(out->id, sizeof out->id, sn_xml_attr_value(e, "id")) != 0 ||
            sn_copy_trimmed_exact(out->uri, sizeof out->uri, uri) != 0) {
            sn_set_err(err, err_size, "\"%s\" has an id or URI too long to play", out->title);
            sn_xml_free(root);
            return -1;
        }
        if (metadata != NULL && metadata[0] != '\0') out->metadata = sn_strdup(metadata);
        out->container = is_container(e, out->uri, out->metadata);
        found = 1;
    }
    sn_xml_free(root);
    if (returned != NULL) *returned = n;
    return found;
}

void sn_didl_entry_free(sn_didl_entry *e)
{
    free(e->metadata);
    e->metadata = NULL;
}

void sn_didl_playlist(sn_text *out, const sn_didl_entry *e)
{
    sn_text_puts(out, "<DIDL-Lite xmlns:dc=\"http://purl.org/dc/elements/1.1/\" "
                      "xmlns:upnp=\"urn:schemas-upnp-org:metadata-1-0/upnp/\" "
                      "xmlns:r=\"urn:schemas-rinconnetworks-com:metadata-1-0/\" "
                      "xmlns=\"urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/\"><item id=\"");
    sn_text_xml_escaped(out, e->id);
    sn_text_puts(out, "\" parentID=\"SQ:\" restricted=\"true\"><dc:title>");
    sn_text_xml_escaped(out, e->title);
    sn_text_puts(out, "</dc:title><upnp:class>object.container.playlistContainer</upnp:class>"
                      "<desc id=\"cdudn\" nameSpace=\"urn:schemas-rinconnetworks-com:metadata-1-0/\">"
                      "RINCON_AssociatedZPUDN</desc></item></DIDL-Lite>");
}

static bool flag(const char *v) { return v != NULL && strcmp(v, "1") == 0; }

static int exact(char *dst, size_t size, const char *v) { return sn_copy_trimmed_exact(dst, size, v != NULL ? v : ""); }

int sn_alarms_parse(const char *xml, sn_alarm **alarms, size_t *count, char *err, size_t err_size)
{
    *alarms = NULL;
    *count = 0;
    if (xml == NULL || xml[0] == '\0') return 0;
    char xml_err[160] = "";
    sn_xml_node *root = sn_xml_parse(xml, strlen(xml), xml_err, sizeof xml_err);
    if (root == NULL || strcmp(root->name, "Alarms") != 0) {
        sn_set_err(err, err_size, "unreadable alarm list: %s", root == NULL ? xml_err : "the root is not <Alarms>");
        sn_xml_free(root);
        return -1;
    }
    sn_alarm *list = calloc(root->child_count > 0 ? root->child_count : 1, sizeof *list);
    if (list == NULL) {
        sn_set_err(err, err_size, "out of memory");
        sn_xml_free(root);
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < root->child_count; i++) {
        const sn_xml_node *a = root->children[i];
        if (strcmp(a->name, "Alarm") != 0) continue;
        sn_alarm *x = &list[n];
        const char *id = sn_xml_attr_value(a, "ID"), *volume = sn_xml_attr_value(a, "Volume");
        char *end = NULL;
        unsigned long v = id != NULL ? strtoul(id, &end, 10) : 0;
        /* An alarm we could not write back unchanged is left out rather than half read. */
        if (id == NULL || end == id || *end != '\0' || v > UINT32_MAX ||
            exact(x->start_time, sizeof x->start_time, sn_xml_attr_value(a, "StartTime")) != 0 ||
            exact(x->duration, sizeof x->duration, sn_xml_attr_value(a, "Duration")) != 0 ||
            exact(x->recurrence, sizeof x->recurrence, sn_xml_attr_value(a, "Recurrence")) != 0 ||
            exact(x->room_uuid, sizeof x->room_uuid, sn_xml_attr_value(a, "RoomUUID")) != 0 ||
            exact(x->program_uri, sizeof x->program_uri, sn_xml_attr_value(a, "ProgramURI")) != 0 ||
            exact(x->play_mode, sizeof x->play_mode, sn_xml_attr_value(a, "PlayMode")) != 0) {
            memset(x, 0, sizeof *x);
            continue;
        }
        const char *md = sn_xml_attr_value(a, "ProgramMetaData");
        x->program_metadata = sn_strdup(md != NULL ? md : "");
        if (x->program_metadata == NULL) continue;
        x->id = (uint32_t)v;
        x->enabled = flag(sn_xml_attr_value(a, "Enabled"));
        x->include_linked_zones = flag(sn_xml_attr_value(a, "IncludeLinkedZones"));
        x->volume = volume != NULL ? atoi(volume) : 0;
        n++;
    }
    sn_xml_free(root);
    *alarms = list;
    *count = n;
    return 0;
}

void sn_alarms_free(sn_alarm *alarms, size_t count)
{
    for (size_t i = 0; alarms != NULL && i < count; i++) free(alarms[i].program_metadata);
    free(alarms);
}

void sn_minutes_hms(uint32_t minutes, char *out, size_t size)
{
    snprintf(out, size, "%02u:%02u:00", (unsigned)(minutes / 60), (unsigned)(minutes % 60));
}

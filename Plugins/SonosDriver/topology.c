/* ZoneGroupState → groups, coordinators and members. The same document arrives from every player
 * in a household (answer to GetZoneGroupState, or a ZoneGroupTopology event), so it is parsed
 * often and must never be trusted for sizes: groups and members are bounded and every value is
 * checked against its field. */
#include "topology.h"
#include "text.h"

#include "xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Far above real households (Sonos supports 32 players), low enough that a hostile document
 * cannot make us allocate much: at most 64 * 64 members of ~700 bytes, under 3 MB. */
#define MAX_GROUPS 64
#define MAX_MEMBERS 64

/* Fills `m` from a <ZoneGroupMember> or <Satellite>; -1 when it has no usable UUID. */
static int read_member(const sn_xml_node *node, bool satellite, sn_zone_member *m) {
    memset(m, 0, sizeof *m);
    if (sn_copy_trimmed_exact(m->uuid, sizeof m->uuid, sn_xml_attr_value(node, "UUID")) != 0 || m->uuid[0] == '\0') return -1;
    sn_copy_trimmed(m->name, sizeof m->name, sn_xml_attr_value(node, "ZoneName"));
    if (sn_copy_trimmed_exact(m->location, sizeof m->location, sn_xml_attr_value(node, "Location")) != 0) m->location[0] = '\0';
    size_t n;
    const char *inv = sn_trimmed(sn_xml_attr_value(node, "Invisible"), &n);
    /* A satellite (surround, sub of a home theatre) is never a room of its own, whatever its
     * Invisible attribute says. */
    m->invisible = satellite || (n == 1 && inv[0] == '1') || (n == 4 && strncmp(inv, "true", 4) == 0);
    /* A Boost or Bridge only extends the network: no speaker, never a room (SoCo's
     * zonegroupstate.py reads the same attribute as is_bridge). */
    const char *bridge = sn_trimmed(sn_xml_attr_value(node, "IsZoneBridge"), &n);
    m->bridge = n == 1 && bridge[0] == '1';
    if (m->bridge) m->invisible = true;
    return 0;
}

static int read_group(const sn_xml_node *node, sn_zone_group *g) {
    memset(g, 0, sizeof *g);
    /* Without a coordinator nothing can be sent to the group; such a group is left out. */
    if (sn_copy_trimmed_exact(g->coordinator, sizeof g->coordinator, sn_xml_attr_value(node, "Coordinator")) != 0 ||
        g->coordinator[0] == '\0')
        return 1;
    if (sn_copy_trimmed_exact(g->id, sizeof g->id, sn_xml_attr_value(node, "ID")) != 0) g->id[0] = '\0';

    /* Sized to what is there (members and their satellites), so real documents cost little. */
    size_t wanted = 0;
    for (size_t i = 0; i < node->child_count; i++) {
        const sn_xml_node *member = node->children[i];
        if (strcmp(member->name, "ZoneGroupMember") != 0) continue;
        wanted++;
        for (size_t j = 0; j < member->child_count; j++) wanted += strcmp(member->children[j]->name, "Satellite") == 0;
    }
    if (wanted > MAX_MEMBERS) wanted = MAX_MEMBERS;
    if (wanted == 0) return 0;
    g->members = calloc(wanted, sizeof *g->members);
    if (g->members == NULL) return -1;
    for (size_t i = 0; i < node->child_count && g->member_count < wanted; i++) {
        const sn_xml_node *member = node->children[i];
        if (strcmp(member->name, "ZoneGroupMember") != 0) continue;
        if (read_member(member, false, &g->members[g->member_count]) == 0) g->member_count++;
        for (size_t j = 0; j < member->child_count && g->member_count < wanted; j++) {
            const sn_xml_node *sat = member->children[j];
            if (strcmp(sat->name, "Satellite") != 0) continue;
            if (read_member(sat, true, &g->members[g->member_count]) == 0) g->member_count++;
        }
    }
    if (g->member_count == 0) {
        free(g->members);
        g->members = NULL;
    }
    return 0;
}

int sn_topology_parse(const char *xml, size_t size, sn_topology *out, char *err, size_t err_size) {
    char xml_err[160] = "";
    char msg[256];
    if (out == NULL) {
        sn_set_err(err, err_size, "no output");
        return -1;
    }
    memset(out, 0, sizeof *out);
    if (xml == NULL) {
        sn_set_err(err, err_size, "no ZoneGroupState document");
        return -1;
    }
    sn_xml_node *root = sn_xml_parse(xml, size, xml_err, sizeof xml_err);
    if (root == NULL) {
        snprintf(msg, sizeof msg, "ZoneGroupState: %s", xml_err);
        sn_set_err(err, err_size, "%s", msg);
        return -1;
    }
    const sn_xml_node *groups = NULL;
    if (strcmp(root->name, "ZoneGroupState") == 0) groups = sn_xml_child(root, "ZoneGroups");
    else if (strcmp(root->name, "ZoneGroups") == 0) groups = root;
    if (groups == NULL) {
        snprintf(msg, sizeof msg, "ZoneGroupState: root element <%.64s> has no <ZoneGroups>", root->name);
        sn_set_err(err, err_size, "%s", msg);
        sn_xml_free(root);
        return -1;
    }

    sn_topology t = {0};
    int rc = 0;
    size_t wanted = 0;
    for (size_t i = 0; i < groups->child_count; i++) wanted += strcmp(groups->children[i]->name, "ZoneGroup") == 0;
    if (wanted > MAX_GROUPS) wanted = MAX_GROUPS;
    if (wanted > 0) {
        t.groups = calloc(wanted, sizeof *t.groups);
        if (t.groups == NULL) rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < groups->child_count && t.group_count < wanted; i++) {
        if (strcmp(groups->children[i]->name, "ZoneGroup") != 0) continue;
        int r = read_group(groups->children[i], &t.groups[t.group_count]);
        if (r == 0) t.group_count++;
        else if (r < 0) rc = -1;
    }
    /* Newer firmware lists players the household lost, with why, beside the groups. */
    const sn_xml_node *vanished = strcmp(root->name, "ZoneGroupState") == 0 ? sn_xml_child(root, "VanishedDevices") : NULL;
    size_t devices = 0;
    for (size_t i = 0; vanished != NULL && i < vanished->child_count; i++) devices += strcmp(vanished->children[i]->name, "Device") == 0;
    if (devices > MAX_MEMBERS) devices = MAX_MEMBERS;
    if (rc == 0 && devices > 0) {
        t.vanished = calloc(devices, sizeof *t.vanished);
        if (t.vanished == NULL) rc = -1;
    }
    for (size_t i = 0; rc == 0 && vanished != NULL && i < vanished->child_count && t.vanished_count < devices; i++) {
        const sn_xml_node *d = vanished->children[i];
        if (strcmp(d->name, "Device") != 0) continue;
        sn_vanished *v = &t.vanished[t.vanished_count];
        if (sn_copy_trimmed_exact(v->uuid, sizeof v->uuid, sn_xml_attr_value(d, "UUID")) != 0 || v->uuid[0] == '\0') continue;
        sn_copy_trimmed(v->reason, sizeof v->reason, sn_xml_attr_value(d, "Reason"));
        t.vanished_count++;
    }
    sn_xml_free(root);
    if (rc != 0) {
        sn_topology_free(&t);
        sn_set_err(err, err_size, "out of memory");
        return -1;
    }
    if (t.group_count == 0) {
        free(t.groups);
        t.groups = NULL;
    }
    *out = t;
    return 0;
}

void sn_topology_free(sn_topology *t) {
    if (t == NULL) return;
    for (size_t i = 0; t->groups != NULL && i < t->group_count; i++) free(t->groups[i].members);
    free(t->groups);
    t->groups = NULL;
    t->group_count = 0;
    free(t->vanished);
    t->vanished = NULL;
    t->vanished_count = 0;
}

const sn_zone_group *sn_topology_group_of(const sn_topology *t, const char *uuid) {
    if (t == NULL || uuid == NULL || uuid[0] == '\0') return NULL;
    for (size_t i = 0; i < t->group_count; i++) {
        const sn_zone_group *g = &t->groups[i];
        if (strcmp(g->coordinator, uuid) == 0) return g;
        for (size_t j = 0; j < g->member_count; j++) {
            if (strcmp(g->members[j].uuid, uuid) == 0) return g;
        }
    }
    return NULL;
}

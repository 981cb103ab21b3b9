/* A small, defensive XML reader for what UPnP devices send: device descriptions, SOAP answers,
 * GENA property sets, ZoneGroupState, DIDL-Lite.
 *
 * Why our own: the documents are small and the plugin must not depend on a system XML library
 * that might resolve entities. The reader refuses any DOCTYPE (so no external or recursive
 * entities can exist), understands only the five predefined entities and numeric character
 * references, and caps input size, depth and node count. Namespaces are not resolved: a node's
 * `name` is its local name with any prefix removed ("s:Envelope" -> "Envelope"). */
#ifndef SONOS_XML_H
#define SONOS_XML_H

#include <stddef.h>

#define SN_XML_MAX_INPUT (1024u * 1024u) /* bytes */
#define SN_XML_MAX_DEPTH 48
#define SN_XML_MAX_NODES 20000

typedef struct sn_xml_attr {
    char *name; /* local name */
    char *value; /* decoded */
} sn_xml_attr;

typedef struct sn_xml_node {
    char *name;                      /* local name */
    char *text;                      /* decoded character data directly inside this element
                                        (CDATA included, concatenated, not trimmed); never NULL */
    sn_xml_attr *attrs;
    size_t attr_count;
    struct sn_xml_node **children;
    size_t child_count;
    struct sn_xml_node *parent;
} sn_xml_node;

/* Parses a whole document; returns its root element, or NULL with the reason in `err`
 * ("DOCTYPE is not allowed", "document larger than 1048576 bytes", "nesting deeper than 48",
 * "unexpected end of input at byte 812", "mismatched end tag </b> for <a>" …). */
sn_xml_node *sn_xml_parse(const char *data, size_t size, char *err, size_t err_size);
void sn_xml_free(sn_xml_node *root);

/* The first child element with local name `name`, or NULL. NULL-safe in `node`. */
const sn_xml_node *sn_xml_child(const sn_xml_node *node, const char *name);
/* Follows local names separated by '/': sn_xml_path(root, "device/serviceList"). NULL-safe. */
const sn_xml_node *sn_xml_path(const sn_xml_node *node, const char *path);
/* Text of the first child named `name`, or NULL when there is no such child. NULL-safe. */
const char *sn_xml_child_text(const sn_xml_node *node, const char *name);
/* Value of attribute `name` (local name), or NULL. NULL-safe. */
const char *sn_xml_attr_value(const sn_xml_node *node, const char *name);
/* The first element anywhere below `node` (depth first, `node` included) named `name`. */
const sn_xml_node *sn_xml_find(const sn_xml_node *node, const char *name);

#endif

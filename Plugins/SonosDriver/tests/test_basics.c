/* Unit tests of the basic modules: text, xml, json, url, ssdp. Normal documents as real devices
 * send them, and hostile ones as anyone on the LAN could. Inputs are copied into buffers of their
 * exact size without a terminating NUL, so AddressSanitizer sees any read past `size`. */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "json.h"
#include "ssdp.h"
#include "text.h"
#include "url.h"
#include "xml.h"

#include <stdint.h>
#include <stdlib.h>

static char err[256];

static bool contains(const char *haystack, const char *needle)
{
    return haystack != NULL && strstr(haystack, needle) != NULL;
}

/* An exact-size heap copy (no NUL), so overreads are caught. */
static char *exact(const char *s, size_t n)
{
    char *copy = malloc(n ? n : 1);
    if (copy == NULL) {
        perror("malloc");
        exit(2);
    }
    if (n)
        memcpy(copy, s, n);
    return copy;
}

static sn_xml_node *xml(const char *s)
{
    size_t n = strlen(s);
    char *copy = exact(s, n);
    sn_xml_node *root = sn_xml_parse(copy, n, err, sizeof err);
    free(copy);
    return root;
}

static sn_json *json(const char *s)
{
    size_t n = strlen(s);
    char *copy = exact(s, n);
    sn_json *value = sn_json_parse(copy, n, err, sizeof err);
    free(copy);
    return value;
}

static int ssdp(const char *s, sn_ssdp_message *m)
{
    size_t n = strlen(s);
    char *copy = exact(s, n);
    int rc = sn_ssdp_parse(copy, n, m, err, sizeof err);
    free(copy);
    return rc;
}

/* Deterministic pseudo-random bytes for the mutation tests (no global state). */
static uint32_t next_random(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

/* ---- text ----------------------------------------------------------------------------------- */

static void test_text(void)
{
    sn_text t = {0};
    CHECK_STR(sn_text_str(&t), "");
    CHECK(t.data == NULL);
    sn_text_puts(&t, "vol=");
    sn_text_printf(&t, "%d%%", 35);
    sn_text_append(&t, "xyz", 1);
    CHECK_STR(sn_text_str(&t), "vol=35%x");
    CHECK(t.len == 8 && !t.failed);
    sn_text_free(&t);

    for (int i = 0; i < 10000; i++)
        sn_text_puts(&t, "0123456789");
    CHECK(t.len == 100000 && !t.failed && strlen(sn_text_str(&t)) == 100000);
    sn_text_free(&t);

    sn_text_json_string(&t, "a\"b\\c\n\t\x01 é");
    sn_text_puts(&t, " ");
    sn_text_json_string(&t, NULL);
    sn_text_puts(&t, " ");
    sn_text_json_string(&t, "bad\xff\xc0\xaf" "end");
    CHECK_STR(sn_text_str(&t), "\"a\\\"b\\\\c\\n\\t\\u0001 é\" null \"bad\\ufffd\\ufffd\\ufffdend\"");
    sn_text_free(&t);

    sn_text_xml_escaped(&t, "<a href=\"x\">Tom & Jerry's</a>\x01");
    sn_text_xml_escaped(&t, NULL);
    CHECK_STR(sn_text_str(&t), "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&apos;s&lt;/a&gt;");
    sn_text_free(&t);

    char small[6];
    sn_copy(small, sizeof small, "Küche Nord"); /* "K" "ü"(2) "che": the cut must not split ü */
    CHECK_STR(small, "Küch");
    sn_copy(small, sizeof small, "Kaaaü"); /* 6 bytes + NUL: ü would be cut in half */
    CHECK_STR(small, "Kaaa");
    sn_copy(small, sizeof small, NULL);
    CHECK_STR(small, "");
    sn_copy(small, sizeof small, "ok");
    CHECK_STR(small, "ok");

    char *d = sn_strndup("abcdef", 3);
    CHECK_STR(d, "abc");
    free(d);
    d = sn_strndup("ab", 10);
    CHECK_STR(d, "ab");
    free(d);
    CHECK(sn_strdup(NULL) == NULL);
    d = sn_strdup("");
    CHECK_STR(d, "");
    free(d);
}

/* ---- xml ------------------------------------------------------------------------------------ */

static const char description[] =
    "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\" ?>\r\n"
    "<!-- a Sonos One -->\n"
    "<root xmlns=\"urn:schemas-upnp-org:device-1-0\">\n"
    "  <specVersion><major>1</major><minor>0</minor></specVersion>\n"
    "  <device>\n"
    "    <deviceType>urn:schemas-upnp-org:device:ZonePlayer:1</deviceType>\n"
    "    <friendlyName>192.168.1.20 - Sonos One - RINCON_000E58A0123401400</friendlyName>\n"
    "    <manufacturer>Sonos, Inc.</manufacturer>\n"
    "    <roomName>K&#xFC;che &amp; Bar</roomName>\n"
    "    <UDN>uuid:RINCON_000E58A0123401400</UDN>\n"
    "    <serviceList>\n"
    "      <service>\n"
    "        <serviceType>urn:schemas-upnp-org:service:AlarmClock:1</serviceType>\n"
    "        <controlURL>/AlarmClock/Control</controlURL>\n"
    "      </service>\n"
    "    </serviceList>\n"
    "    <deviceList><device><deviceType>urn:schemas-upnp-org:device:MediaRenderer:1</deviceType>\n"
    "      <serviceList><service><serviceType>urn:schemas-upnp-org:service:AVTransport:1</serviceType>"
    "<controlURL>/MediaRenderer/AVTransport/Control</controlURL></service></serviceList>\n"
    "    </device></deviceList>\n"
    "  </device>\n"
    "</root>\n";

static const char soap_answer[] =
    "<?xml version=\"1.0\"?>"
    "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
    "s:encodingStyle='http://schemas.xmlsoap.org/soap/encoding/'>"
    "<s:Body><u:GetZoneGroupStateResponse xmlns:u=\"urn:schemas-upnp-org:service:ZoneGroupTopology:1\">"
    "<ZoneGroupState>&lt;ZoneGroupState&gt;&lt;ZoneGroups&gt;&lt;ZoneGroup Coordinator=&quot;RINCON_1&quot; "
    "ID=&quot;RINCON_1:12&quot;&gt;&lt;ZoneGroupMember UUID=&quot;RINCON_1&quot; ZoneName=&quot;Bad&quot;/&gt;"
    "&lt;/ZoneGroup&gt;&lt;/ZoneGroups&gt;&lt;/ZoneGroupState&gt;</ZoneGroupState>"
    "</u:GetZoneGroupStateResponse></s:Body></s:Envelope>";

static void test_xml_normal(void)
{
    sn_xml_node *root = xml(description);
    CHECK(root != NULL);
    if (root == NULL) {
        fprintf(stderr, "  description: %s\n", err);
        return;
    }
    CHECK_STR(root->name, "root");
    CHECK(root->attr_count == 0); /* xmlns is not an attribute */
    CHECK(root->parent == NULL);
    CHECK_STR(sn_xml_child_text(sn_xml_child(root, "specVersion"), "major"), "1");
    const sn_xml_node *device = sn_xml_child(root, "device");
    CHECK(device != NULL && device->parent == root);
    CHECK_STR(sn_xml_child_text(device, "roomName"), "Küche & Bar");
    CHECK_STR(sn_xml_child_text(device, "UDN"), "uuid:RINCON_000E58A0123401400");
    CHECK_STR(sn_xml_child_text(device, "nothing"), NULL);
    CHECK_STR(sn_xml_path(root, "device/serviceList/service/controlURL")->text, "/AlarmClock/Control");
    CHECK(sn_xml_path(root, "device/nope/service") == NULL);
    CHECK(sn_xml_path(root, "") == root);
    const sn_xml_node *inner = sn_xml_path(root, "device/deviceList/device");
    CHECK_STR(sn_xml_child_text(inner, "deviceType"), "urn:schemas-upnp-org:device:MediaRenderer:1");
    const sn_xml_node *first_ctl = sn_xml_find(root, "controlURL");
    CHECK_STR(first_ctl ? first_ctl->text : NULL, "/AlarmClock/Control");
    CHECK(sn_xml_find(root, "root") == root);
    CHECK(sn_xml_find(root, "missing") == NULL);
    CHECK_STR(sn_xml_path(inner, "serviceList/service/controlURL")->text, "/MediaRenderer/AVTransport/Control");
    /* The root's own text is its white space between children, never NULL. */
    CHECK(root->text != NULL && strspn(root->text, " \n") == strlen(root->text));
    sn_xml_free(root);

    root = xml(soap_answer);
    CHECK(root != NULL);
    if (root != NULL) {
        CHECK_STR(root->name, "Envelope");
        CHECK_STR(sn_xml_attr_value(root, "encodingStyle"), "http://schemas.xmlsoap.org/soap/encoding/");
        const sn_xml_node *state = sn_xml_path(root, "Body/GetZoneGroupStateResponse/ZoneGroupState");
        CHECK(state != NULL);
        /* The value is a document of its own, escaped once: it parses again. */
        sn_xml_node *inner_doc = state ? xml(state->text) : NULL;
        CHECK(inner_doc != NULL);
        const sn_xml_node *member = sn_xml_find(inner_doc, "ZoneGroupMember");
        CHECK_STR(sn_xml_attr_value(member, "ZoneName"), "Bad");
        CHECK_STR(sn_xml_attr_value(sn_xml_find(inner_doc, "ZoneGroup"), "Coordinator"), "RINCON_1");
        sn_xml_free(inner_doc);
    }
    sn_xml_free(root);

    /* Direct character data only, CDATA included, line ends normalized. */
    root = xml("<a>x<b>inner</b>y<![CDATA[<not & markup>]]>\r\nz<!-- c --><?pi data?>w</a>");
    CHECK(root != NULL);
    if (root != NULL) {
        CHECK_STR(root->text, "xy<not & markup>\nzw");
        CHECK_STR(sn_xml_child_text(root, "b"), "inner");
        CHECK(root->child_count == 1);
    }
    sn_xml_free(root);

    root = xml("<e a='say \"hi\"' b=\"it's\" c=\"&#65;&#x42;&#x1F600;&lt;&gt;&amp;&quot;&apos;\" "
               "d=\"line\nbreak\tand&#10;ref\" xml:lang=\"de\"/>");
    CHECK(root != NULL);
    if (root != NULL) {
        CHECK_STR(sn_xml_attr_value(root, "a"), "say \"hi\"");
        CHECK_STR(sn_xml_attr_value(root, "b"), "it's");
        CHECK_STR(sn_xml_attr_value(root, "c"), "AB\xF0\x9F\x98\x80<>&\"'");
        CHECK_STR(sn_xml_attr_value(root, "d"), "line break and\nref");
        CHECK_STR(sn_xml_attr_value(root, "lang"), "de");
        CHECK_STR(root->text, "");
        CHECK(root->child_count == 0 && root->attr_count == 5);
    }
    sn_xml_free(root);

    /* NULL-safe lookups. */
    CHECK(sn_xml_child(NULL, "a") == NULL);
    CHECK(sn_xml_path(NULL, "a/b") == NULL);
    CHECK(sn_xml_child_text(NULL, "a") == NULL);
    CHECK(sn_xml_attr_value(NULL, "a") == NULL);
    CHECK(sn_xml_find(NULL, "a") == NULL);
    sn_xml_free(NULL);

    /* Trailing white space, comments and PIs after the root are fine. */
    root = xml("<a/>\n  <!-- end --><?x?>\n");
    CHECK(root != NULL);
    sn_xml_free(root);
}

static void expect_xml_error(const char *doc, size_t size, const char *reason, int line)
{
    char *copy = exact(doc, size);
    err[0] = '\0';
    sn_xml_node *root = sn_xml_parse(copy, size, err, sizeof err);
    free(copy);
    check_count++;
    if (root != NULL || !contains(err, reason)) {
        check_failures++;
        fprintf(stderr, "%s:%d: expected XML error containing \"%s\", got %s \"%s\"\n", __FILE__, line, reason,
                root ? "a document" : "error", err);
    }
    sn_xml_free(root);
}

#define XML_ERROR(doc, reason) expect_xml_error((doc), strlen(doc), (reason), __LINE__)

static char *repeat(const char *unit, size_t times, const char *prefix, const char *suffix)
{
    sn_text t = {0};
    sn_text_puts(&t, prefix);
    for (size_t i = 0; i < times; i++)
        sn_text_puts(&t, unit);
    sn_text_puts(&t, suffix);
    if (t.failed)
        exit(2);
    return t.data;
}

static void test_xml_hostile(void)
{
    XML_ERROR("<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;</a>", "DOCTYPE is not allowed");
    XML_ERROR("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
              " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
              " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
              " <!ENTITY lol9 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
              "]>\n<lolz>&lol9;</lolz>",
              "DOCTYPE is not allowed");
    XML_ERROR("<a><!DOCTYPE a></a>", "DOCTYPE is not allowed");
    XML_ERROR("<a><!ENTITY x \"y\"></a>", "markup declaration");
    XML_ERROR("<lolz>&lol9;</lolz>", "unknown entity &lol9;");
    XML_ERROR("<a>&foo;</a>", "unknown entity &foo;");
    XML_ERROR("<a x=\"&foo;\"/>", "unknown entity &foo;");
    XML_ERROR("<a>fish & chips</a>", "unescaped '&'");
    XML_ERROR("<a>&#0;</a>", "invalid character");
    XML_ERROR("<a>&#x0;</a>", "invalid character");
    XML_ERROR("<a>&#xD800;</a>", "invalid character");
    XML_ERROR("<a>&#x110000;</a>", "out of range");
    XML_ERROR("<a>&#99999999999999;</a>", "character reference");
    XML_ERROR("<a>&#x1;</a>", "invalid character");
    XML_ERROR("<a>&#12a;</a>", "malformed character reference");
    XML_ERROR("<a>&#;</a>", "empty character reference");
    expect_xml_error("<a>\0</a>", 8, "NUL byte", __LINE__);
    XML_ERROR("<a><b></a></b>", "mismatched end tag </a> for <b>");
    XML_ERROR("<s:a></t:a>", "mismatched end tag");
    XML_ERROR("</a>", "without a start tag");
    XML_ERROR("<a/><b/>", "more than one root");
    XML_ERROR("<a/>trailing", "text outside the root");
    XML_ERROR("junk<a/>", "text outside the root");
    XML_ERROR("", "empty document");
    XML_ERROR("   \n", "no root element");
    XML_ERROR("<!-- only a comment -->", "no root element");
    XML_ERROR("<a x=\"1\" x=\"2\"/>", "duplicate attribute x");
    XML_ERROR("<a p:x=\"1\" q:x=\"2\"/>", "duplicate attribute x");
    XML_ERROR("<a x=1/>", "quoted attribute value");
    XML_ERROR("<a x=\"1\"y=\"2\"/>", "expected white space");
    XML_ERROR("<a x=\"<\"/>", "'<' in an attribute value");
    XML_ERROR("<a x/>", "expected '='");
    XML_ERROR("<1a/>", "expected a name");
    XML_ERROR("<a:/>", "empty local name");
    XML_ERROR("<a>< b</a>", "expected a name");
    XML_ERROR("<a></a >x", "text outside the root");
    XML_ERROR("<a>\xff\xfe<b></a>", "mismatched end tag");

    /* Truncated: every proper prefix of a real document fails cleanly. */
    size_t full = strlen(description) - 1; /* without the final newline, the document ends at "</root>" */
    int prefix_failures = 0;
    for (size_t n = 0; n < full; n++) {
        char *copy = exact(description, n);
        sn_xml_node *root = sn_xml_parse(copy, n, err, sizeof err);
        free(copy);
        if (root != NULL)
            prefix_failures++;
        sn_xml_free(root);
    }
    CHECK(prefix_failures == 0);
    XML_ERROR("<a><b>text", "unexpected end of input at byte 10");
    XML_ERROR("<a><!-- never closed", "unexpected end of input");
    XML_ERROR("<a><![CDATA[ never closed", "unexpected end of input");
    XML_ERROR("<a x=\"never closed", "unexpected end of input");
    XML_ERROR("<a>&am", "unexpected end of input");
    XML_ERROR("<?xml version=\"1.0\"", "unexpected end of input");

    /* Size cap: 2 MiB of otherwise fine XML. */
    char *big = repeat("<b>0123456789abcdef0123456789</b>", 2 * 1024 * 1024 / 33 + 1, "<a>", "</a>");
    expect_xml_error(big, strlen(big), "document larger than 1048576 bytes", __LINE__);
    free(big);

    /* Depth cap: 48 levels parse, 49 and 10,000 do not. */
    char *deep = repeat("<d>", 47, "<a>", "");
    char *tail = repeat("</d>", 47, "", "</a>");
    char *ok_doc = repeat("", 0, deep, tail);
    sn_xml_node *root = xml(ok_doc);
    CHECK(root != NULL);
    sn_xml_free(root);
    free(deep), free(tail), free(ok_doc);
    deep = repeat("<d>", 48, "<a>", "");
    tail = repeat("</d>", 48, "", "</a>");
    ok_doc = repeat("", 0, deep, tail);
    XML_ERROR(ok_doc, "nesting deeper than 48");
    free(deep), free(tail), free(ok_doc);
    deep = repeat("<d>", 10000, "", "");
    XML_ERROR(deep, "nesting deeper than 48");
    free(deep);
    deep = repeat("<d/>", 10000, "<a>", "</a>"); /* wide is fine */
    root = xml(deep);
    CHECK(root != NULL && root->child_count == 10000);
    sn_xml_free(root);
    free(deep);

    /* Node cap. */
    char *many = repeat("<d/>", SN_XML_MAX_NODES, "<a>", "</a>");
    XML_ERROR(many, "more than 20000 nodes");
    free(many);

    /* Attribute counts: a normal handful is fine, thousands are refused. */
    sn_text attrs = {0};
    sn_text_puts(&attrs, "<a");
    for (int i = 0; i < 100; i++)
        sn_text_printf(&attrs, " x%d=\"%d\"", i, i);
    sn_text_puts(&attrs, "/>");
    root = xml(sn_text_str(&attrs));
    CHECK(root != NULL && root->attr_count == 100);
    CHECK_STR(sn_xml_attr_value(root, "x99"), "99");
    sn_xml_free(root);
    sn_text_free(&attrs);
    sn_text_puts(&attrs, "<a");
    for (int i = 0; i < 30000; i++)
        sn_text_printf(&attrs, " x%d='%d'", i, i);
    sn_text_puts(&attrs, "/>");
    XML_ERROR(sn_text_str(&attrs), "attributes");
    sn_text_free(&attrs);

    /* Mutations of a real document never crash or leak (results vary). */
    size_t len = strlen(soap_answer);
    uint32_t state = 12345;
    for (int round = 0; round < 3000; round++) {
        char *copy = exact(soap_answer, len);
        int edits = 1 + (int)(next_random(&state) % 4);
        for (int e = 0; e < edits; e++)
            copy[next_random(&state) % len] = (char)(next_random(&state) & 0xFF);
        sn_xml_free(sn_xml_parse(copy, len, err, sizeof err));
        free(copy);
    }
    /* Pure garbage. */
    for (int round = 0; round < 500; round++) {
        size_t n = 1 + next_random(&state) % 200;
        char *copy = malloc(n);
        if (copy == NULL)
            exit(2);
        for (size_t i = 0; i < n; i++)
            copy[i] = (char)("<>/=\"'&;#x!-[]?a \n"[next_random(&state) % 18]);
        sn_xml_free(sn_xml_parse(copy, n, err, sizeof err));
        free(copy);
    }
    CHECK(sn_xml_parse(NULL, 0, err, sizeof err) == NULL);
    /* No error buffer is fine too. */
    sn_xml_node *no_err = sn_xml_parse("<a/>", 4, NULL, 0);
    CHECK(no_err != NULL);
    sn_xml_free(no_err);
    CHECK(sn_xml_parse("<a>", 3, NULL, 0) == NULL);
}

/* ---- json ----------------------------------------------------------------------------------- */

static void test_json_normal(void)
{
    sn_json *v = json("\xEF\xBB\xBF {\"name\": \"K\\u00fcche \\ud83d\\ude00\\n\\\"\\/\", \"volume\": 35,"
                      " \"gain\": -1.5e2, \"tiny\": 0.001, \"on\": true, \"off\": false, \"none\": null,"
                      " \"rooms\": [\"Bad\", {\"x\": []}, 0], \"empty\": {}, \"on\": false } \n");
    CHECK(v != NULL);
    if (v == NULL) {
        fprintf(stderr, "  json: %s\n", err);
        return;
    }
    CHECK(v->type == SN_JSON_OBJECT);
    const sn_json *name = sn_json_get(v, "name");
    CHECK(name && name->type == SN_JSON_STRING);
    CHECK_STR(name ? name->string : NULL, "Küche \xF0\x9F\x98\x80\n\"/");
    CHECK(sn_json_get(v, "volume")->type == SN_JSON_NUMBER && sn_json_get(v, "volume")->number == 35);
    CHECK(sn_json_get(v, "gain")->number == -150.0);
    CHECK(sn_json_get(v, "tiny")->number == 0.001);
    CHECK(sn_json_get(v, "off")->type == SN_JSON_BOOL && !sn_json_get(v, "off")->boolean);
    CHECK(sn_json_get(v, "on")->boolean == false); /* the last duplicate wins */
    CHECK(sn_json_get(v, "none")->type == SN_JSON_NULL);
    const sn_json *rooms = sn_json_get(v, "rooms");
    CHECK(rooms && rooms->type == SN_JSON_ARRAY && rooms->count == 3);
    CHECK_STR(rooms->items[0].string, "Bad");
    CHECK(rooms->items[1].type == SN_JSON_OBJECT && sn_json_get(&rooms->items[1], "x")->count == 0);
    CHECK(sn_json_get(v, "empty")->type == SN_JSON_OBJECT && sn_json_get(v, "empty")->count == 0);
    /* Wrong types: lookups in non-objects are NULL. */
    CHECK(sn_json_get(rooms, "0") == NULL);
    CHECK(sn_json_get(name, "x") == NULL);
    CHECK(sn_json_get(NULL, "x") == NULL);
    CHECK(sn_json_get(v, "missing") == NULL);
    sn_json_free(v);

    v = json("42");
    CHECK(v && v->type == SN_JSON_NUMBER && v->number == 42);
    sn_json_free(v);
    v = json("\"\"");
    CHECK(v && v->type == SN_JSON_STRING && strcmp(v->string, "") == 0);
    sn_json_free(v);
    v = json("[-0, 0e0, 1E+2, 1e-2, 123456789012]");
    CHECK(v && v->count == 5 && v->items[2].number == 100 && v->items[4].number == 123456789012.0);
    sn_json_free(v);
    sn_json_free(NULL);
}

static void expect_json_error(const char *doc, size_t size, const char *reason, int line)
{
    char *copy = exact(doc, size);
    err[0] = '\0';
    sn_json *v = sn_json_parse(copy, size, err, sizeof err);
    free(copy);
    check_count++;
    if (v != NULL || !contains(err, reason)) {
        check_failures++;
        fprintf(stderr, "%s:%d: expected JSON error containing \"%s\", got %s \"%s\"\n", __FILE__, line, reason,
                v ? "a value" : "error", err);
    }
    sn_json_free(v);
}

#define JSON_ERROR(doc, reason) expect_json_error((doc), strlen(doc), (reason), __LINE__)

static void test_json_hostile(void)
{
    JSON_ERROR("{\"a\": 1 \"b\": 2}", "expected ',' or '}' at byte 8");
    JSON_ERROR("[1 2]", "expected ',' or ']' at byte 3");
    JSON_ERROR("", "unexpected end of input at byte 0");
    JSON_ERROR("   ", "unexpected end of input");
    JSON_ERROR("{\"a\": tru}", "expected a value at byte 6");
    JSON_ERROR("[1,]", "expected a value at byte 3");
    JSON_ERROR("{\"a\":1,}", "expected a string key");
    JSON_ERROR("{a:1}", "expected a string key");
    JSON_ERROR("01", "unexpected data after the value at byte 1");
    JSON_ERROR("1.", "a digit after '.'");
    JSON_ERROR("1e", "a digit in the exponent");
    JSON_ERROR("-", "a digit");
    JSON_ERROR("+1", "expected a value");
    JSON_ERROR("NaN", "expected a value");
    JSON_ERROR("1e999", "number out of range");
    JSON_ERROR("{} {}", "unexpected data after the value");
    JSON_ERROR("\"\\u0000\"", "\\u0000 is not allowed");
    JSON_ERROR("\"\\ud83d\"", "unpaired high surrogate");
    JSON_ERROR("\"\\ud83dx\"", "unpaired high surrogate");
    JSON_ERROR("\"\\ud83d\\u0041\"", "unpaired high surrogate");
    JSON_ERROR("\"\\ude00\"", "unpaired low surrogate");
    JSON_ERROR("\"\\u12G4\"", "four hex digits");
    JSON_ERROR("\"\\x\"", "a valid escape");
    JSON_ERROR("\"tab\there\"", "control character");
    JSON_ERROR("\"\xC0\xAF\"", "invalid UTF-8");            /* overlong '/' */
    JSON_ERROR("\"\xED\xA0\x80\"", "invalid UTF-8");        /* encoded surrogate */
    JSON_ERROR("\"\xF4\x90\x80\x80\"", "invalid UTF-8");    /* past U+10FFFF */
    JSON_ERROR("\"\xE2\x82\"", "invalid UTF-8");            /* cut short */
    expect_json_error("\"a\0b\"", 5, "control character", __LINE__);
    expect_json_error("[1]\0", 4, "unexpected data", __LINE__);

    /* Truncation: every proper prefix fails (the full document ends with '}'). */
    static const char doc[] = "{\"speakers\":[{\"name\":\"K\\u00fcche\",\"volume\":35.5,\"on\":true}],\"x\":null}";
    int prefix_failures = 0;
    for (size_t n = 0; n < sizeof doc - 1; n++) {
        char *copy = exact(doc, n);
        sn_json *v = sn_json_parse(copy, n, err, sizeof err);
        free(copy);
        if (v != NULL)
            prefix_failures++;
        sn_json_free(v);
    }
    CHECK(prefix_failures == 0);

    /* Depth: 32 levels parse, 33 do not, nor does a 100,000-deep attempt. */
    char *d = repeat("[", 32, "", "");
    char *ok_doc = repeat("]", 32, d, "");
    sn_json *v = json(ok_doc);
    CHECK(v != NULL);
    sn_json_free(v);
    free(d), free(ok_doc);
    d = repeat("[", 33, "", "");
    ok_doc = repeat("]", 33, d, "");
    JSON_ERROR(ok_doc, "nesting deeper than 32");
    free(d), free(ok_doc);
    d = repeat("{\"a\":", 100000, "", "");
    JSON_ERROR(d, "nesting deeper than 32");
    free(d);

    /* Size: just over 1 MiB is refused, even if well formed. */
    char *big = repeat(" ", 1024 * 1024, "", "1");
    JSON_ERROR(big, "document larger than 1048576 bytes");
    free(big);
    big = repeat("0,", 200000, "[", "0]"); /* 400 kB, many items: fine */
    v = json(big);
    CHECK(v != NULL && v->count == 200001);
    sn_json_free(v);
    free(big);

    uint32_t state = 777;
    for (int round = 0; round < 3000; round++) {
        size_t len = sizeof doc - 1;
        char *copy = exact(doc, len);
        copy[next_random(&state) % len] = (char)(next_random(&state) & 0xFF);
        copy[next_random(&state) % len] = "[]{}\",:\\u0"[next_random(&state) % 11];
        sn_json_free(sn_json_parse(copy, len, err, sizeof err));
        free(copy);
    }
    CHECK(sn_json_parse(NULL, 0, err, sizeof err) == NULL);
}

/* ---- url ------------------------------------------------------------------------------------ */

static void check_url(const char *text, const char *host, unsigned port, const char *path, int line)
{
    sn_url u;
    memset(&u, 0x55, sizeof u);
    bool ok = sn_url_parse(text, &u);
    check_count++;
    if (!ok || strcmp(u.host, host) != 0 || u.port != port || strcmp(u.path, path) != 0) {
        check_failures++;
        fprintf(stderr, "%s:%d: URL %s: expected %s %u %s, got %s\n", __FILE__, line, text, host, port, path,
                ok ? "other parts" : "a failure");
    }
}

#define URL_OK(text, host, port, path) check_url((text), (host), (port), (path), __LINE__)

static void check_resolve(const char *base, const char *ref, const char *expected, int line)
{
    char *got = sn_url_resolve(base, ref);
    check_count++;
    if (got == NULL ? expected != NULL : expected == NULL || strcmp(got, expected) != 0) {
        check_failures++;
        fprintf(stderr, "%s:%d: resolve(%s, %s): expected %s, got %s\n", __FILE__, line, base ? base : "(null)",
                ref ? ref : "(null)", expected ? expected : "(null)", got ? got : "(null)");
    }
    free(got);
}

#define RESOLVE(base, ref, expected) check_resolve((base), (ref), (expected), __LINE__)

static void test_url(void)
{
    URL_OK("http://192.168.1.20:1400/xml/device_description.xml", "192.168.1.20", 1400,
           "/xml/device_description.xml");
    URL_OK("HTTP://Sonos-Kitchen.local", "Sonos-Kitchen.local", 80, "/");
    URL_OK("http://host:65535/", "host", 65535, "/");
    URL_OK("http://host:1", "host", 1, "/");
    URL_OK("http://h:08080/a", "h", 8080, "/a");
    URL_OK("http://host?x=1", "host", 80, "/?x=1");
    URL_OK("http://host/a/b?c=d&e=%20", "host", 80, "/a/b?c=d&e=%20");
    URL_OK("http://host/p#fragment", "host", 80, "/p");

    static const char *const bad[] = {
        "https://192.168.1.20:1443/xml/device_description.xml",
        "ftp://host/",
        "http:/host/",
        "http//host/",
        "http://",
        "http:///path",
        "http://:80/",
        "http://host:0/",
        "http://host:65536/",
        "http://host:99999999999/",
        "http://host:/",
        "http://host:-1/",
        "http://host:80x/",
        "http://user:pw@host/",
        "http://[::1]:1400/",
        "http://host/a b",
        "http://host/a\r\nX-Injected: 1",
        "http://ho st/",
        "http://host/\x7f",
        "http://hóst/",
        " http://host/",
        "",
        "garbage",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sn_url u;
        check_count++;
        if (sn_url_parse(bad[i], &u)) {
            check_failures++;
            fprintf(stderr, "%s:%d: URL accepted: \"%s\"\n", __FILE__, __LINE__, bad[i]);
        }
    }
    sn_url u;
    CHECK(!sn_url_parse(NULL, &u));
    char *long_host = repeat("a", 300, "http://", "/");
    CHECK(!sn_url_parse(long_host, &u));
    free(long_host);
    char *host_255 = repeat("a", 255, "http://", "/");
    CHECK(sn_url_parse(host_255, &u) && strlen(u.host) == 255);
    free(host_255);
    char *long_path = repeat("x", 1023, "http://h/", "");
    CHECK(!sn_url_parse(long_path, &u));
    free(long_path);
    long_path = repeat("x", 1022, "http://h/", "");
    CHECK(sn_url_parse(long_path, &u) && strlen(u.path) == 1023);
    free(long_path);

    const char *base = "http://192.168.1.20:1400/xml/device_description.xml";
    RESOLVE(base, "/MediaRenderer/AVTransport/Control", "http://192.168.1.20:1400/MediaRenderer/AVTransport/Control");
    RESOLVE(base, "control", "http://192.168.1.20:1400/xml/control");
    RESOLVE(base, "../MediaRenderer/Event", "http://192.168.1.20:1400/MediaRenderer/Event");
    RESOLVE(base, "./a/./b/../c", "http://192.168.1.20:1400/xml/a/c");
    RESOLVE(base, "/../../x", "http://192.168.1.20:1400/x");
    RESOLVE(base, "../../../x/", "http://192.168.1.20:1400/x/");
    RESOLVE(base, "..", "http://192.168.1.20:1400/");
    RESOLVE(base, ".", "http://192.168.1.20:1400/xml/");
    RESOLVE(base, "\n    /AlarmClock/Control\n  ", "http://192.168.1.20:1400/AlarmClock/Control");
    RESOLVE(base, "http://10.0.0.9:49152/upnp/control/rendertransport1", "http://10.0.0.9:49152/upnp/control/rendertransport1");
    RESOLVE(base, "HTTP://other/x", "HTTP://other/x");
    RESOLVE(base, "//10.0.0.9:5000/x", "http://10.0.0.9:5000/x");
    RESOLVE(base, "", base);
    RESOLVE(base, "?a=1", "http://192.168.1.20:1400/xml/device_description.xml?a=1");
    RESOLVE(base, "ctl?x=/../y", "http://192.168.1.20:1400/xml/ctl?x=/../y");
    RESOLVE(base, "#frag", base);
    RESOLVE("http://h/a/b?q=/z/w", "c", "http://h/a/c");
    RESOLVE("http://h", "c", "http://h/c");
    RESOLVE("http://h:80/", "/c", "http://h/c");
    RESOLVE("http://h//double/", "x", "http://h//double/x");
    RESOLVE("https://h/", "/c", NULL);
    RESOLVE("not a url", "/c", NULL);
    RESOLVE(NULL, "/c", NULL);
    RESOLVE(base, NULL, NULL);
}

/* ---- ssdp ----------------------------------------------------------------------------------- */

/* As a Sonos One (S2) answers an M-SEARCH for ZonePlayer:1. */
static const char sonos_answer[] =
    "HTTP/1.1 200 OK\r\n"
    "CACHE-CONTROL: max-age = 1800\r\n"
    "EXT:\r\n"
    "LOCATION: http://192.168.1.20:1400/xml/device_description.xml\r\n"
    "SERVER: Linux UPnP/1.0 Sonos/70.3-35220 (ZPS1)\r\n"
    "ST: urn:schemas-upnp-org:device:ZonePlayer:1\r\n"
    "USN: uuid:RINCON_000E58A0123401400::urn:schemas-upnp-org:device:ZonePlayer:1\r\n"
    "X-RINCON-HOUSEHOLD: Sonos_I0bS9fGtH2mPqRcWxYz1AbCdEf\r\n"
    "X-RINCON-BOOTSEQ: 112\r\n"
    "BOOTID.UPNP.ORG: 112\r\n"
    "X-RINCON-WIFIMODE: 0\r\n"
    "X-RINCON-VARIANT: 2\r\n"
    "HOUSEHOLD.SMARTSPEAKER.AUDIO: Sonos_I0bS9fGtH2mPqRcWxYz1AbCdEf.mT3yfkH8wbTiJMntQnZ9\r\n"
    "LOCATION.SMARTSPEAKER.AUDIO: lc_4a1c2b3d4e5f\r\n"
    "SECURELOCATION.UPNP.ORG: https://192.168.1.20:1443/xml/device_description.xml\r\n"
    "X-RINCON-REGISTRATIONSTATE: 3\r\n"
    "\r\n";

/* As libupnp (gmediarender) answers, lower-case names and LF line ends mixed in. */
static const char libupnp_answer[] =
    "HTTP/1.1 200 OK\r\n"
    "cache-control: max-age=120\n"
    "DATE: Sat, 29 Nov 2025 14:00:00 GMT\r\n"
    "EXT:\r\n"
    "location:   http://10.200.1.2:49494/description.xml  \r\n"
    "OPT: \"http://schemas.upnp.org/upnp/1/0/\"; ns=01\r\n"
    "01-NLS: 4e1f2c4a-1dd2-11b2-a1b2-c3d4e5f6a7b8\r\n"
    "Server: Linux/6.1.0 UPnP/1.0 Portable SDK for UPnP devices/1.14.13\r\n"
    "X-User-Agent: redsonic\r\n"
    "st: urn:schemas-upnp-org:device:MediaRenderer:1\r\n"
    "usn: uuid:GMediaRender-1_0-000-000-002::urn:schemas-upnp-org:device:MediaRenderer:1\r\n"
    "\r\n";

static const char sonos_alive[] =
    "NOTIFY * HTTP/1.1\r\n"
    "HOST: 239.255.255.250:1900\r\n"
    "CACHE-CONTROL: max-age = 1800\r\n"
    "LOCATION: http://192.168.1.21:1400/xml/device_description.xml\r\n"
    "NT: urn:schemas-upnp-org:device:ZonePlayer:1\r\n"
    "NTS: ssdp:alive\r\n"
    "SERVER: Linux UPnP/1.0 Sonos/70.3-35220 (ZPS27)\r\n"
    "USN: uuid:RINCON_48A6B8C0FFEE01400::urn:schemas-upnp-org:device:ZonePlayer:1\r\n"
    "X-RINCON-HOUSEHOLD: Sonos_I0bS9fGtH2mPqRcWxYz1AbCdEf\r\n"
    "X-RINCON-BOOTSEQ: 87\r\n"
    "X-RINCON-WIFIMODE: 1\r\n"
    "\r\n";

static const char sonos_byebye[] =
    "NOTIFY * HTTP/1.1\r\n"
    "HOST: 239.255.255.250:1900\r\n"
    "NT: upnp:rootdevice\r\n"
    "NTS: ssdp:byebye\r\n"
    "USN: uuid:RINCON_48A6B8C0FFEE01400::upnp:rootdevice\r\n"
    "\r\n";

static void test_ssdp_normal(void)
{
    sn_ssdp_message m;
    CHECK(ssdp(sonos_answer, &m) == 0);
    CHECK(m.is_response && !m.byebye);
    CHECK_STR(m.location, "http://192.168.1.20:1400/xml/device_description.xml");
    CHECK_STR(m.target, SN_ST_ZONEPLAYER);
    CHECK_STR(m.usn, "uuid:RINCON_000E58A0123401400::urn:schemas-upnp-org:device:ZonePlayer:1");
    CHECK_STR(m.uuid, "RINCON_000E58A0123401400");
    CHECK_STR(m.household, "Sonos_I0bS9fGtH2mPqRcWxYz1AbCdEf");
    CHECK_STR(m.server, "Linux UPnP/1.0 Sonos/70.3-35220 (ZPS1)");
    CHECK(m.max_age == 1800);

    CHECK(ssdp(libupnp_answer, &m) == 0);
    CHECK(m.is_response);
    CHECK_STR(m.location, "http://10.200.1.2:49494/description.xml");
    CHECK_STR(m.target, SN_ST_MEDIARENDERER);
    CHECK_STR(m.uuid, "GMediaRender-1_0-000-000-002");
    CHECK_STR(m.household, "");
    CHECK_STR(m.server, "Linux/6.1.0 UPnP/1.0 Portable SDK for UPnP devices/1.14.13");
    CHECK(m.max_age == 120);

    CHECK(ssdp(sonos_alive, &m) == 0);
    CHECK(!m.is_response && !m.byebye);
    CHECK_STR(m.target, SN_ST_ZONEPLAYER);
    CHECK_STR(m.uuid, "RINCON_48A6B8C0FFEE01400");
    CHECK_STR(m.location, "http://192.168.1.21:1400/xml/device_description.xml");
    CHECK_STR(m.household, "Sonos_I0bS9fGtH2mPqRcWxYz1AbCdEf");

    CHECK(ssdp(sonos_byebye, &m) == 0);
    CHECK(!m.is_response && m.byebye);
    CHECK_STR(m.location, "");
    CHECK_STR(m.target, "upnp:rootdevice");
    CHECK_STR(m.uuid, "RINCON_48A6B8C0FFEE01400");
    CHECK(m.max_age == 1800);

    /* A USN that is only the uuid (root device announcement form). */
    CHECK(ssdp("NOTIFY * HTTP/1.1\nNT: uuid:abc-123\nNTS: ssdp:alive\nUSN: uuid:abc-123\n"
               "LOCATION: http://10.0.0.1/d.xml\n\n",
               &m) == 0);
    CHECK_STR(m.uuid, "abc-123");
    CHECK_STR(m.location, "http://10.0.0.1/d.xml");

    /* A message without the blank line at the end (a datagram is complete anyway). */
    CHECK(ssdp("HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: uuid:x::upnp:rootdevice\r\n"
               "LOCATION: http://10.0.0.1:80/d.xml",
               &m) == 0);

    static const struct { const char *header; uint32_t expected; } ages[] = {
        {"CACHE-CONTROL: max-age=60", 60},
        {"Cache-Control: no-cache=\"Ext\", max-age = 5000", 5000},
        {"CACHE-CONTROL: MAX-AGE=7", 7},
        {"CACHE-CONTROL: max-age=99999999999999999999", UINT32_MAX},
        {"CACHE-CONTROL: max-age=", 1800},
        {"CACHE-CONTROL: max-age=12abc", 1800},
        {"CACHE-CONTROL: no-store", 1800},
        {"CACHE-CONTROL: max-agent=5", 1800},
    };
    for (size_t i = 0; i < sizeof ages / sizeof ages[0]; i++) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "HTTP/1.1 200 OK\r\n%s\r\nST: upnp:rootdevice\r\nUSN: uuid:x\r\nLOCATION: http://h/\r\n\r\n",
                 ages[i].header);
        memset(&m, 0, sizeof m);
        check_count++;
        if (ssdp(msg, &m) != 0 || m.max_age != ages[i].expected) {
            check_failures++;
            fprintf(stderr, "%s:%d: %s: expected %u, got %u (%s)\n", __FILE__, __LINE__, ages[i].header,
                    (unsigned)ages[i].expected, (unsigned)m.max_age, err);
        }
    }

    char buf[512];
    size_t n = sn_ssdp_msearch(buf, sizeof buf, SN_ST_ZONEPLAYER, 2);
    const char *expected = "M-SEARCH * HTTP/1.1\r\n"
                           "HOST: 239.255.255.250:1900\r\n"
                           "MAN: \"ssdp:discover\"\r\n"
                           "MX: 2\r\n"
                           "ST: urn:schemas-upnp-org:device:ZonePlayer:1\r\n"
                           "USER-AGENT: Linux UPnP/1.1 speakerbridge/1\r\n"
                           "\r\n";
    CHECK_STR(buf, expected);
    CHECK(n == strlen(expected));
    /* Our own search, heard back on the multicast group, is not an answer. */
    CHECK(sn_ssdp_parse(buf, n, &m, err, sizeof err) == -1);
    CHECK_STR(err, "a search request, not an answer");
    CHECK(sn_ssdp_msearch(buf, 40, SN_ST_ZONEPLAYER, 2) == 0);
    CHECK(sn_ssdp_msearch(buf, sizeof buf, "upnp:rootdevice\r\nX-Evil: 1", 2) == 0);
    CHECK(sn_ssdp_msearch(buf, sizeof buf, NULL, 2) == 0);
    CHECK(sn_ssdp_msearch(buf, sizeof buf, "ssdp:all", 0) > 0 && contains(buf, "MX: 1\r\n"));
    CHECK(sn_ssdp_msearch(buf, sizeof buf, "ssdp:all", 120) > 0 && contains(buf, "MX: 5\r\n"));
}

static void expect_ssdp_error(const char *msg, size_t size, const char *reason, int line)
{
    char *copy = exact(msg, size);
    sn_ssdp_message m;
    err[0] = '\0';
    int rc = sn_ssdp_parse(copy, size, &m, err, sizeof err);
    free(copy);
    check_count++;
    if (rc != -1 || !contains(err, reason)) {
        check_failures++;
        fprintf(stderr, "%s:%d: expected SSDP error containing \"%s\", got %d \"%s\"\n", __FILE__, line, reason,
                rc, err);
    }
}

#define SSDP_ERROR(msg, reason) expect_ssdp_error((msg), strlen(msg), (reason), __LINE__)

static void test_ssdp_hostile(void)
{
    SSDP_ERROR("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\n"
               "ST: ssdp:all\r\n\r\n",
               "a search request, not an answer");
    SSDP_ERROR("HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nLOCATION: http://h/\r\n\r\n", "missing USN");
    SSDP_ERROR("HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN:   \r\nLOCATION: http://h/\r\n\r\n", "missing USN");
    SSDP_ERROR("HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: urn:x::y\r\nLOCATION: http://h/\r\n\r\n", "no uuid");
    SSDP_ERROR("HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: uuid:\r\nLOCATION: http://h/\r\n\r\n", "no uuid");
    SSDP_ERROR("HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: uuid:::x\r\nLOCATION: http://h/\r\n\r\n", "no uuid");
    SSDP_ERROR("HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: uuid:x\r\n\r\n", "missing LOCATION");
    SSDP_ERROR("HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: uuid:x\r\n"
               "LOCATION: https://192.168.1.20:1443/xml/device_description.xml\r\n\r\n",
               "LOCATION is not a plain http:// URL");
    SSDP_ERROR("HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: uuid:x\r\nLOCATION: ../../etc/passwd\r\n\r\n",
               "LOCATION is not a plain http:// URL");
    SSDP_ERROR("HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: uuid:x\r\nLOCATION: http://h/a b\r\n\r\n",
               "LOCATION is not a plain http:// URL");
    SSDP_ERROR("HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: uuid:x\r\nLOCATION: http://user@evil/\r\n\r\n",
               "LOCATION is not a plain http:// URL");
    SSDP_ERROR("HTTP/1.1 200 OK\r\nUSN: uuid:x\r\nLOCATION: http://h/\r\n\r\n", "missing ST");
    SSDP_ERROR("NOTIFY * HTTP/1.1\r\nNTS: ssdp:alive\r\nUSN: uuid:x\r\nLOCATION: http://h/\r\n\r\n", "missing NT");
    SSDP_ERROR("NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\nUSN: uuid:x\r\nLOCATION: http://h/\r\n\r\n",
               "without NTS");
    SSDP_ERROR("NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\nNTS: ssdp:propchange\r\nUSN: uuid:x\r\n\r\n",
               "unknown NTS");
    SSDP_ERROR("NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\nUSN: uuid:x\r\n\r\n",
               "missing LOCATION");
    SSDP_ERROR("HTTP/1.1 404 Not Found\r\n\r\n", "not a 200 answer");
    SSDP_ERROR("HTTP/1.1 2000 OK\r\n\r\n", "not a 200 answer");
    SSDP_ERROR("HTTP/1.1", "not a 200 answer");
    SSDP_ERROR("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not an SSDP message");
    SSDP_ERROR("NOTIFY /evt HTTP/1.1\r\n\r\n", "not an SSDP message");
    SSDP_ERROR("\x16\x03\x01\x02garbage", "not an SSDP message");
    SSDP_ERROR("", "empty message");
    SSDP_ERROR("HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: uuid:x\r\nLOCATION: http://h/\rX: y\r\n\r\n",
               "control character");
    expect_ssdp_error("HTTP/1.1 200 OK\r\nST: a\0b\r\n\r\n", 27, "NUL byte", __LINE__);

    char long_usn[600];
    snprintf(long_usn, sizeof long_usn, "HTTP/1.1 200 OK\r\nST: x\r\nLOCATION: http://h/\r\nUSN: uuid:%0300d\r\n\r\n", 0);
    SSDP_ERROR(long_usn, "USN header too long");
    char long_location[1024];
    snprintf(long_location, sizeof long_location,
             "HTTP/1.1 200 OK\r\nST: x\r\nUSN: uuid:x\r\nLOCATION: http://h/%0600d\r\n\r\n", 0);
    SSDP_ERROR(long_location, "LOCATION");

    /* Oversized: a valid answer padded past the limit. */
    char *big = repeat("X-PAD: 0123456789012345678901234567890123456789\r\n", 200, "HTTP/1.1 200 OK\r\n"
                       "ST: upnp:rootdevice\r\nUSN: uuid:x\r\nLOCATION: http://h/\r\n", "\r\n");
    SSDP_ERROR(big, "message larger than 8192 bytes");
    free(big);
    /* Exactly at the limit is fine. */
    sn_text t = {0};
    sn_text_puts(&t, "HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: uuid:x\r\nLOCATION: http://h/\r\nX-PAD: ");
    while (t.len < SN_SSDP_MAX_MESSAGE - 4)
        sn_text_puts(&t, "y");
    sn_text_puts(&t, "\r\n\r\n");
    sn_ssdp_message m;
    CHECK(t.len == SN_SSDP_MAX_MESSAGE && ssdp(sn_text_str(&t), &m) == 0);
    sn_text_free(&t);

    /* A byebye with a bad LOCATION still counts; the location is just not kept. */
    CHECK(ssdp("NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\nNTS: ssdp:byebye\r\nUSN: uuid:x\r\n"
               "LOCATION: gopher://x\r\n\r\n",
               &m) == 0);
    CHECK(m.byebye && strcmp(m.location, "") == 0);

    /* Every prefix of a real answer and announcement parses or fails without reading past it. */
    const char *samples[] = {sonos_answer, libupnp_answer, sonos_alive, sonos_byebye};
    for (size_t s = 0; s < sizeof samples / sizeof samples[0]; s++) {
        size_t len = strlen(samples[s]);
        for (size_t n = 0; n <= len; n++) {
            char *copy = exact(samples[s], n);
            sn_ssdp_parse(copy, n, &m, err, sizeof err);
            free(copy);
        }
    }
    uint32_t state = 4242;
    for (int round = 0; round < 3000; round++) {
        size_t len = strlen(sonos_answer);
        char *copy = exact(sonos_answer, len);
        for (int e = 0; e < 3; e++)
            copy[next_random(&state) % len] = (char)(next_random(&state) & 0xFF);
        if (sn_ssdp_parse(copy, len, &m, err, sizeof err) == 0) {
            sn_url url;
            CHECK(sn_url_parse(m.location, &url) && m.uuid[0] != '\0');
        }
        free(copy);
    }
    CHECK(sn_ssdp_parse(NULL, 0, &m, err, sizeof err) == -1);
    CHECK(sn_ssdp_parse(sonos_answer, strlen(sonos_answer), &m, NULL, 0) == 0);
}

int main(void)
{
    test_text();
    test_xml_normal();
    test_xml_hostile();
    test_json_normal();
    test_json_hostile();
    test_url();
    test_ssdp_normal();
    test_ssdp_hostile();
    return CHECK_DONE("test_basics") != 0;
}

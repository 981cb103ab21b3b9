/* The XML reader. It walks the input once with an explicit stack of open elements instead of
 * recursion, so hostile nesting costs a bounded array, never the plugin's thread stack. All
 * parser state lives in one struct on the caller's stack: two plugin copies loaded side by side
 * during a hot reload share nothing. */
#define _POSIX_C_SOURCE 200809L

#include "xml.h"
#include "text.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Duplicate attributes are checked pairwise, so their number per element is capped too; UPnP
 * elements carry a handful, a thousand would only be an attack on that check. */
#define MAX_ATTRS_PER_ELEMENT 256

typedef struct open_element {
    sn_xml_node *node;
    const char *qname; /* the start tag's name as written, to match its end tag exactly */
    size_t qname_len;
    sn_text text;
} open_element;

typedef struct parser {
    const char *data;
    size_t size;
    size_t pos;
    size_t nodes; /* elements and attributes so far */
    sn_xml_node *root;
    open_element stack[SN_XML_MAX_DEPTH];
    size_t depth;
    char *err;
    size_t err_size;
    bool failed;
} parser;

static bool fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Only the first failure is kept: it is the cause, later ones are consequences. */
static bool fail(parser *p, const char *fmt, ...)
{
    if (p->failed)
        return false;
    p->failed = true;
    if (p->err != NULL && p->err_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, p->err_size, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool fail_eof(parser *p)
{
    return fail(p, "unexpected end of input at byte %zu", p->size);
}

static bool fail_oom(parser *p)
{
    return fail(p, "out of memory");
}

static bool at_end(const parser *p)
{
    return p->pos >= p->size;
}

static bool looking_at(const parser *p, const char *s)
{
    size_t n = strlen(s);
    return p->size - p->pos >= n && memcmp(p->data + p->pos, s, n) == 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_space(parser *p)
{
    while (!at_end(p) && is_space(p->data[p->pos]))
        p->pos++;
}

/* Moves past the next `terminator`; an unterminated construct is a truncated document. */
static bool skip_past(parser *p, const char *terminator)
{
    size_t n = strlen(terminator);
    while (p->size - p->pos >= n) {
        if (memcmp(p->data + p->pos, terminator, n) == 0) {
            p->pos += n;
            return true;
        }
        p->pos++;
    }
    p->pos = p->size;
    return fail_eof(p);
}

/* ---- nodes ---------------------------------------------------------------------------------- */

static void free_node(sn_xml_node *node)
{
    if (node == NULL)
        return;
    for (size_t i = 0; i < node->child_count; i++)
        free_node(node->children[i]);
    for (size_t i = 0; i < node->attr_count; i++) {
        free(node->attrs[i].name);
        free(node->attrs[i].value);
    }
    free(node->children);
    free(node->attrs);
    free(node->name);
    free(node->text);
    free(node);
}

void sn_xml_free(sn_xml_node *root)
{
    free_node(root);
}

/* Arrays grow to the next power of two, so their capacity follows from their count and the
 * public structs need no capacity fields. */
static bool grow_for_one_more(void **array, size_t count, size_t elem_size)
{
    if (count != 0 && (count & (count - 1)) != 0)
        return true;
    size_t cap = count == 0 ? 4 : count * 2;
    if (cap > SIZE_MAX / elem_size)
        return false;
    void *grown = realloc(*array, cap * elem_size);
    if (grown == NULL)
        return false;
    *array = grown;
    return true;
}

static bool count_node(parser *p)
{
    if (++p->nodes > SN_XML_MAX_NODES)
        return fail(p, "more than %u nodes (elements and attributes)", (unsigned)SN_XML_MAX_NODES);
    return true;
}

/* ---- names, references, character data ------------------------------------------------------ */

static bool is_name_start(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':' || c >= 0x80;
}

static bool is_name_char(unsigned char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static bool read_name(parser *p, const char **name, size_t *len)
{
    if (at_end(p))
        return fail_eof(p);
    if (!is_name_start((unsigned char)p->data[p->pos]))
        return fail(p, "expected a name at byte %zu", p->pos);
    size_t start = p->pos;
    while (!at_end(p) && is_name_char((unsigned char)p->data[p->pos]))
        p->pos++;
    *name = p->data + start;
    *len = p->pos - start;
    return true;
}

/* The part after the last ':'; "s:" or ":" alone name nothing. */
static char *local_name(parser *p, const char *qname, size_t len)
{
    const char *colon = memchr(qname, ':', len);
    while (colon != NULL) {
        size_t offset = (size_t)(colon - qname) + 1;
        qname += offset, len -= offset;
        colon = memchr(qname, ':', len);
    }
    if (len == 0) {
        fail(p, "empty local name at byte %zu", p->pos);
        return NULL;
    }
    char *copy = sn_strndup(qname, len);
    if (copy == NULL)
        fail_oom(p);
    return copy;
}


/* XML 1.0 "Char": a reference may not smuggle in NUL, other C0 controls, surrogates or
 * non-characters that the document itself could not contain either. */
static bool is_xml_char(uint32_t cp)
{
    if (cp < 0x20)
        return cp == 0x9 || cp == 0xA || cp == 0xD;
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return false;
    return cp <= 0x10FFFF && cp != 0xFFFE && cp != 0xFFFF;
}

static bool char_reference(parser *p, const char *ref, size_t len, size_t at, sn_text *out)
{
    bool hex = len > 1 && ref[1] == 'x';
    size_t i = hex ? 2 : 1;
    if (i == len)
        return fail(p, "empty character reference at byte %zu", at);
    uint32_t cp = 0;
    for (; i < len; i++) {
        char c = ref[i];
        uint32_t digit;
        if (c >= '0' && c <= '9')
            digit = (uint32_t)(c - '0');
        else if (hex && c >= 'a' && c <= 'f')
            digit = (uint32_t)(c - 'a' + 10);
        else if (hex && c >= 'A' && c <= 'F')
            digit = (uint32_t)(c - 'A' + 10);
        else
            return fail(p, "malformed character reference at byte %zu", at);
        cp = cp * (hex ? 16 : 10) + digit;
        if (cp > 0x10FFFF)
            return fail(p, "character reference out of range at byte %zu", at);
    }
    if (!is_xml_char(cp))
        return fail(p, "character reference to an invalid character (U+%04X) at byte %zu", (unsigned)cp, at);
    sn_text_utf8(out, cp);
    return true;
}

/* At '&': decodes one reference into `out`. Only the five predefined entities exist, because
 * no DOCTYPE can define others. */
static bool reference(parser *p, sn_text *out)
{
    static const struct { const char *name; char value; } predefined[] = {
        {"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''},
    };
    size_t at = p->pos;
    const char *start = p->data + at + 1;
    size_t avail = p->size - at - 1;
    const char *semi = memchr(start, ';', avail < 16 ? avail : 16);
    if (semi == NULL) {
        if (avail < 16 && memchr(start, '<', avail) == NULL && memchr(start, '&', avail) == NULL)
            return fail_eof(p);
        return fail(p, "unescaped '&' at byte %zu", at);
    }
    size_t len = (size_t)(semi - start);
    p->pos = at + 1 + len + 1;
    if (len > 0 && start[0] == '#')
        return char_reference(p, start, len, at, out);
    for (size_t i = 0; i < sizeof predefined / sizeof predefined[0]; i++) {
        if (strlen(predefined[i].name) == len && memcmp(predefined[i].name, start, len) == 0) {
            sn_text_append(out, &predefined[i].value, 1);
            return true;
        }
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_name_char((unsigned char)start[i]))
            return fail(p, "unescaped '&' at byte %zu", at);
    }
    return fail(p, "unknown entity &%.*s; at byte %zu", (int)len, start, at);
}

/* Line ends become "\n" (XML 1.0 §2.11); inside attribute values every literal white-space
 * character becomes a space (§3.3.3). Character references are exempt from both. */
static void literal_char(parser *p, sn_text *out, bool in_attribute)
{
    char c = p->data[p->pos++];
    if (c == '\r') {
        if (!at_end(p) && p->data[p->pos] == '\n')
            p->pos++;
        c = '\n';
    }
    if (in_attribute && is_space(c))
        c = ' ';
    sn_text_append(out, &c, 1);
}

/* ---- markup --------------------------------------------------------------------------------- */

static bool skip_comment(parser *p)
{
    p->pos += 4;
    return skip_past(p, "-->");
}

static bool skip_processing_instruction(parser *p)
{
    p->pos += 2;
    return skip_past(p, "?>");
}

/* At "<!" that is neither a comment nor CDATA. */
static bool refuse_declaration(parser *p)
{
    if (looking_at(p, "<!DOCTYPE"))
        return fail(p, "DOCTYPE is not allowed (byte %zu)", p->pos);
    if (p->size - p->pos < 9 && memcmp(p->data + p->pos, "<!DOCTYPE", p->size - p->pos) == 0)
        return fail_eof(p);
    return fail(p, "unexpected markup declaration at byte %zu", p->pos);
}

static bool cdata(parser *p, sn_text *out)
{
    p->pos += 9; /* "<![CDATA[" */
    size_t start = p->pos;
    if (!skip_past(p, "]]>"))
        return false;
    sn_text_append(out, p->data + start, p->pos - 3 - start);
    return true;
}

static bool attribute_value(parser *p, sn_text *value)
{
    if (at_end(p))
        return fail_eof(p);
    char quote = p->data[p->pos];
    if (quote != '"' && quote != '\'')
        return fail(p, "expected a quoted attribute value at byte %zu", p->pos);
    p->pos++;
    for (;;) {
        if (at_end(p))
            return fail_eof(p);
        char c = p->data[p->pos];
        if (c == quote) {
            p->pos++;
            return true;
        }
        if (c == '<')
            return fail(p, "'<' in an attribute value at byte %zu", p->pos);
        if (c == '&') {
            if (!reference(p, value))
                return false;
        } else {
            literal_char(p, value, true);
        }
    }
}

/* xmlns declarations are dropped: namespaces are not resolved here, and keeping "xmlns:dc" as
 * "dc" would make it collide with real attributes. */
static bool is_namespace_declaration(const char *qname, size_t len)
{
    return (len == 5 && memcmp(qname, "xmlns", 5) == 0) || (len > 6 && memcmp(qname, "xmlns:", 6) == 0);
}

static bool add_attribute(parser *p, sn_xml_node *node, const char *qname, size_t qlen)
{
    size_t at = p->pos;
    sn_text value = {0};
    skip_space(p);
    if (at_end(p) || p->data[p->pos] != '=') {
        return at_end(p) ? fail_eof(p) : fail(p, "expected '=' after attribute name at byte %zu", p->pos);
    }
    p->pos++;
    skip_space(p);
    if (!attribute_value(p, &value)) {
        sn_text_free(&value);
        return false;
    }
    if (is_namespace_declaration(qname, qlen)) {
        sn_text_free(&value);
        return true;
    }
    char *name = local_name(p, qname, qlen);
    char *decoded = value.failed ? NULL : sn_strdup(sn_text_str(&value));
    sn_text_free(&value);
    bool ok = name != NULL && (decoded != NULL || fail_oom(p));
    for (size_t i = 0; ok && i < node->attr_count; i++) {
        if (strcmp(node->attrs[i].name, name) == 0)
            ok = fail(p, "duplicate attribute %s at byte %zu", name, at - qlen);
    }
    if (ok && node->attr_count >= MAX_ATTRS_PER_ELEMENT)
        ok = fail(p, "more than %d attributes on <%s>", MAX_ATTRS_PER_ELEMENT, node->name);
    ok = ok && count_node(p);
    if (ok && !grow_for_one_more((void **)&node->attrs, node->attr_count, sizeof *node->attrs))
        ok = fail_oom(p);
    if (!ok) {
        free(name);
        free(decoded);
        return false;
    }
    node->attrs[node->attr_count].name = name;
    node->attrs[node->attr_count].value = decoded;
    node->attr_count++;
    return true;
}

static bool open_node(parser *p, sn_xml_node *node, const char *qname, size_t qlen)
{
    if (p->depth == SN_XML_MAX_DEPTH)
        return fail(p, "nesting deeper than %d", SN_XML_MAX_DEPTH);
    open_element *e = &p->stack[p->depth++];
    e->node = node;
    e->qname = qname;
    e->qname_len = qlen;
    e->text = (sn_text){0};
    return true;
}

static bool close_node(parser *p)
{
    open_element *e = &p->stack[--p->depth];
    if (e->text.failed) {
        sn_text_free(&e->text);
        return fail_oom(p);
    }
    e->node->text = e->text.data != NULL ? e->text.data : sn_strdup("");
    e->text = (sn_text){0};
    if (e->node->text == NULL)
        return fail_oom(p);
    return true;
}

/* Links the new element into the tree first, so that on any later failure freeing the root
 * frees it too. */
static sn_xml_node *new_element(parser *p, const char *qname, size_t qlen)
{
    if (p->root != NULL && p->depth == 0) {
        fail(p, "more than one root element (byte %zu)", p->pos);
        return NULL;
    }
    if (p->depth == SN_XML_MAX_DEPTH) {
        fail(p, "nesting deeper than %d", SN_XML_MAX_DEPTH);
        return NULL;
    }
    if (!count_node(p))
        return NULL;
    sn_xml_node *node = calloc(1, sizeof *node);
    if (node == NULL) {
        fail_oom(p);
        return NULL;
    }
    if (p->depth == 0) {
        p->root = node;
    } else {
        sn_xml_node *parent = p->stack[p->depth - 1].node;
        if (!grow_for_one_more((void **)&parent->children, parent->child_count, sizeof *parent->children)) {
            free(node);
            fail_oom(p);
            return NULL;
        }
        parent->children[parent->child_count++] = node;
        node->parent = parent;
    }
    node->name = local_name(p, qname, qlen);
    return node->name != NULL ? node : NULL;
}

static bool start_tag(parser *p)
{
    p->pos++; /* '<' */
    const char *qname;
    size_t qlen;
    if (!read_name(p, &qname, &qlen))
        return false;
    sn_xml_node *node = new_element(p, qname, qlen);
    if (node == NULL)
        return false;
    for (;;) {
        bool spaced = !at_end(p) && is_space(p->data[p->pos]);
        skip_space(p);
        if (at_end(p))
            return fail_eof(p);
        if (looking_at(p, "/>")) {
            p->pos += 2;
            if (!open_node(p, node, qname, qlen))
                return false;
            return close_node(p);
        }
        if (p->data[p->pos] == '>') {
            p->pos++;
            return open_node(p, node, qname, qlen);
        }
        if (!spaced)
            return fail(p, "expected white space, '>' or '/>' at byte %zu", p->pos);
        const char *aname;
        size_t alen;
        if (!read_name(p, &aname, &alen) || !add_attribute(p, node, aname, alen))
            return false;
    }
}

static bool end_tag(parser *p)
{
    size_t at = p->pos;
    p->pos += 2; /* "</" */
    const char *qname;
    size_t qlen;
    if (!read_name(p, &qname, &qlen))
        return false;
    skip_space(p);
    if (at_end(p))
        return fail_eof(p);
    if (p->data[p->pos] != '>')
        return fail(p, "expected '>' at byte %zu", p->pos);
    p->pos++;
    if (p->depth == 0)
        return fail(p, "end tag </%.*s> without a start tag at byte %zu", (int)qlen, qname, at);
    const open_element *e = &p->stack[p->depth - 1];
    if (e->qname_len != qlen || memcmp(e->qname, qname, qlen) != 0)
        return fail(p, "mismatched end tag </%.*s> for <%.*s> at byte %zu", (int)qlen, qname,
                    (int)e->qname_len, e->qname, at);
    return close_node(p);
}

/* Character data up to the next '<'. Outside the root element only white space may appear. */
static bool character_data(parser *p)
{
    if (p->depth == 0) {
        size_t at = p->pos;
        skip_space(p);
        if (!at_end(p) && p->data[p->pos] != '<')
            return fail(p, "text outside the root element at byte %zu", at);
        return true;
    }
    sn_text *text = &p->stack[p->depth - 1].text;
    while (!at_end(p) && p->data[p->pos] != '<') {
        if (p->data[p->pos] == '&') {
            if (!reference(p, text))
                return false;
        } else {
            literal_char(p, text, false);
        }
    }
    return true;
}

static bool markup(parser *p)
{
    if (looking_at(p, "</"))
        return end_tag(p);
    if (looking_at(p, "<?"))
        return skip_processing_instruction(p);
    if (looking_at(p, "<!--"))
        return skip_comment(p);
    if (looking_at(p, "<![CDATA[")) {
        if (p->depth == 0)
            return fail(p, "CDATA outside the root element at byte %zu", p->pos);
        return cdata(p, &p->stack[p->depth - 1].text);
    }
    if (looking_at(p, "<!"))
        return refuse_declaration(p);
    return start_tag(p);
}

static bool check_input(parser *p)
{
    if (p->data == NULL || p->size == 0)
        return fail(p, "empty document");
    if (p->size > SN_XML_MAX_INPUT)
        return fail(p, "document larger than %u bytes", (unsigned)SN_XML_MAX_INPUT);
    const char *nul = memchr(p->data, '\0', p->size);
    if (nul != NULL)
        return fail(p, "NUL byte at byte %zu", (size_t)(nul - p->data));
    return true;
}

sn_xml_node *sn_xml_parse(const char *data, size_t size, char *err, size_t err_size)
{
    parser p = {.data = data, .size = size, .err = err, .err_size = err_size};
    if (err != NULL && err_size > 0)
        err[0] = '\0';
    bool ok = check_input(&p);
    if (ok && looking_at(&p, "\xEF\xBB\xBF"))
        p.pos += 3;
    while (ok && !at_end(&p))
        ok = p.data[p.pos] == '<' ? markup(&p) : character_data(&p);
    if (ok && p.depth > 0)
        ok = fail_eof(&p);
    if (ok && p.root == NULL)
        ok = fail(&p, "no root element");
    if (ok)
        return p.root;
    while (p.depth > 0)
        sn_text_free(&p.stack[--p.depth].text);
    sn_xml_free(p.root);
    return NULL;
}

/* ---- lookups -------------------------------------------------------------------------------- */

static const sn_xml_node *child_n(const sn_xml_node *node, const char *name, size_t len)
{
    if (node == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < node->child_count; i++) {
        const char *n = node->children[i]->name;
        if (strncmp(n, name, len) == 0 && n[len] == '\0')
            return node->children[i];
    }
    return NULL;
}

const sn_xml_node *sn_xml_child(const sn_xml_node *node, const char *name)
{
    return name == NULL ? NULL : child_n(node, name, strlen(name));
}

const sn_xml_node *sn_xml_path(const sn_xml_node *node, const char *path)
{
    if (path == NULL)
        return NULL;
    while (node != NULL && *path != '\0') {
        const char *slash = strchr(path, '/');
        size_t len = slash != NULL ? (size_t)(slash - path) : strlen(path);
        if (len > 0)
            node = child_n(node, path, len);
        path += len + (slash != NULL);
    }
    return node;
}

const char *sn_xml_child_text(const sn_xml_node *node, const char *name)
{
    const sn_xml_node *child = sn_xml_child(node, name);
    return child != NULL ? child->text : NULL;
}

const char *sn_xml_attr_value(const sn_xml_node *node, const char *name)
{
    if (node == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < node->attr_count; i++) {
        if (strcmp(node->attrs[i].name, name) == 0)
            return node->attrs[i].value;
    }
    return NULL;
}

const sn_xml_node *sn_xml_find(const sn_xml_node *node, const char *name)
{
    if (node == NULL || name == NULL)
        return NULL;
    if (strcmp(node->name, name) == 0)
        return node;
    for (size_t i = 0; i < node->child_count; i++) {
        const sn_xml_node *found = sn_xml_find(node->children[i], name);
        if (found != NULL)
            return found;
    }
    return NULL;
}

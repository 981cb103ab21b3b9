/*
 * ssml.c: the SSML allow-list check (see ssml.h for what is allowed and why).
 *
 * A single forward pass over bytes, never past `len`, with no allocation. Every `<` in an accepted
 * text starts one of the allowed tags, and no attribute value holds `<` or `>`, so espeak-ng's
 * own tag reader (which ends a tag at the first `>`, whatever the quotes say) sees exactly the
 * tags this scanner saw.
 */
#include "ssml.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const allowed_tags[] = {
    "speak", "break", "emphasis", "prosody", "say-as", "voice", "s", "p", "sub", "mark",
};
#define N_ALLOWED (sizeof allowed_tags / sizeof allowed_tags[0])

/* Names are printed in reasons at most this long (cut at a character boundary). */
#define NAME_SHOWN 40

typedef struct scan {
    const unsigned char *s;
    size_t len;     /* the whole text */
    size_t i;       /* the cursor */
    size_t limit;   /* inside a tag: where its byte budget ends (<= len); len otherwise */
    char *err;
    size_t err_size;
} scan;

typedef struct open_element {
    size_t tag;     /* index into allowed_tags */
    size_t at;      /* byte offset of its '<' */
} open_element;

static int refuse(scan *sc, const char *fmt, ...)
{
    if (sc->err != NULL && sc->err_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(sc->err, sc->err_size, fmt, ap);
        va_end(ap);
    }
    return 0;
}

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static int is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Bytes of an element or attribute name: ASCII letters, digits, `_ : . -`, and any byte of a
 * non-ASCII character (so `<föö>` is reported whole; it is refused either way). */
static int is_name_byte(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c >= 0x80 || c == '_' || c == ':' || c == '.' || c == '-';
}
static int is_name_start(unsigned char c) { return is_alpha(c) || c == '_' || c == ':' || c >= 0x80; }

/* How many of the name's `n` bytes to print: at most NAME_SHOWN, never half a character. */
static int shown(const unsigned char *name, size_t n)
{
    if (n <= NAME_SHOWN) return (int)n;
    size_t k = NAME_SHOWN;
    while (k > 0 && (name[k] & 0xC0) == 0x80) k--;
    return (int)k;
}

/* ---- the whole text: UTF-8, no NUL, no control characters XML forbids --------------------- */

static int check_bytes(scan *sc)
{
    const unsigned char *p = sc->s;
    size_t i = 0;
    while (i < sc->len) {
        unsigned c = p[i];
        if (c == 0) return refuse(sc, "SSML contains a NUL byte (byte %zu)", i);
        if (c < 0x20 && !is_space((unsigned char)c)) {
            /* XML forbids them; espeak-ng also reads 0x01 as the start of its own embedded commands. */
            return refuse(sc, "SSML contains the control character U+%04X (byte %zu), which XML does not allow", c, i);
        }
        if (c < 0x80) { i++; continue; }
        size_t n;
        unsigned cp, min;
        if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; min = 0x80; }
        else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; min = 0x800; }
        else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; min = 0x10000; }
        else return refuse(sc, "SSML is not valid UTF-8 (byte %zu)", i);
        if (n >= sc->len - i) return refuse(sc, "SSML is not valid UTF-8 (byte %zu)", i); /* cut short */
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return refuse(sc, "SSML is not valid UTF-8 (byte %zu)", i);
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return refuse(sc, "SSML is not valid UTF-8 (byte %zu)", i);
        }
        i += n + 1;
    }
    return 1;
}

/* ---- references: &amp; &lt; &gt; &quot; &apos; &#N; &#xH; -------------------------------- */

/* A character XML lets a reference produce (the Char production of XML 1.0). */
static int xml_char(unsigned long cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
           (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* At '&'; moves past the reference or refuses. */
static int reference(scan *sc)
{
    size_t at = sc->i, j = sc->i + 1;
    const unsigned char *s = sc->s;
    if (j < sc->limit && s[j] == '#') {
        j++;
        int hex = j < sc->limit && s[j] == 'x';
        if (hex) j++;
        size_t digits = 0, max_digits = hex ? 6 : 7;
        unsigned long cp = 0;
        while (j < sc->limit && digits <= max_digits) {
            unsigned char c = s[j];
            unsigned v;
            if (is_digit(c)) v = c - '0';
            else if (hex && c >= 'a' && c <= 'f') v = c - 'a' + 10;
            else if (hex && c >= 'A' && c <= 'F') v = c - 'A' + 10;
            else break;
            cp = cp * (hex ? 16u : 10u) + v;
            digits++;
            j++;
        }
        if (digits == 0 || digits > max_digits || j >= sc->limit || s[j] != ';') {
            return refuse(sc, "SSML is malformed at byte %zu: a character reference must be &#digits; or &#xhex; "
                              "(write &amp; for a literal &)", at);
        }
        if (!xml_char(cp)) {
            return refuse(sc, "SSML character reference at byte %zu is U+%04lX, which XML does not allow", at, cp);
        }
        sc->i = j + 1;
        return 1;
    }
    static const char *const entities[] = { "amp", "lt", "gt", "quot", "apos" };
    size_t name = j;
    while (j < sc->limit && j - name <= 10 && (is_alpha(s[j]) || is_digit(s[j]))) j++;
    if (j == name || j - name > 10 || j >= sc->limit || s[j] != ';') {
        return refuse(sc, "SSML is malformed at byte %zu: '&' starts no reference (write &amp; for a literal &)", at);
    }
    for (size_t k = 0; k < sizeof entities / sizeof entities[0]; k++) {
        if (strlen(entities[k]) == j - name && memcmp(entities[k], s + name, j - name) == 0) {
            sc->i = j + 1;
            return 1;
        }
    }
    return refuse(sc, "SSML entity reference &%.*s; is not allowed (only &amp; &lt; &gt; &quot; &apos; and "
                      "numeric references)", (int)(j - name), (const char *)(s + name));
}

/* ---- tags ----------------------------------------------------------------------------------- */

/* Reads a name at the cursor; returns its length (0: none). Stops at the tag's budget. */
static size_t read_name(scan *sc)
{
    size_t start = sc->i;
    while (sc->i < sc->limit && is_name_byte(sc->s[sc->i])) sc->i++;
    return sc->i - start;
}

static void skip_spaces(scan *sc)
{
    while (sc->i < sc->limit && is_space(sc->s[sc->i])) sc->i++;
}

/* The cursor reached the tag's budget: either the text ended or the tag is too long. */
static int cut_short(scan *sc, const char *open, const unsigned char *name, size_t name_len, size_t at)
{
    if (sc->limit < sc->len) {
        return refuse(sc, "SSML tag %s%.*s> at byte %zu is longer than %d bytes", open, shown(name, name_len),
                      (const char *)name, at, SSML_MAX_TAG_BYTES);
    }
    return refuse(sc, "SSML is malformed: the tag %s%.*s> at byte %zu is never closed with '>'", open,
                  shown(name, name_len), (const char *)name, at);
}

static int not_allowed(scan *sc, const char *open, const unsigned char *name, size_t name_len)
{
    return refuse(sc, "SSML tag %s%.*s> is not allowed (allowed: " SSML_ALLOWED_TAGS ")", open,
                  shown(name, name_len), (const char *)name);
}

/* The index of an allowed tag, or -1. Case matters, as in XML: <AUDIO> is not <audio>, and
 * not <speak> either. */
static long find_tag(const unsigned char *name, size_t n)
{
    for (size_t k = 0; k < N_ALLOWED; k++) {
        if (strlen(allowed_tags[k]) == n && memcmp(allowed_tags[k], name, n) == 0) return (long)k;
    }
    return -1;
}

/* Attributes after a tag's name, up to and including its end: '>' (returns 1), '/>' (returns 2)
 * or, for the XML declaration (`question` set), '?>' (returns 1). 0: refused. */
static int attributes(scan *sc, const char *open, const unsigned char *tag, size_t tag_len, size_t at, int question)
{
    size_t names[SSML_MAX_ATTRIBUTES], lengths[SSML_MAX_ATTRIBUTES];
    size_t count = 0;
    const unsigned char *s = sc->s;
    int t = shown(tag, tag_len);
    for (;;) {
        size_t before = sc->i;
        skip_spaces(sc);
        if (sc->i >= sc->limit) return cut_short(sc, open, tag, tag_len, at);
        unsigned char c = s[sc->i];
        if (!question && c == '>') { sc->i++; return 1; }
        if (c == (question ? '?' : '/')) {
            if (sc->i + 1 >= sc->limit) return cut_short(sc, open, tag, tag_len, at);
            if (s[sc->i + 1] != '>') {
                return refuse(sc, "SSML is malformed at byte %zu: '%c' inside %s%.*s> must be followed by '>'", sc->i, c,
                              open, t, (const char *)tag);
            }
            sc->i += 2;
            return question ? 1 : 2;
        }
        if (!is_name_start(c) || c >= 0x80) {
            return refuse(sc, "SSML is malformed at byte %zu: unexpected '%c' in %s%.*s>", sc->i, c >= 0x20 && c < 0x7f ? c : '?',
                          open, t, (const char *)tag);
        }
        if (sc->i == before) {
            return refuse(sc, "SSML is malformed at byte %zu: %s%.*s> needs a space before each attribute", sc->i, open, t,
                          (const char *)tag);
        }
        size_t name = sc->i, n = read_name(sc);
        int shown_n = shown(s + name, n);
        for (size_t k = 0; k < n; k++) {
            if (s[name + k] >= 0x80) {
                return refuse(sc, "SSML is malformed at byte %zu: attribute names in %s%.*s> must be ASCII", name, open, t,
                              (const char *)tag);
            }
        }
        if (count == SSML_MAX_ATTRIBUTES) {
            return refuse(sc, "SSML tag %s%.*s> at byte %zu has more than %d attributes", open, t, (const char *)tag, at,
                          SSML_MAX_ATTRIBUTES);
        }
        for (size_t k = 0; k < count; k++) {
            if (lengths[k] == n && memcmp(s + names[k], s + name, n) == 0) {
                return refuse(sc, "SSML is malformed at byte %zu: attribute \"%.*s\" given twice in %s%.*s>", name, shown_n,
                              (const char *)(s + name), open, t, (const char *)tag);
            }
        }
        names[count] = name;
        lengths[count++] = n;
        skip_spaces(sc);
        if (sc->i >= sc->limit) return cut_short(sc, open, tag, tag_len, at);
        if (s[sc->i] != '=') {
            return refuse(sc, "SSML is malformed at byte %zu: attribute \"%.*s\" in %s%.*s> has no '=' and value", sc->i,
                          shown_n, (const char *)(s + name), open, t, (const char *)tag);
        }
        sc->i++;
        skip_spaces(sc);
        if (sc->i >= sc->limit) return cut_short(sc, open, tag, tag_len, at);
        unsigned char quote = s[sc->i];
        if (quote != '"' && quote != '\'') {
            return refuse(sc, "SSML is malformed at byte %zu: the value of attribute \"%.*s\" in %s%.*s> must be in quotes",
                          sc->i, shown_n, (const char *)(s + name), open, t, (const char *)tag);
        }
        size_t value = sc->i++;
        for (;;) {
            if (sc->i >= sc->limit) {
                if (sc->limit < sc->len) return cut_short(sc, open, tag, tag_len, at);
                return refuse(sc, "SSML is malformed: the value of attribute \"%.*s\" in %s%.*s> (byte %zu) has no closing quote",
                              shown_n, (const char *)(s + name), open, t, (const char *)tag, value);
            }
            unsigned char v = s[sc->i];
            if (v == quote) { sc->i++; break; }
            if (v == '<' || v == '>') {
                /* '<' is not XML; '>' is, but espeak-ng would end the tag there. */
                return refuse(sc, "SSML is malformed at byte %zu: '%c' inside the value of attribute \"%.*s\" in %s%.*s> "
                                  "(write %s)", sc->i, v, shown_n, (const char *)(s + name), open, t, (const char *)tag,
                              v == '<' ? "&lt;" : "&gt;");
            }
            if (v == '&') {
                if (!reference(sc)) return 0;
                continue;
            }
            sc->i++;
        }
    }
}

/* At '<' of a start or end tag of an element, a declaration or anything else that starts with '<'. */
static int markup(scan *sc, open_element *stack, size_t *depth)
{
    const unsigned char *s = sc->s;
    size_t at = sc->i;
    sc->limit = sc->len - at > SSML_MAX_TAG_BYTES ? at + SSML_MAX_TAG_BYTES : sc->len;
    if (at + 1 >= sc->len) return refuse(sc, "SSML is malformed at byte %zu: '<' at the end of the text (write &lt;)", at);
    unsigned char next = s[at + 1];

    if (next == '!') {
        size_t rest = sc->len - at;
        if (rest >= 4 && memcmp(s + at, "<!--", 4) == 0) {
            return refuse(sc, "SSML comments are not allowed (byte %zu)", at);
        }
        if (rest >= 9 && memcmp(s + at, "<![CDATA[", 9) == 0) {
            return refuse(sc, "SSML CDATA sections are not allowed (byte %zu)", at);
        }
        sc->i = at + 2;
        size_t n = read_name(sc);
        return refuse(sc, "SSML markup <!%.*s> is not allowed (byte %zu): no DTDs or entity declarations", shown(s + at + 2, n),
                      (const char *)(s + at + 2), at);
    }

    if (next == '?') {
        sc->i = at + 2;
        size_t n = read_name(sc);
        const unsigned char *name = s + at + 2;
        if (n == 3 && memcmp(name, "xml", 3) == 0) {
            if (at != 0) return refuse(sc, "SSML is malformed at byte %zu: the XML declaration <?xml?> is allowed only at the start", at);
            return attributes(sc, "<?", name, n, at, 1) != 0;
        }
        return refuse(sc, "SSML processing instruction <?%.*s?> is not allowed (byte %zu)", shown(name, n), (const char *)name, at);
    }

    if (next == '/') {
        sc->i = at + 2;
        const unsigned char *name = s + sc->i;
        size_t n = read_name(sc);
        if (n == 0) return refuse(sc, "SSML is malformed at byte %zu: '</' without a tag name (write &lt;)", at);
        long tag = find_tag(name, n);
        if (tag < 0) return not_allowed(sc, "</", name, n);
        skip_spaces(sc);
        if (sc->i >= sc->limit) return cut_short(sc, "</", name, n, at);
        if (s[sc->i] != '>') {
            return refuse(sc, "SSML is malformed at byte %zu: the end tag </%s> takes no attributes", sc->i, allowed_tags[tag]);
        }
        sc->i++;
        if (*depth == 0) return refuse(sc, "SSML is malformed at byte %zu: </%s> closes nothing", at, allowed_tags[tag]);
        const open_element *top = &stack[*depth - 1];
        if (top->tag != (size_t)tag) {
            return refuse(sc, "SSML is malformed at byte %zu: </%s> where <%s> (byte %zu) should be closed", at,
                          allowed_tags[tag], allowed_tags[top->tag], top->at);
        }
        (*depth)--;
        return 1;
    }

    if (!is_name_start(next)) {
        return refuse(sc, "SSML is malformed at byte %zu: '<' starts no tag (write &lt; for a literal <)", at);
    }
    sc->i = at + 1;
    const unsigned char *name = s + sc->i;
    size_t n = read_name(sc);
    long tag = find_tag(name, n);
    if (tag < 0) return not_allowed(sc, "<", name, n);
    int end = attributes(sc, "<", name, n, at, 0);
    if (end == 0) return 0;
    if (end == 2) return 1; /* self-closing: opens nothing */
    if (*depth == SSML_MAX_DEPTH) {
        return refuse(sc, "SSML is nested too deeply: <%s> at byte %zu would be the %dth open element (at most %d)",
                      allowed_tags[tag], at, SSML_MAX_DEPTH + 1, SSML_MAX_DEPTH);
    }
    stack[*depth].tag = (size_t)tag;
    stack[*depth].at = at;
    (*depth)++;
    return 1;
}

int ssml_check(const char *text, size_t len, char *err, size_t err_size)
{
    scan sc = { (const unsigned char *)text, len, 0, len, err, err_size };
    if (text == NULL) return refuse(&sc, "no SSML text");
    if (!check_bytes(&sc)) return 0;
    open_element stack[SSML_MAX_DEPTH];
    size_t depth = 0;
    while (sc.i < sc.len) {
        unsigned char c = sc.s[sc.i];
        sc.limit = sc.len;
        if (c == '<') {
            if (!markup(&sc, stack, &depth)) return 0;
        } else if (c == '&') {
            if (!reference(&sc)) return 0;
        } else {
            sc.i++;
        }
    }
    if (depth > 0) {
        return refuse(&sc, "SSML is malformed: <%s> at byte %zu is never closed", allowed_tags[stack[depth - 1].tag],
                      stack[depth - 1].at);
    }
    return 1;
}

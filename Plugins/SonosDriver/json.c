/* The JSON reader (RFC 8259). Recursive descent is safe here because nesting is capped at
 * MAX_DEPTH before each descent; all state is in a struct on the caller's stack. */
#define _POSIX_C_SOURCE 200809L

#include "json.h"
#include "text.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32
#define MAX_INPUT (1024u * 1024u)

typedef struct reader {
    const char *s;
    size_t size;
    size_t pos;
    size_t depth;
    char *err;
    size_t err_size;
    bool failed;
} reader;

static bool parse_value(reader *r, sn_json *out);

static bool fail(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Only the first failure is kept: it is the cause, later ones are consequences. */
static bool fail(reader *r, const char *fmt, ...)
{
    if (r->failed)
        return false;
    r->failed = true;
    if (r->err != NULL && r->err_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, r->err_size, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool fail_here(reader *r, const char *expected)
{
    if (r->pos >= r->size)
        return fail(r, "unexpected end of input at byte %zu (expected %s)", r->pos, expected);
    return fail(r, "expected %s at byte %zu", expected, r->pos);
}

static bool fail_oom(reader *r)
{
    return fail(r, "out of memory");
}

static void skip_space(reader *r)
{
    while (r->pos < r->size) {
        char c = r->s[r->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        r->pos++;
    }
}

static int peek(const reader *r)
{
    return r->pos < r->size ? (unsigned char)r->s[r->pos] : -1;
}

/* ---- freeing -------------------------------------------------------------------------------- */

static void free_contents(sn_json *v)
{
    if (v->type == SN_JSON_STRING)
        free(v->string);
    for (size_t i = 0; i < v->count; i++) {
        free_contents(&v->items[i]);
        if (v->keys != NULL)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    *v = (sn_json){0};
}

void sn_json_free(sn_json *value)
{
    if (value == NULL)
        return;
    free_contents(value);
    free(value);
}

/* ---- literals and numbers ------------------------------------------------------------------- */

static bool literal(reader *r, const char *word, sn_json *out, sn_json_type type, bool boolean)
{
    size_t n = strlen(word);
    if (r->size - r->pos < n || memcmp(r->s + r->pos, word, n) != 0)
        return fail_here(r, "a value");
    r->pos += n;
    out->type = type;
    out->boolean = boolean;
    return true;
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static size_t skip_digits(reader *r)
{
    size_t start = r->pos;
    while (is_digit(peek(r)))
        r->pos++;
    return r->pos - start;
}

/* strtod reads the locale's decimal point, and the host process may have set one (",") that
 * JSON does not use; so the validated literal is rewritten with that point before converting. */
static bool convert_number(reader *r, size_t start, double *out)
{
    const char *point = localeconv()->decimal_point;
    if (point == NULL || point[0] == '\0')
        point = ".";
    size_t point_len = strlen(point);
    char *buf = malloc((r->pos - start) * point_len + 1);
    if (buf == NULL)
        return fail_oom(r);
    size_t o = 0;
    for (size_t i = start; i < r->pos; i++) {
        if (r->s[i] == '.') {
            memcpy(buf + o, point, point_len);
            o += point_len;
        } else {
            buf[o++] = r->s[i];
        }
    }
    buf[o] = '\0';
    *out = strtod(buf, NULL);
    free(buf);
    if (isinf(*out))
        return fail(r, "number out of range at byte %zu", start);
    return true;
}

static bool parse_number(reader *r, sn_json *out)
{
    size_t start = r->pos;
    if (peek(r) == '-')
        r->pos++;
    if (peek(r) == '0') {
        r->pos++;
    } else if (skip_digits(r) == 0) {
        return fail_here(r, "a digit");
    }
    if (peek(r) == '.') {
        r->pos++;
        if (skip_digits(r) == 0)
            return fail_here(r, "a digit after '.'");
    }
    if (peek(r) == 'e' || peek(r) == 'E') {
        r->pos++;
        if (peek(r) == '+' || peek(r) == '-')
            r->pos++;
        if (skip_digits(r) == 0)
            return fail_here(r, "a digit in the exponent");
    }
    out->type = SN_JSON_NUMBER;
    return convert_number(r, start, &out->number);
}

/* ---- strings -------------------------------------------------------------------------------- */


static bool hex4(reader *r, uint32_t *out)
{
    *out = 0;
    for (int i = 0; i < 4; i++) {
        int c = peek(r);
        uint32_t digit;
        if (c >= '0' && c <= '9')
            digit = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            digit = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            digit = (uint32_t)(c - 'A' + 10);
        else
            return fail_here(r, "four hex digits after \\u");
        *out = *out << 4 | digit;
        r->pos++;
    }
    return true;
}

/* After "\u": one code point, joining a UTF-16 surrogate pair; lone halves are refused because
 * they have no UTF-8 form. */
static bool unicode_escape(reader *r, size_t at, sn_text *out)
{
    uint32_t cp;
    if (!hex4(r, &cp))
        return false;
    if (cp == 0)
        return fail(r, "\\u0000 is not allowed at byte %zu", at);
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail(r, "unpaired low surrogate at byte %zu", at);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        uint32_t low;
        if (r->size - r->pos < 2 || r->s[r->pos] != '\\' || r->s[r->pos + 1] != 'u')
            return fail(r, "unpaired high surrogate at byte %zu", at);
        r->pos += 2;
        if (!hex4(r, &low))
            return false;
        if (low < 0xDC00 || low > 0xDFFF)
            return fail(r, "unpaired high surrogate at byte %zu", at);
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    sn_text_utf8(out, cp);
    return true;
}

static bool escape(reader *r, sn_text *out)
{
    size_t at = r->pos;
    r->pos++; /* '\\' */
    int c = peek(r);
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *hit = c > 0 ? strchr(from, c) : NULL;
    if (hit != NULL) {
        r->pos++;
        sn_text_append(out, &to[hit - from], 1);
        return true;
    }
    if (c == 'u') {
        r->pos++;
        return unicode_escape(r, at, out);
    }
    return fail_here(r, "a valid escape");
}

/* At '"': the decoded string, allocated. */
static char *parse_string(reader *r)
{
    sn_text out = {0};
    sn_text_append(&out, "", 0);
    r->pos++;
    bool ok = true;
    for (;;) {
        int c = peek(r);
        if (c < 0) {
            ok = fail_here(r, "'\"'");
            break;
        }
        if (c == '"') {
            r->pos++;
            break;
        }
        if (c == '\\') {
            if (!(ok = escape(r, &out)))
                break;
        } else if (c < 0x20) {
            ok = fail(r, "control character in a string at byte %zu", r->pos);
            break;
        } else if (c < 0x80) {
            sn_text_append(&out, r->s + r->pos++, 1);
        } else {
            uint32_t cp;
            size_t n = sn_utf8_sequence((const unsigned char *)r->s + r->pos, r->size - r->pos, &cp);
            if (n == 0) {
                ok = fail(r, "invalid UTF-8 at byte %zu", r->pos);
                break;
            }
            sn_text_append(&out, r->s + r->pos, n);
            r->pos += n;
        }
    }
    if (ok && out.failed)
        ok = fail_oom(r);
    if (!ok) {
        sn_text_free(&out);
        return NULL;
    }
    return out.data;
}

/* ---- containers ----------------------------------------------------------------------------- */

/* Arrays grow to the next power of two, so capacity follows from the count. */
static bool push(reader *r, sn_json *container, sn_json *value, char *key)
{
    size_t n = container->count;
    if (n == 0 || (n & (n - 1)) == 0) {
        size_t cap = n == 0 ? 4 : n * 2;
        sn_json *items = realloc(container->items, cap * sizeof *items);
        if (items == NULL)
            return fail_oom(r);
        container->items = items;
        if (container->type == SN_JSON_OBJECT) {
            char **keys = realloc(container->keys, cap * sizeof *keys);
            if (keys == NULL)
                return fail_oom(r);
            container->keys = keys;
        }
    }
    container->items[n] = *value;
    if (container->type == SN_JSON_OBJECT)
        container->keys[n] = key;
    container->count++;
    return true;
}

static bool enter(reader *r)
{
    if (++r->depth > MAX_DEPTH)
        return fail(r, "nesting deeper than %d at byte %zu", MAX_DEPTH, r->pos);
    r->pos++; /* '[' or '{' */
    skip_space(r);
    return true;
}

static bool parse_array(reader *r, sn_json *out)
{
    out->type = SN_JSON_ARRAY;
    if (!enter(r))
        return false;
    if (peek(r) == ']') {
        r->pos++;
        r->depth--;
        return true;
    }
    for (;;) {
        sn_json item = {0};
        if (!parse_value(r, &item) || !push(r, out, &item, NULL)) {
            free_contents(&item);
            return false;
        }
        skip_space(r);
        if (peek(r) == ']') {
            r->pos++;
            r->depth--;
            return true;
        }
        if (peek(r) != ',')
            return fail_here(r, "',' or ']'");
        r->pos++;
    }
}

static bool parse_member(reader *r, sn_json *object)
{
    skip_space(r);
    if (peek(r) != '"')
        return fail_here(r, "a string key");
    char *key = parse_string(r);
    if (key == NULL)
        return false;
    skip_space(r);
    if (peek(r) != ':') {
        free(key);
        return fail_here(r, "':'");
    }
    r->pos++;
    sn_json value = {0};
    if (!parse_value(r, &value) || !push(r, object, &value, key)) {
        free_contents(&value);
        free(key);
        return false;
    }
    return true;
}

static bool parse_object(reader *r, sn_json *out)
{
    out->type = SN_JSON_OBJECT;
    if (!enter(r))
        return false;
    if (peek(r) == '}') {
        r->pos++;
        r->depth--;
        return true;
    }
    for (;;) {
        if (!parse_member(r, out))
            return false;
        skip_space(r);
        if (peek(r) == '}') {
            r->pos++;
            r->depth--;
            return true;
        }
        if (peek(r) != ',')
            return fail_here(r, "',' or '}'");
        r->pos++;
    }
}

static bool parse_value(reader *r, sn_json *out)
{
    skip_space(r);
    switch (peek(r)) {
    case '{': return parse_object(r, out);
    case '[': return parse_array(r, out);
    case '"':
        out->type = SN_JSON_STRING;
        out->string = parse_string(r);
        return out->string != NULL;
    case 't': return literal(r, "true", out, SN_JSON_BOOL, true);
    case 'f': return literal(r, "false", out, SN_JSON_BOOL, false);
    case 'n': return literal(r, "null", out, SN_JSON_NULL, false);
    default:
        if (peek(r) == '-' || is_digit(peek(r)))
            return parse_number(r, out);
        return fail_here(r, "a value");
    }
}

sn_json *sn_json_parse(const char *text, size_t size, char *err, size_t err_size)
{
    reader r = {.s = text, .size = size, .err = err, .err_size = err_size};
    if (err != NULL && err_size > 0)
        err[0] = '\0';
    if (text == NULL)
        r.size = 0;
    if (r.size > MAX_INPUT) {
        fail(&r, "document larger than %u bytes", (unsigned)MAX_INPUT);
        return NULL;
    }
    /* RFC 8259 §8.1: a parser may ignore a byte order mark; editors do write one. */
    if (r.size >= 3 && memcmp(r.s, "\xEF\xBB\xBF", 3) == 0)
        r.pos = 3;
    sn_json *root = calloc(1, sizeof *root);
    if (root == NULL) {
        fail_oom(&r);
        return NULL;
    }
    bool ok = parse_value(&r, root);
    if (ok) {
        skip_space(&r);
        if (r.pos < r.size)
            ok = fail(&r, "unexpected data after the value at byte %zu", r.pos);
    }
    if (!ok) {
        sn_json_free(root);
        return NULL;
    }
    return root;
}

/* Duplicate keys: the last one wins, as in JavaScript and Python, so a value appended to the
 * end of a config file overrides an earlier one. */
const sn_json *sn_json_get(const sn_json *object, const char *key)
{
    if (object == NULL || key == NULL || object->type != SN_JSON_OBJECT)
        return NULL;
    for (size_t i = object->count; i-- > 0;) {
        if (strcmp(object->keys[i], key) == 0)
            return &object->items[i];
    }
    return NULL;
}

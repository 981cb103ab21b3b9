/*
 * speakerbridge plugin helpers: a growable string.
 *
 * The helpers are not part of the plugin ABI (the contract is speakerbridge_plugin.h alone): they
 * are plumbing the bundled plugins would otherwise each write again, header-only C11 and
 * `static inline`, so a plugin takes what it uses and nothing links against them. Like CLAP's
 * helpers they may change between releases; a plugin that wants them frozen copies them.
 *
 * Log lines, JSON for the host and whole files are built in an `sbh_text` so that no input, however
 * long, is silently cut. A failed allocation sets `failed` and later appends do nothing, so a
 * caller checks once at the end instead of after every append (one failed log line must not take
 * the daemon down with the plugin).
 */
#ifndef SPEAKERBRIDGE_HELPERS_TEXT_H
#define SPEAKERBRIDGE_HELPERS_TEXT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbh_text {
    char *data; /* NUL-terminated once anything was appended; NULL before */
    size_t len;
    size_t cap;
    bool failed;
} sbh_text;

static inline bool sbh_text_reserve(sbh_text *t, size_t extra)
{
    if (t->failed) return false;
    if (extra > SIZE_MAX - t->len - 1) {
        t->failed = true;
        return false;
    }
    size_t need = t->len + extra + 1;
    if (t->data != NULL && need <= t->cap) return true;
    size_t cap = t->cap ? t->cap : 128;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *grown = realloc(t->data, cap);
    if (grown == NULL) {
        t->failed = true;
        return false;
    }
    t->data = grown;
    t->cap = cap;
    return true;
}

/* Bytes, not only text: a WAV file is built in one too. Always NUL-terminated after. */
static inline void sbh_text_append(sbh_text *t, const void *s, size_t n)
{
    if (!sbh_text_reserve(t, n)) return;
    if (n > 0) memcpy(t->data + t->len, s, n);
    t->len += n;
    t->data[t->len] = '\0';
}

static inline void sbh_text_puts(sbh_text *t, const char *s) { sbh_text_append(t, s, strlen(s)); }

/* `ap` is used twice (measure, then write), so it is copied: the caller's stays unread. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 0)))
#endif
static inline void sbh_text_vprintf(sbh_text *t, const char *fmt, va_list ap)
{
    if (t->failed) return;
    va_list measure;
    va_copy(measure, ap);
    int n = vsnprintf(NULL, 0, fmt, measure);
    va_end(measure);
    if (n < 0) {
        t->failed = true;
        return;
    }
    if (!sbh_text_reserve(t, (size_t)n)) return;
    va_list write;
    va_copy(write, ap);
    vsnprintf(t->data + t->len, (size_t)n + 1, fmt, write);
    va_end(write);
    t->len += (size_t)n;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static inline void sbh_text_printf(sbh_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sbh_text_vprintf(t, fmt, ap);
    va_end(ap);
}

/* Length of the valid UTF-8 sequence at `s` (at most `avail` bytes, avail > 0), its code point in
 * `*cp`, or 0 when it is not one: overlong forms, surrogates and values past U+10FFFF are rejected,
 * as RFC 3629 requires. */
static inline size_t sbh_utf8_sequence(const unsigned char *s, size_t avail, uint32_t *cp)
{
    size_t len;
    uint32_t min;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    } else if ((s[0] & 0xE0) == 0xC0) {
        len = 2, min = 0x80, *cp = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3, min = 0x800, *cp = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4, min = 0x10000, *cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > avail) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        *cp = (*cp << 6) | (s[i] & 0x3F);
    }
    if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) return 0;
    return len;
}

/* `s` as a JSON string literal, quotes included; NULL appends `null`. Control characters and DEL
 * are escaped. A byte that starts no valid UTF-8 sequence becomes U+FFFD: text from the network
 * (speaker names, metadata) must not make the whole document unparseable for its consumer. */
static inline void sbh_text_json_string(sbh_text *t, const char *s)
{
    if (s == NULL) {
        sbh_text_puts(t, "null");
        return;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t left = strlen(s);
    sbh_text_puts(t, "\"");
    while (left > 0) {
        uint32_t cp;
        size_t n = sbh_utf8_sequence(p, left, &cp);
        if (n == 0) {
            sbh_text_puts(t, "\\ufffd");
            n = 1;
        } else if (cp == '"') {
            sbh_text_puts(t, "\\\"");
        } else if (cp == '\\') {
            sbh_text_puts(t, "\\\\");
        } else if (cp == '\n') {
            sbh_text_puts(t, "\\n");
        } else if (cp == '\r') {
            sbh_text_puts(t, "\\r");
        } else if (cp == '\t') {
            sbh_text_puts(t, "\\t");
        } else if (cp == '\b') {
            sbh_text_puts(t, "\\b");
        } else if (cp == '\f') {
            sbh_text_puts(t, "\\f");
        } else if (cp < 0x20 || cp == 0x7f) {
            sbh_text_printf(t, "\\u%04x", (unsigned)cp);
        } else {
            sbh_text_append(t, p, n);
        }
        p += n, left -= n;
    }
    sbh_text_puts(t, "\"");
}

/* Hands the buffer over (NULL when an allocation failed, "" when nothing was appended) and leaves
 * `t` empty; the caller frees the result. */
static inline char *sbh_text_take(sbh_text *t)
{
    char *data = t->failed ? NULL : t->data != NULL ? t->data : calloc(1, 1);
    if (t->failed) free(t->data);
    *t = (sbh_text){0};
    return data;
}

static inline void sbh_text_free(sbh_text *t)
{
    free(t->data);
    *t = (sbh_text){0};
}

#endif

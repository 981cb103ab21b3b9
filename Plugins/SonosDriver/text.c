/* What the driver adds to the SDK's growable string (PluginSDK/helpers): NULL-safe appends, JSON
 * strings that survive bad UTF-8 from the network, XML escaping, and bounded copies. Nothing here
 * aborts: an allocation failure only sets `failed`, because one failed log line or SOAP body must
 * not take the whole daemon down with the plugin. */
#define _POSIX_C_SOURCE 200809L

#include "text.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sn_text_append(sn_text *t, const char *s, size_t n)
{
    if (t == NULL || (s == NULL && n > 0))
        return;
    sbh_text_append(t, s, n);
}

void sn_text_puts(sn_text *t, const char *s)
{
    if (t != NULL && s != NULL)
        sbh_text_append(t, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at `s` (at most `avail` bytes), or 0 when it is not one:
 * overlong forms, surrogates and values past U+10FFFF are rejected, as RFC 3629 requires. */
size_t sn_utf8_sequence(const unsigned char *s, size_t avail, uint32_t *cp)
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
    if (len > avail)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (s[i] & 0x3F);
    }
    if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
        return 0;
    return len;
}

void sn_text_json_string(sn_text *t, const char *s)
{
    if (s == NULL) {
        sn_text_puts(t, "null");
        return;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t left = strlen(s);
    sn_text_append(t, "\"", 1);
    while (left > 0) {
        uint32_t cp;
        size_t n = sn_utf8_sequence(p, left, &cp);
        if (n == 0) {
            /* Speaker names and metadata come from the network; one bad byte must not make the
             * whole JSON document unparseable for the consumer, so it becomes U+FFFD. */
            sn_text_puts(t, "\\ufffd");
            p++, left--;
            continue;
        }
        switch (cp) {
        case '"': sn_text_puts(t, "\\\""); break;
        case '\\': sn_text_puts(t, "\\\\"); break;
        case '\n': sn_text_puts(t, "\\n"); break;
        case '\r': sn_text_puts(t, "\\r"); break;
        case '\t': sn_text_puts(t, "\\t"); break;
        case '\b': sn_text_puts(t, "\\b"); break;
        case '\f': sn_text_puts(t, "\\f"); break;
        default:
            if (cp < 0x20)
                sn_text_printf(t, "\\u%04x", (unsigned)cp);
            else
                sn_text_append(t, (const char *)p, n);
        }
        p += n, left -= n;
    }
    sn_text_append(t, "\"", 1);
}

void sn_text_xml_escaped(sn_text *t, const char *s)
{
    if (s == NULL)
        return;
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&': sn_text_puts(t, "&amp;"); break;
        case '<': sn_text_puts(t, "&lt;"); break;
        case '>': sn_text_puts(t, "&gt;"); break;
        case '"': sn_text_puts(t, "&quot;"); break;
        case '\'': sn_text_puts(t, "&apos;"); break;
        default:
            /* XML 1.0 cannot carry other C0 controls even as references; a speaker would
             * reject the whole SOAP request, so they are dropped. */
            if ((unsigned char)*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
                break;
            sn_text_append(t, p, 1);
        }
    }
}

const char *sn_text_str(const sn_text *t)
{
    return t != NULL && t->data != NULL ? t->data : "";
}

char *sn_strdup(const char *s)
{
    return s == NULL ? NULL : sn_strndup(s, strlen(s));
}

char *sn_strndup(const char *s, size_t n)
{
    if (s == NULL)
        return NULL;
    size_t len = strnlen(s, n);
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

void sn_copy(char *dst, size_t dst_size, const char *src)
{
    if (dst == NULL || dst_size == 0)
        return;
    if (src == NULL) {
        dst[0] = '\0';
        return;
    }
    size_t len = strnlen(src, dst_size);
    if (len >= dst_size) {
        len = dst_size - 1;
        /* Cut before a multi-byte character rather than through it, so a truncated room name
         * is still valid UTF-8. */
        while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static bool ascii_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

const char *sn_trimmed(const char *s, size_t *len)
{
    if (s == NULL) {
        *len = 0;
        return "";
    }
    while (ascii_space(*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && ascii_space(s[n - 1])) n--;
    *len = n;
    return s;
}

void sn_copy_trimmed(char *dst, size_t dst_size, const char *src)
{
    size_t n;
    const char *s = sn_trimmed(src, &n);
    if (dst == NULL || dst_size == 0) return;
    if (n >= dst_size) {
        n = dst_size - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

int sn_copy_trimmed_exact(char *dst, size_t dst_size, const char *src)
{
    size_t n;
    const char *s = sn_trimmed(src, &n);
    if (dst == NULL || n >= dst_size) return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

void sn_text_utf8(sn_text *t, uint32_t cp)
{
    char buf[4];
    size_t n;
    if (cp < 0x80) {
        buf[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        buf[0] = (char)(0xC0 | (cp >> 6)), buf[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        buf[0] = (char)(0xE0 | (cp >> 12)), buf[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        buf[0] = (char)(0xF0 | (cp >> 18)), buf[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        buf[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), buf[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    }
    sn_text_append(t, buf, n);
}

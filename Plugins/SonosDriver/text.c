/* What the driver adds to the SDK's growable string (PluginSDK/helpers): NULL-safe appends, XML
 * escaping, and bounded copies. Nothing here aborts: an allocation failure only sets `failed`,
 * because one failed log line or SOAP body must not take the whole daemon down with the plugin. */
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

/* Growable strings for building SOAP bodies, JSON and log lines. A failed allocation marks the
 * text as failed (and stops appending) instead of aborting: callers check `failed` once at the end. */
#ifndef SONOS_TEXT_H
#define SONOS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sn_text {
    char *data; /* NUL-terminated once anything was appended; NULL before */
    size_t len;
    size_t cap;
    bool failed;
} sn_text;

void sn_text_append(sn_text *t, const char *s, size_t n);
void sn_text_puts(sn_text *t, const char *s);
void sn_text_printf(sn_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal with quotes; NULL appends `null`. */
void sn_text_json_string(sn_text *t, const char *s);
/* XML character data / attribute value: & < > " ' escaped. NULL appends nothing. */
void sn_text_xml_escaped(sn_text *t, const char *s);
/* The text so far, "" when empty (never NULL). */
const char *sn_text_str(const sn_text *t);
void sn_text_free(sn_text *t);

/* NULL-safe copies; NULL on allocation failure. */
char *sn_strdup(const char *s);
char *sn_strndup(const char *s, size_t n);
/* Copies into a fixed buffer, always NUL-terminated, truncating. */
void sn_copy(char *dst, size_t dst_size, const char *src);

#endif

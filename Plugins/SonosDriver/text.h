/* Growable strings for building SOAP bodies, JSON and log lines: the SDK's `sbh_text`
 * (PluginSDK/helpers), whose failed allocation marks the text as failed (and stops appending)
 * instead of aborting, so callers check `failed` once at the end. */
#ifndef SONOS_TEXT_H
#define SONOS_TEXT_H

#include <speakerbridge/helpers/host.h>
#include <speakerbridge/helpers/text.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef sbh_text sn_text;
#define sn_text_printf sbh_text_printf
#define sn_text_free sbh_text_free

/* NULL-safe: a NULL `t` or `s` appends nothing. */
void sn_text_append(sn_text *t, const char *s, size_t n);
void sn_text_puts(sn_text *t, const char *s);
/* The SDK's UTF-8 decoder (RFC 3629: overlong forms, surrogates and values past U+10FFFF are 0). */
#define sn_utf8_sequence sbh_utf8_sequence
/* One code point (at most U+10FFFF, checked by the caller) as UTF-8. */
void sn_text_utf8(sn_text *t, uint32_t cp);
/* A JSON string literal with quotes; NULL appends `null`; bad UTF-8 becomes U+FFFD (the SDK's). */
#define sn_text_json_string sbh_text_json_string
/* XML character data / attribute value: & < > " ' escaped. NULL appends nothing. */
void sn_text_xml_escaped(sn_text *t, const char *s);
/* The text so far, "" when empty (never NULL). */
const char *sn_text_str(const sn_text *t);

/* NULL-safe copies; NULL on allocation failure. */
char *sn_strdup(const char *s);
char *sn_strndup(const char *s, size_t n);
/* Copies into a fixed buffer, always NUL-terminated, truncating on a UTF-8 character boundary. */
void sn_copy(char *dst, size_t dst_size, const char *src);

/* Devices pretty-print their XML, so values come with whitespace around them. */
/* `s` without leading/trailing ASCII whitespace: returns the start, `*len` the trimmed length.
 * NULL gives "" and 0. */
const char *sn_trimmed(const char *s, size_t *len);
/* Names and titles: the trimmed value, truncated on a UTF-8 character boundary. */
void sn_copy_trimmed(char *dst, size_t dst_size, const char *src);
/* Identifiers and URLs: the trimmed value whole, or -1 (and `dst` untouched) when it does not
 * fit — a cut UUID or URL would name something else. */
int sn_copy_trimmed_exact(char *dst, size_t dst_size, const char *src);
/* snprintf into a fixed buffer where truncation is intended (reasons, log texts): a function of
 * its own so the compiler's truncation warnings stay meaningful everywhere else. NULL-safe. */
#define sn_set_err sbh_error

#endif

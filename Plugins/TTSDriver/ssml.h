/*
 * ssml.h: the SSML allow-list check that runs before espeak-ng sees a text marked as SSML.
 *
 * libespeak-ng acts on markup it should not trust: `<audio src=…>` makes 1.51 run
 * system("sox …") on a file name taken from the text (and crash on some files), and its own tag
 * reader has fixed-size buffers and stacks. So the text is checked first, by this small scanner,
 * and espeak-ng only ever gets well-formed markup made of the allowed tags:
 *
 *   speak, break, emphasis, prosody, say-as, voice, s, p, sub, mark
 *
 * (start, end and self-closing forms; any well-formed attributes). Everything else is refused
 * with a reason naming it: other tags (`<audio>`, `<phoneme>`, HTML), `<!DOCTYPE`, `<!ENTITY`,
 * comments, CDATA, processing instructions (an XML declaration `<?xml …?>` is allowed at the
 * very start only), entity references other than &amp; &lt; &gt; &quot; &apos; and numeric
 * ones, a `<` that starts no tag, unclosed or unbalanced tags, unquoted or unterminated
 * attribute values, `<` or `>` inside attribute values, NUL bytes and invalid UTF-8.
 *
 * Bounded: one pass over the bytes, no allocation, nesting at most SSML_MAX_DEPTH elements, a tag
 * at most SSML_MAX_TAG_BYTES bytes with at most SSML_MAX_ATTRIBUTES attributes.
 */
#ifndef TTS_ESPEAK_SSML_H
#define TTS_ESPEAK_SSML_H

#include <stddef.h>

/* Below espeak-ng's own SSML voice stack (20 frames, the first for the defaults). */
#define SSML_MAX_DEPTH 16
/* espeak-ng reads at most 500 characters of a tag; a longer one would spill its rest into the text. */
#define SSML_MAX_TAG_BYTES 400
#define SSML_MAX_ATTRIBUTES 16

/* The allowed tags, as the reasons list them. */
#define SSML_ALLOWED_TAGS "speak, break, emphasis, prosody, say-as, voice, s, p, sub, mark"

/* 1 if the `len` bytes at `text` are acceptable SSML; 0 otherwise, with the reason (naming the
 * tag, reference or byte offset) in `err`. `text` need not be NUL-terminated. */
int ssml_check(const char *text, size_t len, char *err, size_t err_size);

#endif

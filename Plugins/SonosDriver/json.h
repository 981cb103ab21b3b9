/* A small JSON reader for the plugin's configuration (and the audioClip API's answers).
 * Caps depth (32) and size (1 MiB); numbers are doubles; strings are UTF-8 with escapes decoded
 * (\u0000 is refused so strings stay C strings). */
#ifndef SONOS_JSON_H
#define SONOS_JSON_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { SN_JSON_NULL, SN_JSON_BOOL, SN_JSON_NUMBER, SN_JSON_STRING, SN_JSON_ARRAY, SN_JSON_OBJECT } sn_json_type;

typedef struct sn_json {
    sn_json_type type;
    bool boolean;
    double number;
    char *string;           /* SN_JSON_STRING */
    struct sn_json *items;  /* SN_JSON_ARRAY elements / SN_JSON_OBJECT values */
    char **keys;            /* SN_JSON_OBJECT keys, parallel to items */
    size_t count;
} sn_json;

/* NULL with a reason ("expected ',' or '}' at byte 17") on failure. */
sn_json *sn_json_parse(const char *text, size_t size, char *err, size_t err_size);
void sn_json_free(sn_json *value);
/* Member of an object, or NULL (also when `object` is NULL or not an object). */
const sn_json *sn_json_get(const sn_json *object, const char *key);

#endif

/*
 * Host service: the plugin's settings as typed values. [since 1.1]
 * Part of the speakerbridge plugin ABI; plugins include speakerbridge_plugin.h.
 */
#ifndef SPEAKERBRIDGE_HOST_SETTINGS_H
#define SPEAKERBRIDGE_HOST_SETTINGS_H

#include "../core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The plugin's settings — the JSON object of NAME.json beside the plugin, the same text `create`
 * receives as `config_json` — read as typed values by top-level key. The settings of an instance
 * never change (an edit of NAME.json reloads the plugin), so every getter may be called from any
 * thread, before, during and after `create`, until `destroy`.
 *
 * Every getter takes the key and a default and follows the 1.1 error style (see core.h):
 *  - key absent, or its value JSON null:  `*out_value` = the default, SB_OK;
 *  - value of the asked type:             `*out_value` = the value, SB_OK;
 *  - value of another type:               `*out_value` = the default, SB_ERR_INVALID, and the
 *    reason — e.g. `setting "port": expected an integer, got a string` — goes to `err` (when not
 *    NULL) and to the daemon's log. A plugin may hand its `create`'s `err` straight through.
 *  - `key` or `out_value` NULL:           SB_ERR_INVALID, nothing written but the reason.
 * Strings the host hands out are UTF-8, NUL-terminated and live until the instance is destroyed;
 * the plugin never frees them. A string with a NUL character inside is refused (C would cut it).
 * [since 1.1] */
#define SB_HOST_EXT_SETTINGS "speakerbridge.host.settings/1"
typedef struct sb_host_settings {
    uint32_t struct_size;
    /* [any-thread] A JSON string. `default_value` may be NULL. */
    sb_status (*get_string)(const sb_host *host, const char *key, const char *default_value,
                            const char **out_value, char *err, size_t err_size);
    /* [any-thread] A JSON number with no fraction within ±(2^53-1), as for typed commands (JSON
     * numbers are doubles): 3, -7, 1e3; not 1.5. */
    sb_status (*get_integer)(const sb_host *host, const char *key, int64_t default_value,
                             int64_t *out_value, char *err, size_t err_size);
    /* [any-thread] Any JSON number. */
    sb_status (*get_number)(const sb_host *host, const char *key, double default_value,
                            double *out_value, char *err, size_t err_size);
    /* [any-thread] JSON true or false (not 0/1, not "true"). */
    sb_status (*get_bool)(const sb_host *host, const char *key, bool default_value, bool *out_value,
                          char *err, size_t err_size);
    /* [any-thread] A JSON array of strings (empty allowed). `*out_items` gets an array of
     * `*out_count` strings: the host's, or `default_items` itself when the default applies
     * (`default_items` may be NULL with `default_count` 0). An array holding anything but strings
     * is refused as a whole, and the reason names the first bad element. */
    sb_status (*get_string_list)(const sb_host *host, const char *key, const char *const *default_items,
                                 size_t default_count, const char *const **out_items, size_t *out_count,
                                 char *err, size_t err_size);
} sb_host_settings;

#ifdef __cplusplus
}
#endif

#endif /* SPEAKERBRIDGE_HOST_SETTINGS_H */

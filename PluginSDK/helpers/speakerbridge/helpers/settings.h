/*
 * speakerbridge plugin helpers: settings with a range, over the host's settings service
 * (SB_HOST_EXT_SETTINGS), which checks the type but knows nothing of a plugin's limits.
 *
 * Not part of the plugin ABI; header-only C11, `static inline`. See text.h for what the helpers
 * are and are not.
 */
#ifndef SPEAKERBRIDGE_HELPERS_SETTINGS_H
#define SPEAKERBRIDGE_HELPERS_SETTINGS_H

#include <speakerbridge_plugin.h>

#include <inttypes.h>
#include <stdio.h>

/* The integer setting `key` (`default_value` when absent) in [min, max]. A wrong type is the
 * service's reason; a value outside the range is SB_ERR_INVALID with a reason naming the key. */
static inline sb_status sbh_setting_integer(const sb_host *host, const sb_host_settings *settings, const char *key,
                                            int64_t default_value, int64_t min, int64_t max, int64_t *out,
                                            char *err, size_t err_size)
{
    sb_status status = settings->get_integer(host, key, default_value, out, err, err_size);
    if (status == SB_OK && (*out < min || *out > max)) {
        if (err != NULL && err_size > 0) {
            snprintf(err, err_size, "configuration: \"%s\" must be between %" PRId64 " and %" PRId64 ", got %" PRId64,
                     key, min, max, *out);
        }
        status = SB_ERR_INVALID;
    }
    return status;
}

/* The number setting `key` (`default_value` when absent) in [min, max], like sbh_setting_integer. */
static inline sb_status sbh_setting_number(const sb_host *host, const sb_host_settings *settings, const char *key,
                                           double default_value, double min, double max, double *out,
                                           char *err, size_t err_size)
{
    sb_status status = settings->get_number(host, key, default_value, out, err, err_size);
    if (status == SB_OK && !(*out >= min && *out <= max)) { /* NaN is outside too */
        if (err != NULL && err_size > 0) {
            snprintf(err, err_size, "configuration: \"%s\" must be between %g and %g, got %g", key, min, max, *out);
        }
        status = SB_ERR_INVALID;
    }
    return status;
}

#endif

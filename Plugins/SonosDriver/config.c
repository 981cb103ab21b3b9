/* The plugin's settings (sonos.json beside sonos.so), read as typed values through the host's
 * settings service, with defaults that suit a home network: discovery on, a search every minute,
 * offline speakers probed every 10 s. The service checks each value's type; this file checks the
 * ranges and refuses keys it does not know, so a misspelt key is not silently ignored. */
#define _POSIX_C_SOURCE 200809L

#include "config.h"
#include "json.h"
#include "text.h"

#include <speakerbridge/helpers/settings.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct seconds_key {
    const char *key;
    size_t offset;
    double fallback;
    double min, max;
    double scale; /* seconds -> the field's unit */
} seconds_key;

/* offline_after is read on its own: its default depends on search_interval. */
static const seconds_key seconds_keys[] = {
    { "search_interval", offsetof(sn_config, search_interval_ms), 60, 1, 86400, 1000 },
    { "probe_interval", offsetof(sn_config, probe_interval_ms), 10, 1, 3600, 1000 },
    { "subscription_timeout", offsetof(sn_config, subscription_s), 1800, 2, 86400, 1 },
    { "soap_timeout", offsetof(sn_config, soap_timeout_ms), 5, 0.1, 120, 1000 },
    { "announce_margin", offsetof(sn_config, announce_margin_ms), 2, 0, 60, 1000 },
    { "forget_after", offsetof(sn_config, forget_after_ms), 3600, 60, 30 * 86400, 1000 },
};

typedef struct bool_key {
    const char *key;
    size_t offset;
    bool fallback;
} bool_key;

static const bool_key bool_keys[] = {
    { "discovery", offsetof(sn_config, discovery), true },
    { "renderers", offsetof(sn_config, renderers), true },
    { "interrupt_unrestorable", offsetof(sn_config, interrupt_unrestorable), true },
    { "audio_clip", offsetof(sn_config, audio_clip), true },
};

static const char *const other_keys[] = { "offline_after", "interface", "household", "speakers", "api_key",
                                           "audio_clip_port" };

/* The key every local-API client sends (Sonos's own apps included): the players accept it. */
#define DEFAULT_API_KEY "123e4567-e89b-12d3-a456-426655440000"

static bool known_key(const char *key)
{
    for (size_t i = 0; i < sizeof seconds_keys / sizeof seconds_keys[0]; i++) {
        if (strcmp(key, seconds_keys[i].key) == 0) return true;
    }
    for (size_t i = 0; i < sizeof bool_keys / sizeof bool_keys[0]; i++) {
        if (strcmp(key, bool_keys[i].key) == 0) return true;
    }
    for (size_t i = 0; i < sizeof other_keys / sizeof other_keys[0]; i++) {
        if (strcmp(key, other_keys[i]) == 0) return true;
    }
    return false;
}

/* The service has no list of keys, so the text the host validated is read once for its names. */
static int refuse_unknown_keys(const char *config_json, char *err, size_t err_size)
{
    char why[256];
    sn_json *root = sn_json_parse(config_json, strlen(config_json), why, sizeof why);
    if (root == NULL || root->type != SN_JSON_OBJECT) {
        sn_set_err(err, err_size, "settings must be a JSON object%s%s", root == NULL ? ": " : "", root == NULL ? why : "");
        sn_json_free(root);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < root->count; i++) {
        if (known_key(root->keys[i])) continue;
        sn_set_err(err, err_size, "settings: unknown setting \"%s\" (known: discovery, interface, household, speakers, "
                                  "renderers, search_interval, probe_interval, offline_after, subscription_timeout, "
                                  "soap_timeout, announce_margin, forget_after, interrupt_unrestorable, audio_clip, api_key, "
                                  "audio_clip_port)", root->keys[i]);
        rc = -1;
    }
    sn_json_free(root);
    return rc;
}

static int read_string(const sb_host *host, const sb_host_settings *settings, const char *key, const char *fallback,
                       char *dst, size_t size, char *err, size_t err_size)
{
    const char *value = NULL;
    if (settings->get_string(host, key, fallback, &value, err, err_size) != SB_OK) return -1;
    if (strlen(value) >= size) {
        sn_set_err(err, err_size, "settings: \"%s\" is longer than %zu characters", key, size - 1);
        return -1;
    }
    sn_copy(dst, size, value);
    return 0;
}

static int read_api_key(const sb_host *host, const sb_host_settings *settings, sn_config *out, char *err, size_t err_size)
{
    if (read_string(host, settings, "api_key", DEFAULT_API_KEY, out->api_key, sizeof out->api_key, err, err_size) != 0) return -1;
    /* It goes into a handshake header: no control characters, and not empty. */
    for (const unsigned char *p = (const unsigned char *)out->api_key; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            sn_set_err(err, err_size, "settings: \"api_key\" must not contain control characters");
            return -1;
        }
    }
    if (out->api_key[0] == '\0') {
        sn_set_err(err, err_size, "settings: \"api_key\" must not be empty");
        return -1;
    }
    return 0;
}

static int read_speakers(const sb_host *host, const sb_host_settings *settings, sn_config *out, char *err, size_t err_size)
{
    const char *const *items = NULL;
    size_t count = 0;
    if (settings->get_string_list(host, "speakers", NULL, 0, &items, &count, err, err_size) != SB_OK) return -1;
    if (count > SN_MAX_STATIC) {
        sn_set_err(err, err_size, "settings: \"speakers\" lists %zu addresses; at most %d", count, SN_MAX_STATIC);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        if (items[i][0] == '\0' || strlen(items[i]) > 400) {
            sn_set_err(err, err_size, "settings: \"speakers\"[%zu] must be an address (\"192.168.1.30\", "
                                      "\"192.168.1.30:1400\") or a description URL", i);
            return -1;
        }
        out->static_speakers[i] = sn_strdup(items[i]);
        if (out->static_speakers[i] == NULL) {
            sn_set_err(err, err_size, "out of memory");
            return -1;
        }
        out->static_count = i + 1;
    }
    return 0;
}

static int read_all(const sb_host *host, const sb_host_settings *settings, sn_config *out, char *err, size_t err_size)
{
    for (size_t i = 0; i < sizeof bool_keys / sizeof bool_keys[0]; i++) {
        const bool_key *k = &bool_keys[i];
        if (settings->get_bool(host, k->key, k->fallback, (bool *)((char *)out + k->offset), err, err_size) != SB_OK) return -1;
    }
    for (size_t i = 0; i < sizeof seconds_keys / sizeof seconds_keys[0]; i++) {
        const seconds_key *k = &seconds_keys[i];
        double v = 0;
        if (sbh_setting_number(host, settings, k->key, k->fallback, k->min, k->max, &v, err, err_size) != SB_OK) return -1;
        *(uint32_t *)((char *)out + k->offset) = (uint32_t)(v * k->scale + 0.5);
    }
    /* Absent, it is three search intervals (which may pass the limit an explicit value has). JSON
     * has no NaN, so NaN back means absent. */
    double offline = NAN;
    if (settings->get_number(host, "offline_after", NAN, &offline, err, err_size) != SB_OK) return -1;
    if (isnan(offline)) {
        out->offline_after_ms = 3 * out->search_interval_ms;
    } else if (sbh_setting_number(host, settings, "offline_after", 0, 1, 86400, &offline, err, err_size) != SB_OK) {
        return -1;
    } else {
        out->offline_after_ms = (uint32_t)(offline * 1000 + 0.5);
    }
    int64_t port = 0;
    if (sbh_setting_integer(host, settings, "audio_clip_port", 1443, 1, 65535, &port, err, err_size) != SB_OK) return -1;
    out->audio_clip_port = (uint16_t)port;
    if (read_string(host, settings, "interface", "", out->interface, sizeof out->interface, err, err_size) != 0 ||
        read_string(host, settings, "household", "", out->household, sizeof out->household, err, err_size) != 0 ||
        read_api_key(host, settings, out, err, err_size) != 0 || read_speakers(host, settings, out, err, err_size) != 0) {
        return -1;
    }
    return 0;
}

int sn_config_read(const sb_host *host, const sb_host_settings *settings, const char *config_json, sn_config *out,
                   char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    if (refuse_unknown_keys(config_json != NULL ? config_json : "{}", err, err_size) != 0) return -1;
    if (read_all(host, settings, out, err, err_size) != 0) {
        sn_config_free(out);
        return -1;
    }
    return 0;
}

void sn_config_free(sn_config *c)
{
    for (size_t i = 0; i < c->static_count; i++) free(c->static_speakers[i]);
    c->static_count = 0;
}

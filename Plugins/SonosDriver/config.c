/* The plugin's settings (sonos.json beside sonos.so), with defaults that suit a home network:
 * discovery on, a search every minute, offline speakers probed every 10 s. */
#define _POSIX_C_SOURCE 200809L

#include "config.h"
#include "json.h"
#include "text.h"

#include <stdlib.h>
#include <string.h>

typedef struct number_key {
    const char *key;
    size_t offset;
    double min, max;
    double scale; /* config unit -> field unit (seconds -> ms) */
} number_key;

static const number_key number_keys[] = {
    { "search_interval", offsetof(sn_config, search_interval_ms), 1, 86400, 1000 },
    { "probe_interval", offsetof(sn_config, probe_interval_ms), 1, 3600, 1000 },
    { "offline_after", offsetof(sn_config, offline_after_ms), 1, 86400, 1000 },
    { "subscription_timeout", offsetof(sn_config, subscription_s), 2, 86400, 1 },
    { "soap_timeout", offsetof(sn_config, soap_timeout_ms), 0.1, 120, 1000 },
    { "announce_margin", offsetof(sn_config, announce_margin_ms), 0, 60, 1000 },
};

static int read_string(const sn_json *v, const char *key, char *dst, size_t size, char *err, size_t err_size)
{
    if (v->type != SN_JSON_STRING) {
        sn_set_err(err, err_size, "\"%s\" must be a string", key);
        return -1;
    }
    if (strlen(v->string) >= size) {
        sn_set_err(err, err_size, "\"%s\" is longer than %zu characters", key, size - 1);
        return -1;
    }
    strcpy(dst, v->string);
    return 0;
}

static int read_bool(const sn_json *v, const char *key, bool *dst, char *err, size_t err_size)
{
    if (v->type != SN_JSON_BOOL) {
        sn_set_err(err, err_size, "\"%s\" must be true or false", key);
        return -1;
    }
    *dst = v->boolean;
    return 0;
}

static int read_speakers(const sn_json *v, sn_config *out, char *err, size_t err_size)
{
    if (v->type != SN_JSON_ARRAY) {
        sn_set_err(err, err_size, "\"speakers\" must be an array of addresses, e.g. [\"192.168.1.30\"]");
        return -1;
    }
    if (v->count > SN_MAX_STATIC) {
        sn_set_err(err, err_size, "\"speakers\" lists %zu addresses; at most %d", v->count, SN_MAX_STATIC);
        return -1;
    }
    for (size_t i = 0; i < v->count; i++) {
        const sn_json *item = &v->items[i];
        if (item->type != SN_JSON_STRING || item->string[0] == '\0' || strlen(item->string) > 400) {
            sn_set_err(err, err_size, "\"speakers\"[%zu] must be an address (\"192.168.1.30\", "
                                      "\"192.168.1.30:1400\") or a description URL", i);
            return -1;
        }
        out->static_speakers[i] = sn_strdup(item->string);
        if (out->static_speakers[i] == NULL) {
            sn_set_err(err, err_size, "out of memory");
            return -1;
        }
        out->static_count = i + 1;
    }
    return 0;
}

static int read_key(const char *key, const sn_json *v, sn_config *out, char *err, size_t err_size)
{
    if (strcmp(key, "discovery") == 0) return read_bool(v, key, &out->discovery, err, err_size);
    if (strcmp(key, "renderers") == 0) return read_bool(v, key, &out->renderers, err, err_size);
    if (strcmp(key, "interrupt_unrestorable") == 0)
        return read_bool(v, key, &out->interrupt_unrestorable, err, err_size);
    if (strcmp(key, "interface") == 0) return read_string(v, key, out->interface, sizeof out->interface, err, err_size);
    if (strcmp(key, "household") == 0) return read_string(v, key, out->household, sizeof out->household, err, err_size);
    if (strcmp(key, "audio_clip") == 0) return read_bool(v, key, &out->audio_clip, err, err_size);
    if (strcmp(key, "api_key") == 0) {
        if (read_string(v, key, out->api_key, sizeof out->api_key, err, err_size) != 0) return -1;
        /* It goes into a handshake header: no control characters, and not empty. */
        for (const unsigned char *p = (const unsigned char *)out->api_key; *p != '\0'; p++) {
            if (*p < 0x20 || *p == 0x7f) {
                sn_set_err(err, err_size, "\"api_key\" must not contain control characters");
                return -1;
            }
        }
        if (out->api_key[0] == '\0') {
            sn_set_err(err, err_size, "\"api_key\" must not be empty");
            return -1;
        }
        return 0;
    }
    if (strcmp(key, "audio_clip_port") == 0) {
        if (v->type != SN_JSON_NUMBER || v->number < 1 || v->number > 65535 || v->number != (double)(long)v->number) {
            sn_set_err(err, err_size, "\"audio_clip_port\" must be a port number from 1 to 65535");
            return -1;
        }
        out->audio_clip_port = (uint16_t)v->number;
        return 0;
    }
    if (strcmp(key, "speakers") == 0) return read_speakers(v, out, err, err_size);
    for (size_t i = 0; i < sizeof number_keys / sizeof number_keys[0]; i++) {
        const number_key *k = &number_keys[i];
        if (strcmp(key, k->key) != 0) continue;
        if (v->type != SN_JSON_NUMBER || v->number < k->min || v->number > k->max) {
            sn_set_err(err, err_size, "\"%s\" must be a number of seconds from %g to %g", key, k->min, k->max);
            return -1;
        }
        *(uint32_t *)((char *)out + k->offset) = (uint32_t)(v->number * k->scale + 0.5);
        return 0;
    }
    sn_set_err(err, err_size, "unknown setting \"%s\" (known: discovery, interface, household, speakers, "
                              "renderers, search_interval, probe_interval, offline_after, subscription_timeout, "
                              "soap_timeout, announce_margin, interrupt_unrestorable, audio_clip, api_key, "
                              "audio_clip_port)", key);
    return -1;
}

int sn_config_parse(const char *json, sn_config *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    out->discovery = true;
    out->renderers = true;
    out->interrupt_unrestorable = true;
    out->search_interval_ms = 60000;
    out->probe_interval_ms = 10000;
    out->offline_after_ms = 0; /* 0: three search intervals, set below */
    out->subscription_s = 1800;
    out->soap_timeout_ms = 5000;
    out->announce_margin_ms = 2000;
    out->audio_clip = true;
    /* The key every local-API client sends (Sonos's own apps included): the players accept it. */
    strcpy(out->api_key, "123e4567-e89b-12d3-a456-426655440000");
    out->audio_clip_port = 1443;

    char why[256];
    sn_json *root = sn_json_parse(json, strlen(json), why, sizeof why);
    if (root == NULL) {
        sn_set_err(err, err_size, "settings are not valid JSON: %s", why);
        return -1;
    }
    int rc = 0;
    if (root->type != SN_JSON_OBJECT) {
        sn_set_err(err, err_size, "settings must be a JSON object");
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < root->count; i++) {
        char inner[384];
        if (read_key(root->keys[i], &root->items[i], out, inner, sizeof inner) != 0) {
            sn_set_err(err, err_size, "settings: %s", inner);
            rc = -1;
        }
    }
    sn_json_free(root);
    if (rc == 0 && out->offline_after_ms == 0) out->offline_after_ms = 3 * out->search_interval_ms;
    if (rc == 0 && !out->discovery && out->static_count == 0) {
        sn_set_err(err, err_size, "settings: discovery is off and \"speakers\" is empty: there is nothing to drive");
        rc = -1;
    }
    if (rc != 0) sn_config_free(out);
    return rc;
}

void sn_config_free(sn_config *c)
{
    for (size_t i = 0; i < c->static_count; i++) free(c->static_speakers[i]);
    c->static_count = 0;
}

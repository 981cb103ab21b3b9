/* The Sonos/UPnP speaker driver: descriptor, instance life cycle, and the capability tables the
 * host reads. The work happens in the modules named in README.md; this file wires them up.
 *
 * Everything goes through the host's services (UDP for SSDP, HTTP for descriptions, SOAP and
 * GENA, callback routes for events, timers, MQTT publishing): the plugin opens no socket and
 * starts no thread of its own. */
#define _POSIX_C_SOURCE 200809L

#include "announce.h"
#include "audioclip.h"
#include "commands.h"
#include "config.h"
#include "discovery.h"
#include "gena.h"
#include "household.h"
#include "instance.h"
#include "state.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SN_PLUGIN_ID "org.speakerbridge.sonos"
#define SN_PLUGIN_VERSION "1.0.0"
#define STATE_BLOB_VERSION 1

static void instance_free(sb_instance *inst)
{
    sn_discovery_stop(inst);
    sn_announce_free_all(inst);
    sn_gena_stop(inst);
    if (inst->http != NULL) sn_http_cancel_all(inst);
    sn_speakers_free(inst);
    sn_config_free(&inst->config);
    free(inst);
}

static sb_status sonos_create(const sb_host *host, const char *config_json, sb_instance **out_instance,
                              char *err, size_t err_size)
{
    if (host == NULL || host->get_extension == NULL || out_instance == NULL) {
        sn_set_err(err, err_size, "invalid host table");
        return SB_ERR_INVALID;
    }
    sb_instance *inst = calloc(1, sizeof *inst);
    if (inst == NULL) {
        sn_set_err(err, err_size, "out of memory");
        return SB_ERR_FAILED;
    }
    inst->host = host;
    const sb_host_settings *settings = sbh_host_extension(host, SB_HOST_EXT_SETTINGS, sizeof(sb_host_settings));
    if (settings == NULL) {
        sn_set_err(err, err_size, "the host offers no %s, which this driver needs", SB_HOST_EXT_SETTINGS);
        free(inst);
        return SB_ERR_UNSUPPORTED;
    }
    if (sn_config_read(host, settings, config_json, &inst->config, err, err_size) != 0) {
        free(inst);
        return SB_ERR_INVALID;
    }
    inst->log = sbh_host_extension(host, SB_HOST_EXT_LOG, sizeof(sb_host_log));
    inst->timers = sbh_host_extension(host, SB_HOST_EXT_TIMERS, sizeof(sb_host_timers));
    inst->publish = sbh_host_extension(host, SB_HOST_EXT_PUBLISH, sizeof(sb_host_publish));
    inst->operations = sbh_host_extension(host, SB_HOST_EXT_OPERATIONS, sizeof(sb_host_operations));
    inst->http = sbh_host_extension(host, SB_HOST_EXT_HTTP, sizeof(sb_host_http));
    inst->udp = sbh_host_extension(host, SB_HOST_EXT_UDP, sizeof(sb_host_udp));
    inst->routes = sbh_host_extension(host, SB_HOST_EXT_ROUTES, sizeof(sb_host_routes));
    /* Optional: without it every announcement goes the UPnP way. */
    inst->ws = sbh_host_extension(host, SB_HOST_EXT_WEBSOCKET, sizeof(sb_host_websocket));
    /* Without HTTP there is no UPnP at all; without timers and completions no announcement. */
    const char *missing = inst->http == NULL ? SB_HOST_EXT_HTTP : inst->timers == NULL ? SB_HOST_EXT_TIMERS
                        : inst->operations == NULL ? SB_HOST_EXT_OPERATIONS : NULL;
    if (missing != NULL) {
        sn_set_err(err, err_size, "the host offers no %s, which this driver needs", missing);
        sn_config_free(&inst->config);
        free(inst);
        return SB_ERR_UNSUPPORTED;
    }
    if (inst->routes == NULL) sn_log(inst, SB_LOG_WARNING, "no callback routes: speaker state comes only from answers");
    sn_log(inst, SB_LOG_INFO, "discovery %s%s%s, %zu static address(es)",
           inst->config.discovery ? "on " : "off", inst->config.discovery ? "interface " : "",
           inst->config.discovery ? (inst->config.interface[0] != '\0' ? inst->config.interface : "(host default)") : "",
           inst->config.static_count);
    /* Loaded all the same (a refusal would only add a plugin error to fix): the daemon runs, doctor
     * shows a driver with no speakers, and an edit of sonos.json reloads the driver with it. */
    if (!inst->config.discovery && inst->config.static_count == 0) {
        sn_log(inst, SB_LOG_WARNING, "nothing to drive: discovery is off and \"speakers\" is empty; list the speakers' "
               "addresses in \"speakers\" or switch discovery on in the settings (an edit reloads the driver)");
    }
    /* Handlers run in this order; state last, so it publishes what the others left. */
    sn_discovery_init(inst);
    sn_gena_init(inst);
    sn_audio_clip_init(inst);
    sn_announce_init(inst);
    sn_household_init(inst);
    sn_state_init(inst);
    sn_discovery_start(inst);
    *out_instance = inst;
    return SB_OK;
}

static void sonos_destroy(sb_instance *inst)
{
    if (inst != NULL) instance_free(inst);
}

/* --- speakers ------------------------------------------------------------------------------- */

static uint32_t speaker_count(sb_instance *inst) { return inst->visible_count; }

static bool speaker_get(sb_instance *inst, uint32_t index, sb_speaker_info *out)
{
    if (index >= inst->visible_count || out == NULL) return false;
    sn_speaker *s = inst->visible[index];
    sn_speaker *coordinator = sn_speaker_coordinator(inst, s);
    /* Fields are written only as far as the host's struct reaches (it may be an older host). */
    size_t size = out->struct_size;
    if (size >= offsetof(sb_speaker_info, id) + sizeof out->id) out->id = s->id;
    if (size >= offsetof(sb_speaker_info, name) + sizeof out->name) out->name = s->name;
    if (size >= offsetof(sb_speaker_info, model) + sizeof out->model) out->model = s->model;
    if (size >= offsetof(sb_speaker_info, group) + sizeof out->group) {
        out->group = coordinator != s || s->group_id[0] != '\0' ? coordinator->name : NULL;
    }
    if (size >= offsetof(sb_speaker_info, address) + sizeof out->address) out->address = s->address[0] ? s->address : NULL;
    return true;
}

static sb_status speaker_play_clip(sb_instance *inst, const char *speaker_id, const sb_clip *clip,
                                   uint64_t operation_id, char *err, size_t err_size)
{
    if (speaker_id == NULL || clip == NULL || clip->struct_size < sizeof(sb_clip)) {
        sn_set_err(err, err_size, "invalid clip");
        return SB_ERR_INVALID;
    }
    return sn_announce_start(inst, speaker_id, clip, operation_id, err, err_size);
}

static sb_status speaker_cancel(sb_instance *inst, uint64_t operation_id)
{
    return sn_announce_cancel(inst, operation_id);
}

static const sb_plugin_speaker speaker_table = {
    .struct_size = sizeof(sb_plugin_speaker),
    .count = speaker_count,
    .get = speaker_get,
    .play_clip = speaker_play_clip,
    .cancel = speaker_cancel,
};

/* --- hot reload -------------------------------------------------------------------------------
 * Blob version 1: one line per known speaker, "<description URL>\n". The next generation
 * describes them at once, so speakers stay available across a reload instead of waiting for the
 * next SSDP round (and on static/unicast-only networks, for the next probe). */

static sb_status state_save(sb_instance *inst, sb_write_fn write_fn, void *context)
{
    for (size_t i = 0; i < inst->speaker_count; i++) {
        const sn_speaker *s = inst->speakers[i];
        if (!s->described || !s->online) continue;
        write_fn(context, s->location, strlen(s->location));
        write_fn(context, "\n", 1);
    }
    return SB_OK;
}

static sb_status state_load(sb_instance *inst, uint32_t blob_version, const void *data, size_t size,
                            char *err, size_t err_size)
{
    if (blob_version != STATE_BLOB_VERSION) {
        sn_set_err(err, err_size, "state blob version %u is unknown to this build (it reads version %d)",
                   (unsigned)blob_version, STATE_BLOB_VERSION);
        return SB_ERR_UNSUPPORTED;
    }
    const char *p = data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl != NULL ? nl : end) - p);
        if (n > 7 && n < 512 && strncmp(p, "http://", 7) == 0) {
            char location[512];
            memcpy(location, p, n);
            location[n] = '\0';
            sn_describe(inst, location, NULL);
        }
        p += n + 1;
    }
    return SB_OK;
}

static const sb_plugin_state state_table = {
    .struct_size = sizeof(sb_plugin_state),
    .blob_version = STATE_BLOB_VERSION,
    .save = state_save,
    .load = state_load,
};

/* --- descriptor ----------------------------------------------------------------------------- */

static const void *sonos_get_extension(sb_instance *inst, const char *id)
{
    (void)inst;
    if (strcmp(id, SB_EXT_SPEAKER) == 0) return &speaker_table;
    if (strcmp(id, SB_EXT_COMMANDS) == 0) return &sn_commands_table;
    if (strcmp(id, SB_EXT_STATE) == 0) return &state_table;
    return NULL;
}

static const sb_plugin_descriptor descriptor = {
    .struct_size = sizeof(sb_plugin_descriptor),
    .abi_major = SB_ABI_MAJOR,
    .abi_minor = SB_ABI_MINOR,
    .id = SN_PLUGIN_ID,
    .name = "Sonos and UPnP speakers",
    .version = SN_PLUGIN_VERSION,
    .vendor = "speakerbridge",
    .description = "Sonos players and UPnP MediaRenderers: SSDP discovery, announcements with restore, "
                   "GENA state, typed transport and volume commands",
    .create = sonos_create,
    .destroy = sonos_destroy,
    .get_extension = sonos_get_extension,
};

SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void);
SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void) { return &descriptor; }

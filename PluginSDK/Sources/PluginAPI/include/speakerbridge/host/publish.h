/*
 * Host service: publishing on MQTT.
 * Part of the speakerbridge plugin ABI; plugins include speakerbridge_plugin.h.
 */
#ifndef SPEAKERBRIDGE_HOST_PUBLISH_H
#define SPEAKERBRIDGE_HOST_PUBLISH_H

#include "../core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Publishing on MQTT under the daemon's base topic, through its persisted outbound queue. */
#define SB_HOST_EXT_PUBLISH "speakerbridge.host.publish/1"
typedef struct sb_host_publish {
    uint32_t struct_size;
    /* [any-thread] Retained `<base>/<speaker>/state`; `state_json` is a JSON object. */
    sb_status (*speaker_state)(const sb_host *host, const char *speaker, const char *state_json);
    /* [any-thread] Retained `<base>/<speaker>/availability`: "online" or "offline". It is also
     * how the host learns that the speaker list changed (it reads `sb_plugin_speaker.count/get`
     * again; there is no poll): report it whenever a speaker appears, goes, or changes its name,
     * group or address, even when it stays online. */
    sb_status (*speaker_availability)(const sb_host *host, const char *speaker, bool online);
    /* [any-thread] `<base>/bridge/event/plugin/<plugin id>/<name>`; `event_json` is a JSON object. */
    sb_status (*event)(const sb_host *host, const char *name, const char *event_json);
} sb_host_publish;

#ifdef __cplusplus
}
#endif

#endif /* SPEAKERBRIDGE_HOST_PUBLISH_H */

/*
 * Host service: logging into the daemon's log.
 * Part of the speakerbridge plugin ABI; plugins include speakerbridge_plugin.h.
 */
#ifndef SPEAKERBRIDGE_HOST_LOG_H
#define SPEAKERBRIDGE_HOST_LOG_H

#include "../core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Log levels. */
#define SB_LOG_DEBUG   0
#define SB_LOG_INFO    1
#define SB_LOG_WARNING 2
#define SB_LOG_ERROR   3

/* Logging into the daemon's log, prefixed with the plugin id. */
#define SB_HOST_EXT_LOG "speakerbridge.host.log/1"
typedef struct sb_host_log {
    uint32_t struct_size;
    /* [any-thread] */
    void (*log)(const sb_host *host, int32_t level, const char *message);
} sb_host_log;

#ifdef __cplusplus
}
#endif

#endif /* SPEAKERBRIDGE_HOST_LOG_H */

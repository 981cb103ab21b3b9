/*
 * Host service: the completion of long operations.
 * Part of the speakerbridge plugin ABI; plugins include speakerbridge_plugin.h.
 */
#ifndef SPEAKERBRIDGE_HOST_OPERATIONS_H
#define SPEAKERBRIDGE_HOST_OPERATIONS_H

#include "../core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Completion of long operations (play a clip, synthesise speech). The host hands the plugin an
 * operation id with the request; the plugin reports the end exactly once. */
#define SB_HOST_EXT_OPERATIONS "speakerbridge.host.operations/1"
typedef struct sb_host_operations {
    uint32_t struct_size;
    /* [any-thread] `detail` is a reason text on failure, or a JSON object of results on success
     * (may be NULL). A second completion of the same id, or one after the deadline, is ignored. */
    void (*complete)(const sb_host *host, uint64_t operation_id, sb_status status, const char *detail);
} sb_host_operations;

#ifdef __cplusplus
}
#endif

#endif /* SPEAKERBRIDGE_HOST_OPERATIONS_H */

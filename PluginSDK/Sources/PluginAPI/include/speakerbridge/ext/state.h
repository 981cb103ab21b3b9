/*
 * Plugin capability: state handed from one generation to the next.
 * Part of the speakerbridge plugin ABI; plugins include speakerbridge_plugin.h.
 */
#ifndef SPEAKERBRIDGE_EXT_STATE_H
#define SPEAKERBRIDGE_EXT_STATE_H

#include "../core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* State handed from one generation of a plugin to the next on hot reload. */
#define SB_EXT_STATE "speakerbridge.state/1"
/* The host's writer copies into memory and cannot fail. */
typedef void (*sb_write_fn)(void *context, const void *data, size_t size);
typedef struct sb_plugin_state {
    uint32_t struct_size;
    /* The format version of the blob this build writes and reads. */
    uint32_t blob_version;
    /* [executor] Writes the state through `write` (any number of calls). */
    sb_status (*save)(sb_instance *instance, sb_write_fn write, void *context);
    /* [executor] Called on a fresh instance before it serves anything. A blob of an unknown
     * version must be refused (negative status) or migrated. */
    sb_status (*load)(sb_instance *instance, uint32_t blob_version, const void *data, size_t size,
                      char *err, size_t err_size);
} sb_plugin_state;

#ifdef __cplusplus
}
#endif

#endif /* SPEAKERBRIDGE_EXT_STATE_H */

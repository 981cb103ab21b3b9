/*
 * speakerbridge plugin ABI — the core: versions, rules, status codes, the host and the descriptor.
 * Plugins include the umbrella header, speakerbridge_plugin.h; this file is one part of it.
 *
 * A plugin is a shared object that exports one function, `speakerbridge_plugin_entry`, returning
 * a pointer to a constant descriptor. Everything else is reached through tables: the plugin asks
 * the host for services by string id (`host->get_extension(host, SB_HOST_EXT_LOG)`, see
 * speakerbridge/host/), the host asks an instance for capabilities the same way
 * (`desc->get_extension(instance, SB_EXT_SPEAKER)`, see speakerbridge/ext/).
 * An id never changes meaning: a new version of a table gets a new id ("…/2").
 *
 * Rules that hold everywhere:
 *  - Every struct that crosses the boundary starts with `struct_size` and only ever grows at its
 *    end. Readers check `struct_size` before touching a field added after 1.0 (each such field
 *    says "[since 1.N]").
 *  - Status codes: SB_OK (0) or a negative SB_ERR_*.
 *  - Error returns. Functions added since 1.1 all follow one style: they return an sb_status,
 *    hand results back through out-parameters (`out_*`, written on SB_OK and, where a function
 *    says so, with a default on failure), and, when they take `err` and `err_size`, write the
 *    reason there (always NUL-terminated, truncated if needed; `err` may be NULL). The host also
 *    logs the reason. Older functions keep their 1.0 shapes.
 *  - Ownership: nothing allocated on one side is freed on the other. Strings passed into a call
 *    live for that call only; copy what you keep. The host never keeps pointers into a plugin's
 *    memory across calls (so a reloaded plugin can be unmapped).
 *  - No exceptions, Swift errors, panics or longjmps cross this boundary, and a plugin installs no
 *    signal handlers.
 *  - Threads: the host calls one instance from one serial executor — never two calls at once, and
 *    never from a signal handler. Functions tagged [executor] are called only there (the
 *    instance's serial executor, which need not be the process's main thread). Functions tagged
 *    [any-thread] may be called from any thread, including from inside an [executor] call (a
 *    plugin may `complete` an operation from within `play_clip` or `cancel`).
 *    Callbacks the host makes into a plugin (timers, completions of host services) arrive on the
 *    instance's serial executor too, so an instance needs no locks for its own state. Two
 *    instances can run at the same time, though — two plugins, or the old and the new generation
 *    of one plugin during a hot reload — so state shared by instances (a library with globals)
 *    needs a process-wide lock that both copies of the plugin file share, e.g. flock() on a file.
 *  - Structs the host hands a plugin to fill (`sb_speaker_info`) carry the host's `struct_size`:
 *    a plugin writes only the fields that fit in it.
 *  - A plugin never blocks: work that takes long (play a clip until it ends) is started, returns
 *    at once, and is finished later with the host's SB_HOST_EXT_OPERATIONS `complete`. The host
 *    enforces deadlines on calls and operations and reports a plugin that misses them.
 *
 * The changes from version to version: docs/abi.md in the speakerbridge sources.
 */
#ifndef SPEAKERBRIDGE_CORE_H
#define SPEAKERBRIDGE_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI this header describes. A plugin records it in its descriptor; the host refuses a
 * different major and a minor newer than its own, and serves older minors as they were. */
#define SB_ABI_MAJOR 1
#define SB_ABI_MINOR 2

/* The exported entry point's name. */
#define SB_PLUGIN_ENTRY_SYMBOL "speakerbridge_plugin_entry"

#if defined(_WIN32)
#define SB_EXPORT __declspec(dllexport)
#else
#define SB_EXPORT __attribute__((visibility("default")))
#endif

/* ---------------------------------------------------------------------------------------------
 * Status codes
 * ------------------------------------------------------------------------------------------- */
typedef int32_t sb_status;
#define SB_OK               0
#define SB_ERR_INVALID     (-1) /* bad argument or configuration */
#define SB_ERR_UNSUPPORTED (-2) /* this device or plugin cannot do that */
#define SB_ERR_FAILED      (-3) /* it was tried and did not work; see the detail text */
#define SB_ERR_TIMEOUT     (-4) /* a deadline passed */
#define SB_ERR_NOT_FOUND   (-5) /* unknown speaker, operation, timer … */
#define SB_ERR_BUSY        (-6) /* try again later */
#define SB_ERR_CANCELLED   (-7) /* the operation was cancelled (by the host or a newer request) */

typedef struct sb_host sb_host;
/* Opaque to the host: whatever the plugin allocates in `create`. */
typedef struct sb_instance sb_instance;

/* ---------------------------------------------------------------------------------------------
 * The host
 * ------------------------------------------------------------------------------------------- */
struct sb_host {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;
    /* "speakerbridge", and the host's version, e.g. "0.2.0". */
    const char *name;
    const char *version;
    /* Opaque to the plugin; the host's context for this instance. */
    void *host_data;

    /* [any-thread] Returns the host service table for `id` (SB_HOST_EXT_*), or NULL when this host
     * does not offer it. The table lives as long as the instance. */
    const void *(*get_extension)(const sb_host *host, const char *id);
};

/* ---------------------------------------------------------------------------------------------
 * The plugin
 * ------------------------------------------------------------------------------------------- */
typedef struct sb_plugin_descriptor {
    uint32_t struct_size;
    /* SB_ABI_MAJOR / SB_ABI_MINOR the plugin was built with. The host refuses a different major
     * and a minor newer than its own. */
    uint16_t abi_major;
    uint16_t abi_minor;

    /* Reverse-DNS id, unique among plugins: "org.speakerbridge.sonos". [a-z0-9._-] only. */
    const char *id;
    const char *name;
    /* The plugin's own version, e.g. "1.4.2"; shown in bridge/info. */
    const char *version;
    const char *vendor;
    const char *description;

    /* [executor] Creates an instance. `config_json` is the plugin's settings (NAME.json beside
     * the plugin) as a JSON object ("{}" when there are none); SB_HOST_EXT_SETTINGS reads the
     * same object as typed values. On failure return a negative status and explain in `err`;
     * `*out_instance` is then ignored. */
    sb_status (*create)(const sb_host *host, const char *config_json, sb_instance **out_instance,
                        char *err, size_t err_size);

    /* [executor] Frees the instance. Every operation it started has been completed or
     * cancelled, and the host has already cancelled its timers. */
    void (*destroy)(sb_instance *instance);

    /* [executor] Returns the capability table for `id` (SB_EXT_*), or NULL. The table must stay
     * valid until `destroy`. */
    const void *(*get_extension)(sb_instance *instance, const char *id);
} sb_plugin_descriptor;

/* The exported entry point. Must not allocate or start anything: the host may call it just to
 * read the descriptor (`speakerbridge plugin check`). Every plugin defines it:
 *     SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void) { return &descriptor; } */
typedef const sb_plugin_descriptor *(*sb_plugin_entry_fn)(void);
SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* SPEAKERBRIDGE_CORE_H */

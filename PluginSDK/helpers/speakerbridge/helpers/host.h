/*
 * speakerbridge plugin helpers: the host side of a plugin's plumbing: error texts, host service
 * lookup, printf-style logging.
 *
 * Not part of the plugin ABI; header-only C11, `static inline`. See text.h for what the helpers
 * are and are not.
 */
#ifndef SPEAKERBRIDGE_HELPERS_HOST_H
#define SPEAKERBRIDGE_HELPERS_HOST_H

#include <speakerbridge_plugin.h>

#include <stdarg.h>
#include <stdio.h>

/* The ABI's error buffers are caller-supplied and must end up NUL-terminated; vsnprintf does that
 * (and truncates, which is what a reason text wants), given room for the NUL. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static inline void sbh_error(char *err, size_t err_size, const char *fmt, ...)
{
    if (err == NULL || err_size == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

/* The host service `id`, or NULL when the host does not offer it or offers a table smaller than
 * the layout this plugin was compiled against (reading it would run past its end). Every table
 * starts with uint32_t struct_size, a rule of the ABI. */
static inline const void *sbh_host_extension(const sb_host *host, const char *id, size_t min_size)
{
    const void *table = host->get_extension(host, id);
    if (table == NULL || *(const uint32_t *)table < min_size) return NULL;
    return table;
}

/* sbh_host_extension with the table's type: SBH_HOST_EXTENSION(host, sb_host_log, SB_HOST_EXT_LOG). */
#define SBH_HOST_EXTENSION(host, type, id) ((const type *)sbh_host_extension((host), (id), sizeof(type)))

/* sbh_host_extension for a service the plugin cannot work without: when it is missing, NULL and
 * "the host offers no <id>" in `err`. */
static inline const void *sbh_host_require(const sb_host *host, const char *id, size_t min_size, char *err,
                                           size_t err_size)
{
    const void *table = sbh_host_extension(host, id, min_size);
    if (table == NULL) sbh_error(err, err_size, "the host offers no %s", id);
    return table;
}

#define SBH_HOST_REQUIRE(host, type, id, err, err_size) \
    ((const type *)sbh_host_require((host), (id), sizeof(type), (err), (err_size)))

/* A line into the daemon's log. Logging is a courtesy: without the service (`log` NULL) nothing
 * happens; a longer message is cut at 1 KiB. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static inline void sbh_log(const sb_host *host, const sb_host_log *log, int32_t level, const char *fmt, ...)
{
    if (log == NULL) return;
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    log->log(host, level, message);
}

#endif

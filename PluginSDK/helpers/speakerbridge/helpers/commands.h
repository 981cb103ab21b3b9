/*
 * speakerbridge plugin helpers: typed command tables and their replies.
 *
 * Not part of the plugin ABI; header-only C11, `static inline`. See text.h for what the helpers
 * are and are not.
 */
#ifndef SPEAKERBRIDGE_HELPERS_COMMANDS_H
#define SPEAKERBRIDGE_HELPERS_COMMANDS_H

#include <speakerbridge_plugin.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The host calls a command through libffi with its real prototype; `function` only stores it. */
#define SBH_COMMAND_FN(f) ((void (*)(void))(f))

/* Defines `static const sb_plugin_commands name` serving the constant array `commands` (the same
 * for every instance), with its two functions name##_count and name##_get. */
#define SBH_COMMANDS_TABLE(name, commands)                                                        \
    static uint32_t name##_count(sb_instance *inst)                                               \
    {                                                                                             \
        (void)inst;                                                                               \
        return (uint32_t)(sizeof(commands) / sizeof((commands)[0]));                              \
    }                                                                                             \
    static const sb_command *name##_get(sb_instance *inst, uint32_t index)                        \
    {                                                                                             \
        return index < name##_count(inst) ? &(commands)[index] : NULL;                            \
    }                                                                                             \
    static const sb_plugin_commands name = {                                                      \
        .struct_size = sizeof(sb_plugin_commands), .count = name##_count, .get = name##_get }

/* Writes a command's JSON reply. A cut JSON value would be worse than an error, so a reply that
 * does not fit is replaced by the reason and the status says so. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static inline sb_status sbh_reply(char *reply, size_t reply_size, const char *fmt, ...)
{
    if (reply == NULL || reply_size == 0) return SB_ERR_INVALID;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(reply, reply_size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= reply_size) {
        snprintf(reply, reply_size, "the reply needs %d bytes, the buffer has %zu", n + 1, reply_size);
        return SB_ERR_FAILED;
    }
    return SB_OK;
}

#endif

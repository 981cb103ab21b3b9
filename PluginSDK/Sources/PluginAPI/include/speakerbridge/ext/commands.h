/*
 * Plugin capability: typed commands.
 * Part of the speakerbridge plugin ABI; plugins include speakerbridge_plugin.h.
 */
#ifndef SPEAKERBRIDGE_EXT_COMMANDS_H
#define SPEAKERBRIDGE_EXT_COMMANDS_H

#include "../core.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Typed commands: plain C functions the host calls with arguments it has already checked.
 *
 * A command is invoked from `<base>/bridge/request/plugin/<plugin id>/<command>` (a JSON object of
 * arguments) or from `<base>/<speaker>/set` (`{"command":"<name>", …arguments}`, with the
 * speaker's id passed as the `speaker` argument). The host checks the JSON against `signature`,
 * answers a wrong, missing or extra argument with a precise error without calling the plugin,
 * and otherwise calls `function` through libffi as
 *
 *     sb_status function(sb_instance *instance, char *reply, size_t reply_size, <arguments…>);
 *
 * in signature order, on the instance's executor. `reply` takes a JSON value for the answer's
 * `data` (or a reason text when the status is negative); leave it empty for no data. `reply_size`
 * is at least 4096; a reply that does not fit must not be sent truncated: return SB_ERR_FAILED
 * with a short reason instead.
 *
 * Signature grammar (space-separated parameters):
 *     parameter := name ':' type [ range ] [ default ]
 *     name      := [a-z_][a-z0-9_]*
 *     type      := "bool" | "i32" | "i64" | "u32" | "f64" | "str"
 *     range     := '[' number '..' number ']'          (numeric types only, inclusive)
 *     default   := '=' literal                         (makes the parameter optional)
 *               |  '?'                                  (optional str: NULL when absent)
 * C types: bool → bool, i32 → int32_t, i64 → int64_t, u32 → uint32_t, f64 → double,
 *          str → const char * (UTF-8, valid for the call).
 * Example: "speaker:str level:i32[0..100] ramp:bool=false"
 *       →  sb_status set_volume(sb_instance *, char *, size_t, const char *speaker, int32_t level, bool ramp);
 */
#define SB_EXT_COMMANDS "speakerbridge.commands/1"
typedef struct sb_command {
    uint32_t struct_size;
    const char *name;        /* [a-z0-9_]+ */
    const char *signature;
    const char *description;
    void (*function)(void);  /* cast of the real function; called through libffi */
} sb_command;
typedef struct sb_plugin_commands {
    uint32_t struct_size;
    /* [executor] The commands, read once after create. */
    uint32_t (*count)(sb_instance *instance);
    const sb_command *(*get)(sb_instance *instance, uint32_t index);
} sb_plugin_commands;

#ifdef __cplusplus
}
#endif

#endif /* SPEAKERBRIDGE_EXT_COMMANDS_H */

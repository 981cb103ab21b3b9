/*
 * The log speaker as the test suite builds it: the example (Examples/log-speaker/log_speaker.c and
 * log_file.c), compiled into this file, with what tests need and a tutorial should not show:
 *
 *  - build-time knobs (-D): LOG_SPEAKER_ID (a second copy under another id), LOG_SPEAKER_VERSION,
 *    LOG_SPEAKER_ABI_MAJOR / _MINOR (builds the host must refuse) and LOG_SPEAKER_ANSWER, put
 *    first into every command reply as "answer" so a test can tell which build answered after a
 *    hot reload;
 *  - the setting "fail": create fails with its text (a build that cannot start); it wins over
 *    everything else, so {"fail": "…"} alone is a complete configuration;
 *  - the command `sleep ms:u32`, which blocks on purpose (the host's call deadline);
 *  - a clip whose URL contains "never-complete" is accepted and never completed (the host's
 *    operation deadline).
 *
 * The example's own entry point is renamed on the way in, so this file's is the one exported.
 * Build: cc -std=c11 -shared -fPIC -fvisibility=hidden -I <header dir> -I PluginSDK/helpers
 *        [-D…] Tests/Fixtures/plugins/log_speaker_hooks.c -o log-speaker.so
 */
/* nanosleep and O_CLOEXEC are POSIX, not C11; -std=c11 hides them unless asked. */
#define _POSIX_C_SOURCE 200809L

#define speakerbridge_plugin_entry log_speaker_example_entry
#include "../../../Examples/log-speaker/log_speaker.c"
#undef speakerbridge_plugin_entry
#include "../../../Examples/log-speaker/log_file.c"

#include <time.h>

#ifndef LOG_SPEAKER_ID
#define LOG_SPEAKER_ID "org.speakerbridge.example.log-speaker"
#endif
#ifndef LOG_SPEAKER_VERSION
#define LOG_SPEAKER_VERSION "1.0.0"
#endif
#ifndef LOG_SPEAKER_ABI_MAJOR
#define LOG_SPEAKER_ABI_MAJOR SB_ABI_MAJOR
#endif
#ifndef LOG_SPEAKER_ABI_MINOR
#define LOG_SPEAKER_ABI_MINOR SB_ABI_MINOR
#endif
#ifndef LOG_SPEAKER_ANSWER
#define LOG_SPEAKER_ANSWER "a"
#endif

static sb_status hooked_create(const sb_host *host, const char *config_json, sb_instance **out_instance,
                               char *err, size_t err_size)
{
    const sb_host_settings *settings = SBH_HOST_EXTENSION(host, sb_host_settings, SB_HOST_EXT_SETTINGS);
    const char *fail = NULL;
    if (settings != NULL && settings->get_string(host, "fail", NULL, &fail, err, err_size) == SB_OK && fail != NULL) {
        sbh_error(err, err_size, "%s", fail);
        return SB_ERR_FAILED;
    }
    return log_speaker_create(host, config_json, out_instance, err, err_size);
}

static sb_status hooked_play_clip(sb_instance *inst, const char *speaker_id, const sb_clip *clip,
                                  uint64_t operation_id, char *err, size_t err_size)
{
    if (clip != NULL && clip->url != NULL && strstr(clip->url, "never-complete") != NULL) return SB_OK;
    return speaker_play_clip(inst, speaker_id, clip, operation_id, err, err_size);
}

static const sb_plugin_speaker hooked_speaker_table = {
    .struct_size = sizeof(sb_plugin_speaker),
    .count = speaker_count,
    .get = speaker_get,
    .play_clip = hooked_play_clip,
    .cancel = speaker_cancel,
};

/* {"volume":30} -> {"answer":"a","volume":30}; failures (a reason text) pass unchanged. */
static sb_status with_answer(sb_status status, char *reply, size_t reply_size)
{
    if (status != SB_OK || reply[0] != '{') return status;
    sbh_text answered = {0};
    sbh_text_printf(&answered, "{\"answer\":\"%s\"%s%s", LOG_SPEAKER_ANSWER, reply[1] == '}' ? "" : ",", reply + 1);
    status = answered.failed ? SB_ERR_FAILED : sbh_reply(reply, reply_size, "%s", answered.data);
    sbh_text_free(&answered);
    return status;
}

static sb_status hooked_volume(sb_instance *inst, char *reply, size_t reply_size, const char *speaker_id,
                               int32_t level, bool ramp)
{
    return with_answer(cmd_volume(inst, reply, reply_size, speaker_id, level, ramp), reply, reply_size);
}

static sb_status hooked_echo(sb_instance *inst, char *reply, size_t reply_size, const char *message,
                             uint32_t times)
{
    return with_answer(cmd_echo(inst, reply, reply_size, message, times), reply, reply_size);
}

static sb_status hooked_count(sb_instance *inst, char *reply, size_t reply_size)
{
    return with_answer(cmd_count(inst, reply, reply_size), reply, reply_size);
}

/* Breaks the never-block rule on purpose. */
static sb_status cmd_sleep(sb_instance *inst, char *reply, size_t reply_size, uint32_t ms)
{
    struct timespec left = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
    inst->commands_handled++;
    return sbh_reply(reply, reply_size, "{\"slept\":%" PRIu32 "}", ms);
}

/* The example's commands (same signatures) through with_answer, and the hook. */
static const sb_command hooked_command_list[] = {
    { sizeof(sb_command), "volume", "speaker:str level:i32[0..100] ramp:bool=false",
      "Log a volume change for a speaker", SBH_COMMAND_FN(hooked_volume) },
    { sizeof(sb_command), "echo", "text:str times:u32[1..10]=1", "Log a text and send it back",
      SBH_COMMAND_FN(hooked_echo) },
    { sizeof(sb_command), "count", "", "How many commands this plugin has handled, across hot reloads",
      SBH_COMMAND_FN(hooked_count) },
    { sizeof(sb_command), "sleep", "ms:u32", "Test hook: block the call for ms milliseconds",
      SBH_COMMAND_FN(cmd_sleep) },
};

SBH_COMMANDS_TABLE(hooked_commands_table, hooked_command_list);

static const void *hooked_get_extension(sb_instance *inst, const char *id)
{
    if (strcmp(id, SB_EXT_SPEAKER) == 0) return &hooked_speaker_table;
    if (strcmp(id, SB_EXT_COMMANDS) == 0) return &hooked_commands_table;
    return log_speaker_get_extension(inst, id);
}

static const sb_plugin_descriptor hooked_descriptor = {
    .struct_size = sizeof(sb_plugin_descriptor),
    .abi_major = LOG_SPEAKER_ABI_MAJOR,
    .abi_minor = LOG_SPEAKER_ABI_MINOR,
    .id = LOG_SPEAKER_ID,
    .name = "Log speaker",
    .version = LOG_SPEAKER_VERSION,
    .vendor = "speakerbridge",
    .description = "The example log speaker with the test suite's hooks",
    .create = hooked_create,
    .destroy = log_speaker_destroy,
    .get_extension = hooked_get_extension,
};

SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void);
SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void) { return &hooked_descriptor; }

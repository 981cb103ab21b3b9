/* Fixture: a plugin as a third party wrote it for ABI 1.0, built against the frozen 1.0 header
 * beside it (`-I Tests/Fixtures/abi-1.0`). It must keep loading and working under later 1.x hosts:
 * one speaker ("Old Radio", id `old-radio`) that completes each clip at once and publishes its
 * state, and a typed command `tune speaker:str station:i32[1..99]`. It knows only 1.0 structs,
 * so its sb_speaker_info is the 1.0 size and it never writes `address`.
 *
 * -DFIXTURE_ABI_MINOR=N records minor N in the descriptor instead of the header's (build it
 * against the current header with N = current + 1 to see a host refuse a plugin that is too new);
 * -DFIXTURE_ID='"…"' gives a copy its own id. */
#include <speakerbridge_plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FIXTURE_ID
#define FIXTURE_ID "org.speakerbridge.test.abi10-speaker"
#endif
#ifndef FIXTURE_ABI_MINOR
#define FIXTURE_ABI_MINOR SB_ABI_MINOR
#endif

struct sb_instance {
    const sb_host *host;
    const sb_host_publish *publish;
    const sb_host_operations *operations;
    const sb_host_log *log;
    int station;
};

static uint32_t speaker_count(sb_instance *instance) { (void)instance; return 1; }

static bool speaker_get(sb_instance *instance, uint32_t index, sb_speaker_info *out)
{
    (void)instance;
    if (index != 0) return false;
    /* The 1.0 way: only the fields this plugin knows, and only those the host's struct holds. */
    if (out->struct_size < sizeof(sb_speaker_info)) return false;
    out->id = "old-radio";
    out->name = "Old Radio";
    out->model = "ABI 1.0 fixture";
    out->group = NULL;
    return true;
}

static sb_status play_clip(sb_instance *instance, const char *speaker_id, const sb_clip *clip,
                           uint64_t operation_id, char *err, size_t err_size)
{
    if (strcmp(speaker_id, "old-radio") != 0) {
        snprintf(err, err_size, "no speaker %s", speaker_id);
        return SB_ERR_NOT_FOUND;
    }
    char state[512];
    snprintf(state, sizeof state, "{\"state\":\"played\",\"station\":%d,\"url_length\":%zu}", instance->station,
             strlen(clip->url));
    instance->publish->speaker_state(instance->host, speaker_id, state);
    instance->log->log(instance->host, SB_LOG_INFO, "abi 1.0 speaker played a clip");
    instance->operations->complete(instance->host, operation_id, SB_OK, NULL);
    return SB_OK;
}

static sb_status cancel(sb_instance *instance, uint64_t operation_id)
{
    (void)instance; (void)operation_id;
    return SB_OK;
}

static const sb_plugin_speaker speaker_ext = {sizeof(sb_plugin_speaker), speaker_count, speaker_get, play_clip, cancel};

static sb_status tune(sb_instance *instance, char *reply, size_t reply_size, const char *speaker, int32_t station)
{
    if (strcmp(speaker, "old-radio") != 0) {
        snprintf(reply, reply_size, "no speaker %s", speaker);
        return SB_ERR_NOT_FOUND;
    }
    instance->station = station;
    snprintf(reply, reply_size, "{\"speaker\":\"%s\",\"station\":%d,\"abi\":\"%d.%d\"}", speaker, (int)station,
             SB_ABI_MAJOR, FIXTURE_ABI_MINOR);
    return SB_OK;
}

static const sb_command commands[] = {
    {sizeof(sb_command), "tune", "speaker:str station:i32[1..99]", "Tunes the radio", (void (*)(void))tune},
};
static uint32_t command_count(sb_instance *instance) { (void)instance; return 1; }
static const sb_command *command_get(sb_instance *instance, uint32_t index)
{
    (void)instance;
    return index < 1 ? &commands[index] : NULL;
}
static const sb_plugin_commands commands_ext = {sizeof(sb_plugin_commands), command_count, command_get};

static sb_status create(const sb_host *host, const char *config_json, sb_instance **out_instance,
                        char *err, size_t err_size)
{
    (void)config_json;
    sb_instance *instance = calloc(1, sizeof *instance);
    if (instance == NULL) return SB_ERR_FAILED;
    instance->host = host;
    instance->publish = host->get_extension(host, SB_HOST_EXT_PUBLISH);
    instance->operations = host->get_extension(host, SB_HOST_EXT_OPERATIONS);
    instance->log = host->get_extension(host, SB_HOST_EXT_LOG);
    instance->station = 1;
    if (instance->publish == NULL || instance->operations == NULL || instance->log == NULL) {
        snprintf(err, err_size, "the host lacks a 1.0 service");
        free(instance);
        return SB_ERR_UNSUPPORTED;
    }
    *out_instance = instance;
    return SB_OK;
}

static void destroy(sb_instance *instance) { free(instance); }

static const void *get_extension(sb_instance *instance, const char *id)
{
    (void)instance;
    if (strcmp(id, SB_EXT_SPEAKER) == 0) return &speaker_ext;
    if (strcmp(id, SB_EXT_COMMANDS) == 0) return &commands_ext;
    return NULL;
}

static const sb_plugin_descriptor descriptor = {
    .struct_size = sizeof(sb_plugin_descriptor),
    .abi_major = SB_ABI_MAJOR,
    .abi_minor = FIXTURE_ABI_MINOR,
    .id = FIXTURE_ID,
    .name = "ABI 1.0 speaker",
    .version = "1.0.0",
    .vendor = "speakerbridge tests",
    .description = "A speaker and a command built against the frozen ABI 1.0 header",
    .create = create,
    .destroy = destroy,
    .get_extension = get_extension,
};

SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void);
SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void) { return &descriptor; }

/* Fixture: a speaker driver with a fatal bug. Two speakers: "Calm" plays every clip at once, and
 * "Bomb" crashes the whole process with SIGSEGV in play_clip while the file named by -DARMED_FILE
 * exists (a bad driver build, a device answer that trips a NULL dereference: the host cannot catch
 * it, so the journal must keep the request from crash-looping the daemon). Removing the file
 * "fixes the driver", so a retried request can then succeed. */
#define _POSIX_C_SOURCE 200809L
#include <speakerbridge_plugin.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef ARMED_FILE
#error "build with -DARMED_FILE='\"/path/to/armed\"'"
#endif

struct sb_instance {
    const sb_host *host;
    const sb_host_operations *operations;
};

static sb_status create(const sb_host *host, const char *config_json, sb_instance **out_instance,
                        char *err, size_t err_size)
{
    (void)config_json; (void)err; (void)err_size;
    sb_instance *self = calloc(1, sizeof *self);
    if (self == NULL) return SB_ERR_FAILED;
    self->host = host;
    self->operations = host->get_extension(host, SB_HOST_EXT_OPERATIONS);
    *out_instance = self;
    return SB_OK;
}

static void destroy(sb_instance *instance) { free(instance); }

static uint32_t count(sb_instance *instance) { (void)instance; return 2; }

static bool get(sb_instance *instance, uint32_t index, sb_speaker_info *out)
{
    (void)instance;
    if (index > 1) return false;
    out->id = index == 0 ? "bomb" : "calm";
    out->name = index == 0 ? "Bomb" : "Calm";
    out->model = "Crash fixture";
    out->group = NULL;
    out->address = NULL;
    return true;
}

static sb_status play_clip(sb_instance *instance, const char *speaker_id, const sb_clip *clip,
                           uint64_t operation_id, char *err, size_t err_size)
{
    (void)clip; (void)err; (void)err_size;
    if (strcmp(speaker_id, "bomb") == 0 && access(ARMED_FILE, F_OK) == 0) {
        /* A real invalid write, not raise(): a signal handler that returns (the Swift runtime's
         * backtracer does) resumes after raise(), but re-executes a faulting store and dies. */
        int *volatile nowhere = NULL;
        *nowhere = 1;
    }
    if (strcmp(speaker_id, "bomb") != 0 && strcmp(speaker_id, "calm") != 0) return SB_ERR_NOT_FOUND;
    instance->operations->complete(instance->host, operation_id, SB_OK, NULL);
    return SB_OK;
}

static sb_status cancel(sb_instance *instance, uint64_t operation_id)
{
    (void)instance; (void)operation_id;
    return SB_ERR_NOT_FOUND;
}

static const sb_plugin_speaker speaker = {
    .struct_size = sizeof(sb_plugin_speaker),
    .count = count,
    .get = get,
    .play_clip = play_clip,
    .cancel = cancel,
};

static const void *get_extension(sb_instance *instance, const char *id)
{
    (void)instance;
    return strcmp(id, SB_EXT_SPEAKER) == 0 ? &speaker : NULL;
}

static const sb_plugin_descriptor descriptor = {
    .struct_size = sizeof(sb_plugin_descriptor),
    .abi_major = SB_ABI_MAJOR,
    .abi_minor = SB_ABI_MINOR,
    .id = "org.speakerbridge.tests.crash-speaker",
    .name = "Crash fixture",
    .version = "1.0.0",
    .vendor = "speakerbridge tests",
    .description = "A speaker whose driver segfaults while a file exists",
    .create = create,
    .destroy = destroy,
    .get_extension = get_extension,
};

SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void);
SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void) { return &descriptor; }

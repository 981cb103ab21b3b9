/* Fixture: a minimal valid plugin with no capabilities, whose id comes from -DFIXTURE_ID.
 * Built with an id that is not [a-z0-9._-] it must be refused as invalidID; built with the log
 * speaker's id and loaded beside it, as duplicateID. Everything else is correct, so the id is the
 * only reason to refuse it. */
#include <speakerbridge_plugin.h>
#include <stdlib.h>

#ifndef FIXTURE_ID
#error "build with -DFIXTURE_ID='\"the.id\"'"
#endif

struct sb_instance { int unused; };

static sb_status create(const sb_host *host, const char *config_json, sb_instance **out_instance,
                        char *err, size_t err_size)
{
    (void)host; (void)config_json; (void)err; (void)err_size;
    *out_instance = calloc(1, sizeof **out_instance);
    return *out_instance != NULL ? SB_OK : SB_ERR_FAILED;
}

static void destroy(sb_instance *instance) { free(instance); }

static const void *get_extension(sb_instance *instance, const char *id)
{
    (void)instance; (void)id;
    return NULL;
}

static const sb_plugin_descriptor descriptor = {
    .struct_size = sizeof(sb_plugin_descriptor),
    .abi_major = SB_ABI_MAJOR,
    .abi_minor = SB_ABI_MINOR,
    .id = FIXTURE_ID,
    .name = "Minimal fixture",
    .version = "1.0.0",
    .vendor = "speakerbridge tests",
    .description = "Creates an empty instance and offers nothing",
    .create = create,
    .destroy = destroy,
    .get_extension = get_extension,
};

SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void);
SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void) { return &descriptor; }

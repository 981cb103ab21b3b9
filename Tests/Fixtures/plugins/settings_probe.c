/* Fixture: reads its settings through the host's settings service (SB_HOST_EXT_SETTINGS) and
 * answers what it got. Typed command `read key:str type:str` reads one key as one type ("string",
 * "integer", "number", "bool", "string_list", each with a fixed default) and replies
 * {"status":…, "value":…, "error":"…"}. At create, the setting `must_be_integer` (when present)
 * is read as an integer and a wrong type fails create with the service's reason passed straight
 * through, the way the header suggests. */
#include <speakerbridge_plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PROBE_ID
#define PROBE_ID "org.speakerbridge.test.settings-probe"
#endif

struct sb_instance {
    const sb_host *host;
    const sb_host_settings *settings;
};

/* Appends `text` to `out` as a JSON string; false when it does not fit. */
static bool put_json_string(char *out, size_t size, size_t *used, const char *text)
{
    if (*used + 1 >= size) return false;
    out[(*used)++] = '"';
    for (const unsigned char *c = (const unsigned char *)text; *c != '\0'; c++) {
        char escaped[8];
        int n;
        if (*c == '"' || *c == '\\') n = snprintf(escaped, sizeof escaped, "\\%c", *c);
        else if (*c < 0x20) n = snprintf(escaped, sizeof escaped, "\\u%04x", *c);
        else n = snprintf(escaped, sizeof escaped, "%c", *c);
        if (*used + (size_t)n + 1 >= size) return false;
        memcpy(out + *used, escaped, (size_t)n);
        *used += (size_t)n;
    }
    if (*used + 1 >= size) return false;
    out[(*used)++] = '"';
    out[*used] = '\0';
    return true;
}

static bool put_raw(char *out, size_t size, size_t *used, const char *text)
{
    size_t n = strlen(text);
    if (*used + n + 1 >= size) return false;
    memcpy(out + *used, text, n + 1);
    *used += n;
    return true;
}

static sb_status read_setting(sb_instance *instance, char *reply, size_t reply_size, const char *key, const char *type)
{
    const sb_host_settings *s = instance->settings;
    char err[256] = "";
    char value[2048] = "";
    size_t vused = 0;
    sb_status status;
    if (strcmp(type, "string") == 0) {
        const char *v = NULL;
        status = s->get_string(instance->host, key, "fallback", &v, err, sizeof err);
        put_json_string(value, sizeof value, &vused, v);
    } else if (strcmp(type, "integer") == 0) {
        int64_t v = 0;
        status = s->get_integer(instance->host, key, -1, &v, err, sizeof err);
        snprintf(value, sizeof value, "%lld", (long long)v);
    } else if (strcmp(type, "number") == 0) {
        double v = 0;
        status = s->get_number(instance->host, key, 0.25, &v, err, sizeof err);
        snprintf(value, sizeof value, "%.17g", v);
    } else if (strcmp(type, "bool") == 0) {
        bool v = false;
        status = s->get_bool(instance->host, key, true, &v, err, sizeof err);
        snprintf(value, sizeof value, "%s", v ? "true" : "false");
    } else if (strcmp(type, "string_list") == 0) {
        static const char *const fallback[] = {"default-room"};
        const char *const *items = NULL;
        size_t count = 0;
        status = s->get_string_list(instance->host, key, fallback, 1, &items, &count, err, sizeof err);
        put_raw(value, sizeof value, &vused, "[");
        for (size_t i = 0; i < count; i++) {
            if (i > 0) put_raw(value, sizeof value, &vused, ",");
            put_json_string(value, sizeof value, &vused, items[i]);
        }
        put_raw(value, sizeof value, &vused, "]");
    } else if (strcmp(type, "null_out") == 0) {
        status = s->get_integer(instance->host, key, 0, NULL, err, sizeof err);
        snprintf(value, sizeof value, "null");
    } else {
        snprintf(reply, reply_size, "unknown type %s", type);
        return SB_ERR_INVALID;
    }
    size_t used = 0;
    int n = snprintf(reply, reply_size, "{\"status\":%d,\"value\":%s,\"error\":", (int)status, value);
    if (n < 0 || (size_t)n >= reply_size) return SB_ERR_FAILED;
    used = (size_t)n;
    if (!put_json_string(reply, reply_size, &used, err) || !put_raw(reply, reply_size, &used, "}")) {
        snprintf(reply, reply_size, "reply too long");
        return SB_ERR_FAILED;
    }
    return SB_OK;
}

static const sb_command commands[] = {
    {sizeof(sb_command), "read", "key:str type:str", "Reads one setting as one type", (void (*)(void))read_setting},
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
    const sb_host_settings *settings = host->get_extension(host, SB_HOST_EXT_SETTINGS);
    if (settings == NULL || settings->struct_size < sizeof(sb_host_settings)) {
        snprintf(err, err_size, "the host offers no settings service");
        return SB_ERR_UNSUPPORTED;
    }
    int64_t must = 0;
    sb_status status = settings->get_integer(host, "must_be_integer", 0, &must, err, err_size);
    if (status != SB_OK) return status;
    sb_instance *instance = calloc(1, sizeof *instance);
    if (instance == NULL) return SB_ERR_FAILED;
    instance->host = host;
    instance->settings = settings;
    *out_instance = instance;
    return SB_OK;
}

static void destroy(sb_instance *instance) { free(instance); }

static const void *get_extension(sb_instance *instance, const char *id)
{
    (void)instance;
    return strcmp(id, SB_EXT_COMMANDS) == 0 ? &commands_ext : NULL;
}

static const sb_plugin_descriptor descriptor = {
    .struct_size = sizeof(sb_plugin_descriptor),
    .abi_major = SB_ABI_MAJOR,
    .abi_minor = SB_ABI_MINOR,
    .id = PROBE_ID,
    .name = "Settings probe",
    .version = "1.0.0",
    .vendor = "speakerbridge tests",
    .description = "Reads its settings through the settings service and says what it got",
    .create = create,
    .destroy = destroy,
    .get_extension = get_extension,
};

SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void);
SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void) { return &descriptor; }

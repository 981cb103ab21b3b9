/* Fixture: exercises the host's HTTP client (SB_HOST_EXT_HTTP). Command `get` starts a request and
 * returns at once; the answer arrives later through the host's callback and is kept; command `last`
 * reports it. */
#define _POSIX_C_SOURCE 200809L
#include <speakerbridge_plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct sb_instance {
    const sb_host *host;
    const sb_host_http *http;
    int done;
    sb_status status;
    int http_status;
    size_t bytes;
    char content_type[64];
    char error[256];
};

static void on_response(void *user, const sb_http_response *r)
{
    sb_instance *inst = user;
    inst->done = 1;
    inst->status = r->status;
    inst->http_status = r->http_status;
    inst->bytes = r->body_size;
    inst->content_type[0] = '\0';
    for (size_t i = 0; i < r->header_count; i++) {
        if (strcasecmp(r->headers[i].name, "Content-Type") == 0) { /* header names are case-insensitive */
            snprintf(inst->content_type, sizeof inst->content_type, "%s", r->headers[i].value);
        }
    }
    snprintf(inst->error, sizeof inst->error, "%s", r->error != NULL ? r->error : "");
}

static sb_status cmd_get(sb_instance *inst, char *reply, size_t reply_size, const char *url, uint32_t timeout_ms)
{
    sb_http_request request = {
        .struct_size = sizeof request, .method = "GET", .url = url, .timeout_ms = timeout_ms,
    };
    uint64_t id = 0;
    inst->done = 0;
    sb_status st = inst->http->request(inst->host, &request, on_response, inst, &id);
    snprintf(reply, reply_size, "{\"started\":%s}", st == SB_OK ? "true" : "false");
    return st;
}

static sb_status cmd_last(sb_instance *inst, char *reply, size_t reply_size)
{
    snprintf(reply, reply_size,
             "{\"done\":%s,\"status\":%d,\"http_status\":%d,\"bytes\":%zu,\"content_type\":\"%s\",\"error\":\"%s\"}",
             inst->done ? "true" : "false", (int)inst->status, inst->http_status, inst->bytes, inst->content_type,
             inst->done && inst->error[0] != '\0' ? "failed" : "");
    return SB_OK;
}

static const sb_command commands[] = {
    { sizeof(sb_command), "get", "url:str timeout_ms:u32=2000", "GET a URL through the host", (void (*)(void))cmd_get },
    { sizeof(sb_command), "last", "", "The last answer", (void (*)(void))cmd_last },
};

static uint32_t command_count(sb_instance *inst) { (void)inst; return 2; }
static const sb_command *command_get(sb_instance *inst, uint32_t i) { (void)inst; return i < 2 ? &commands[i] : NULL; }
static const sb_plugin_commands commands_table = { sizeof commands_table, command_count, command_get };

static sb_status create(const sb_host *host, const char *config_json, sb_instance **out, char *err, size_t err_size)
{
    (void)config_json;
    const sb_host_http *http = host->get_extension(host, SB_HOST_EXT_HTTP);
    if (http == NULL) {
        snprintf(err, err_size, "the host offers no HTTP client");
        return SB_ERR_UNSUPPORTED;
    }
    sb_instance *inst = calloc(1, sizeof *inst);
    if (inst == NULL) return SB_ERR_FAILED;
    inst->host = host;
    inst->http = http;
    *out = inst;
    return SB_OK;
}

static void destroy(sb_instance *inst) { free(inst); }

static const void *get_extension(sb_instance *inst, const char *id)
{
    (void)inst;
    return strcmp(id, SB_EXT_COMMANDS) == 0 ? &commands_table : NULL;
}

static const sb_plugin_descriptor descriptor = {
    .struct_size = sizeof(sb_plugin_descriptor), .abi_major = SB_ABI_MAJOR, .abi_minor = SB_ABI_MINOR,
    .id = "org.speakerbridge.test.http-probe", .name = "HTTP probe", .version = "1.0.0",
    .vendor = "speakerbridge tests", .description = "Fetches URLs through the host's HTTP client",
    .create = create, .destroy = destroy, .get_extension = get_extension,
};

SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void) { return &descriptor; }

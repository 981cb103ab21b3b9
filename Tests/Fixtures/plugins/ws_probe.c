/* Fixture: exercises the host's WebSocket client (SB_HOST_EXT_WEBSOCKET) and the HTTP client's
 * SB_HTTP_TLS_NO_VERIFY flag.
 *
 * Typed commands: `ws_open`, `ws_send`, `ws_close`, `http_get`. Every WebSocket event is published
 * as the plugin event `ws` ({"socket","event":"open"|"text"|"closed","size","data","thread_ok"}),
 * every HTTP answer as the event `http` ({"status","http_status","bytes","body","error"}).
 * `thread_ok` says the event arrived on the instance's executor (the thread that ran `create` and
 * the commands is not checked; instead: never two callbacks at once).
 *
 * Settings (JSON beside the .so), optional: "open_on_create": a ws:// URL opened in `create`; the
 * status of that `open` is logged as a warning ("open on create: <status>") — for the offline
 * `plugin check`, which must refuse it. */
#define _POSIX_C_SOURCE 200809L
#include <speakerbridge_plugin.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sb_instance {
    const sb_host *host;
    const sb_host_log *log;
    const sb_host_publish *publish;
    const sb_host_websocket *ws;
    const sb_host_http *http;
    atomic_int in_callback;
};

static void json_escape(char *out, size_t out_size, const char *text, size_t size)
{
    size_t o = strlen(out);
    for (size_t i = 0; i < size && o + 7 < out_size; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\') { out[o++] = '\\'; out[o++] = (char)c; }
        else if (c < 0x20 || c == 0x7f) { o += (size_t)snprintf(out + o, out_size - o, "\\u%04x", c); } /* UTF-8 passes through */
        else out[o++] = (char)c;
    }
    out[o] = '\0';
}

static void append(char *out, size_t out_size, const char *text)
{
    size_t o = strlen(out);
    snprintf(out + o, out_size - o, "%s", text);
}

static void on_ws(void *user, uint64_t socket_id, int32_t event, const char *data, size_t size)
{
    sb_instance *inst = user;
    int overlap = atomic_fetch_add(&inst->in_callback, 1) != 0;
    const char *name = event == SB_WS_OPEN ? "open" : event == SB_WS_TEXT ? "text" : event == SB_WS_CLOSED ? "closed" : "unknown";
    static char json[8192];
    snprintf(json, sizeof json, "{\"socket\":%llu,\"event\":\"%s\",\"size\":%zu,\"terminated\":%s,\"thread_ok\":%s,\"data\":\"",
             (unsigned long long)socket_id, name, size, data[size] == '\0' ? "true" : "false", overlap ? "false" : "true");
    json_escape(json, sizeof json, data, size > 2000 ? 2000 : size);
    append(json, sizeof json, "\"}");
    inst->publish->event(inst->host, "ws", json);
    atomic_fetch_sub(&inst->in_callback, 1);
}

/* "Name: value" → one header; NULL → none. */
static sb_status cmd_ws_open(sb_instance *inst, char *reply, size_t reply_size, const char *url, const char *subprotocol,
                             bool no_verify, uint32_t timeout_ms, uint32_t max_message, const char *header)
{
    char name[128] = "", value[512] = "";
    sb_http_header h = { name, value };
    if (header != NULL) {
        const char *colon = strchr(header, ':');
        if (colon == NULL) { snprintf(reply, reply_size, "header must be \"Name: value\""); return SB_ERR_INVALID; }
        snprintf(name, sizeof name, "%.*s", (int)(colon - header), header);
        colon++;
        while (*colon == ' ') colon++;
        snprintf(value, sizeof value, "%s", colon);
    }
    sb_ws_request request = {
        .struct_size = sizeof request, .url = url, .headers = header != NULL ? &h : NULL, .header_count = header != NULL ? 1 : 0,
        .subprotocol = subprotocol, .flags = no_verify ? SB_HTTP_TLS_NO_VERIFY : 0, .timeout_ms = timeout_ms,
        .max_message_size = max_message,
    };
    uint64_t id = 0;
    sb_status st = inst->ws->open(inst->host, &request, on_ws, inst, &id);
    snprintf(reply, reply_size, "{\"status\":%d,\"socket\":%llu}", (int)st, (unsigned long long)id);
    return SB_OK;
}

static sb_status cmd_ws_send(sb_instance *inst, char *reply, size_t reply_size, int64_t socket_id, const char *text, uint32_t repeat)
{
    /* `repeat` > 1 sends text repeated (for big messages). */
    size_t len = strlen(text), total = len * (repeat == 0 ? 1 : repeat);
    char *buffer = malloc(total + 1);
    if (buffer == NULL) return SB_ERR_FAILED;
    for (size_t i = 0; i < total; i += len) memcpy(buffer + i, text, len);
    sb_status st = inst->ws->send_text(inst->host, (uint64_t)socket_id, buffer, total);
    free(buffer);
    snprintf(reply, reply_size, "{\"status\":%d}", (int)st);
    return SB_OK;
}

static sb_status cmd_ws_close(sb_instance *inst, char *reply, size_t reply_size, int64_t socket_id)
{
    inst->ws->close(inst->host, (uint64_t)socket_id);
    snprintf(reply, reply_size, "{\"status\":0}");
    return SB_OK;
}

/* --- HTTP with flags ------------------------------------------------------------------------ */

static void on_http(void *user, const sb_http_response *r)
{
    sb_instance *inst = user;
    static char json[4096];
    snprintf(json, sizeof json, "{\"status\":%d,\"http_status\":%d,\"bytes\":%zu,\"body\":\"", (int)r->status, (int)r->http_status,
             r->body_size);
    json_escape(json, sizeof json, r->body, r->body_size > 200 ? 200 : r->body_size);
    append(json, sizeof json, "\",\"error\":\"");
    if (r->error != NULL) json_escape(json, sizeof json, r->error, strlen(r->error));
    append(json, sizeof json, "\"}");
    inst->publish->event(inst->host, "http", json);
}

/* `legacy`: a plugin built against ABI 1.0, whose sb_http_request ends before `flags`. The flag is
 * set in memory anyway: the host must not read it. */
static sb_status cmd_http_get(sb_instance *inst, char *reply, size_t reply_size, const char *url, bool no_verify, bool legacy)
{
    sb_http_request request = {
        .struct_size = legacy ? (uint32_t)offsetof(sb_http_request, flags) : (uint32_t)sizeof request,
        .method = "GET", .url = url, .timeout_ms = 5000, .flags = no_verify ? SB_HTTP_TLS_NO_VERIFY : 0,
    };
    uint64_t id = 0;
    sb_status st = inst->http->request(inst->host, &request, on_http, inst, &id);
    snprintf(reply, reply_size, "{\"status\":%d}", (int)st);
    return SB_OK;
}

static const sb_command commands[] = {
    { sizeof(sb_command), "ws_open",
      "url:str subprotocol:str? no_verify:bool=false timeout_ms:u32=0 max_message:u32=0 header:str?",
      "Open a WebSocket", (void (*)(void))cmd_ws_open },
    { sizeof(sb_command), "ws_send", "socket:i64 text:str repeat:u32=1", "Send a text message", (void (*)(void))cmd_ws_send },
    { sizeof(sb_command), "ws_close", "socket:i64", "Close a WebSocket", (void (*)(void))cmd_ws_close },
    { sizeof(sb_command), "http_get", "url:str no_verify:bool=false legacy:bool=false", "GET with flags",
      (void (*)(void))cmd_http_get },
};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static uint32_t command_count(sb_instance *inst) { (void)inst; return COMMAND_COUNT; }
static const sb_command *command_get(sb_instance *inst, uint32_t i) { (void)inst; return i < COMMAND_COUNT ? &commands[i] : NULL; }
static const sb_plugin_commands commands_table = { sizeof commands_table, command_count, command_get };

static sb_status create(const sb_host *host, const char *config_json, sb_instance **out, char *err, size_t err_size)
{
    const sb_host_websocket *ws = host->get_extension(host, SB_HOST_EXT_WEBSOCKET);
    const sb_host_http *http = host->get_extension(host, SB_HOST_EXT_HTTP);
    const sb_host_publish *publish = host->get_extension(host, SB_HOST_EXT_PUBLISH);
    const sb_host_log *log = host->get_extension(host, SB_HOST_EXT_LOG);
    if (ws == NULL || http == NULL || publish == NULL || log == NULL) {
        snprintf(err, err_size, "the host offers no WebSocket client");
        return SB_ERR_UNSUPPORTED;
    }
    sb_instance *inst = calloc(1, sizeof *inst);
    if (inst == NULL) return SB_ERR_FAILED;
    inst->host = host;
    inst->ws = ws;
    inst->http = http;
    inst->publish = publish;
    inst->log = log;
    const char *p = strstr(config_json, "\"open_on_create\"");
    if (p != NULL && (p = strchr(p + 16, '"')) != NULL) {
        char url[512];
        const char *end = strchr(p + 1, '"');
        snprintf(url, sizeof url, "%.*s", (int)(end != NULL ? end - p - 1 : 0), p + 1);
        sb_ws_request request = { .struct_size = sizeof request, .url = url };
        uint64_t id = 0;
        sb_status st = ws->open(host, &request, on_ws, inst, &id);
        char line[600];
        snprintf(line, sizeof line, "open on create: %d", (int)st);
        log->log(host, SB_LOG_WARNING, line);
    }
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
    .id = "org.speakerbridge.test.ws-probe", .name = "WebSocket probe", .version = "1.0.0",
    .vendor = "speakerbridge tests", .description = "Talks to WebSocket servers through the host",
    .create = create, .destroy = destroy, .get_extension = get_extension,
};

SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void) { return &descriptor; }

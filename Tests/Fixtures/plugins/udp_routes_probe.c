/* Fixture: exercises the host's UDP sockets (SB_HOST_EXT_UDP) and HTTP callback routes
 * (SB_HOST_EXT_ROUTES).
 *
 * Typed commands: `udp_open`, `udp_send`, `udp_close`, `route_add`, `route_remove`, `route_answer`.
 * Every datagram received is published as the plugin event `udp` ({"from","port","size","text"})
 * and logged; every route request as the event `route` ({"method","path","headers","body",
 * "reloaded"}), answered with the status set by `route_answer` (200 at first).
 *
 * Settings (JSON beside the .so), all optional: "udp_interface", "udp_port", "udp_group" open a
 * socket at create; "echo": true answers each datagram with "echo:<text>" to its sender and
 * "mcast:<text>" to the group (like an SSDP responder and announcer).
 *
 * State handover: the route paths and the answer status go to the next generation, which adds the
 * same paths again (taking them over, so callback URLs stay valid across a hot reload). */
#define _POSIX_C_SOURCE 200809L
#include <speakerbridge_plugin.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ROUTES 8

struct sb_instance {
    const sb_host *host;
    const sb_host_log *log;
    const sb_host_publish *publish;
    const sb_host_udp *udp;
    const sb_host_routes *routes; /* NULL without the host's HTTP server */
    int32_t answer_status;
    uint32_t answer_delay_ms;
    int reloaded;
    int route_count;
    char route_paths[MAX_ROUTES][256];
    uint64_t route_ids[MAX_ROUTES];
    uint64_t config_socket;
    int echo;
    char group[64];
    uint16_t group_port;
};

/* Appends `text` (size bytes) as a JSON string body (without quotes) to out. */
static void json_escape(char *out, size_t out_size, const char *text, size_t size)
{
    size_t o = strlen(out);
    for (size_t i = 0; i < size && o + 7 < out_size; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\') { out[o++] = '\\'; out[o++] = (char)c; }
        else if (c < 0x20 || c >= 0x7f) { o += (size_t)snprintf(out + o, out_size - o, "\\u%04x", c); }
        else out[o++] = (char)c;
    }
    out[o] = '\0';
}

static void append(char *out, size_t out_size, const char *text)
{
    size_t o = strlen(out);
    snprintf(out + o, out_size - o, "%s", text);
}

/* Tiny lookups in the plugin's JSON settings: "key": "value" and "key": number / true. */
static int config_string(const char *json, const char *key, char *out, size_t out_size)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    const char *p = strstr(json, pattern);
    if (p == NULL) return 0;
    p = strchr(p + strlen(pattern), '"');
    if (p == NULL) return 0;
    const char *end = strchr(p + 1, '"');
    if (end == NULL) return 0;
    snprintf(out, out_size, "%.*s", (int)(end - p - 1), p + 1);
    return 1;
}

static long config_number(const char *json, const char *key, long fallback)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    const char *p = strstr(json, pattern);
    if (p == NULL) return fallback;
    p = strchr(p, ':');
    if (p == NULL) return fallback;
    p++;
    while (*p == ' ') p++;
    if (strncmp(p, "true", 4) == 0) return 1;
    if (strncmp(p, "false", 5) == 0) return 0;
    return strtol(p, NULL, 10);
}

/* --- UDP ---------------------------------------------------------------------------------- */

static void on_datagram(void *user, const char *from, uint16_t port, const void *data, size_t size)
{
    sb_instance *inst = user;
    char event[8192];
    snprintf(event, sizeof event, "{\"from\":\"%s\",\"port\":%u,\"size\":%zu,\"text\":\"", from, (unsigned)port, size);
    json_escape(event, sizeof event, data, size > 4096 ? 4096 : size);
    append(event, sizeof event, "\"}");
    inst->publish->event(inst->host, "udp", event);

    char line[600];
    snprintf(line, sizeof line, "udp from %s:%u: %.*s", from, (unsigned)port, (int)(size > 400 ? 400 : size), (const char *)data);
    inst->log->log(inst->host, SB_LOG_INFO, line);

    if (inst->echo && inst->config_socket != 0 && size < 1000 && (size < 5 || memcmp(data, "echo:", 5) != 0)) {
        char reply[1100];
        int n = snprintf(reply, sizeof reply, "echo:%.*s", (int)size, (const char *)data);
        sb_status a = inst->udp->send(inst->host, inst->config_socket, from, port, reply, (size_t)n);
        n = snprintf(reply, sizeof reply, "mcast:%.*s", (int)size, (const char *)data);
        sb_status b = inst->group[0] != '\0'
            ? inst->udp->send(inst->host, inst->config_socket, inst->group, inst->group_port, reply, (size_t)n) : SB_OK;
        snprintf(line, sizeof line, "echo sent: unicast %d, multicast %d", (int)a, (int)b);
        inst->log->log(inst->host, SB_LOG_INFO, line);
    }
}

static sb_status cmd_udp_open(sb_instance *inst, char *reply, size_t reply_size, const char *interface, uint32_t port,
                              const char *group)
{
    uint64_t id = 0;
    char err[256] = "";
    sb_status st = inst->udp->open(inst->host, interface, (uint16_t)port, group, on_datagram, inst, &id, err, sizeof err);
    if (st != SB_OK) {
        snprintf(reply, reply_size, "%s", err);
        return st;
    }
    snprintf(reply, reply_size, "{\"socket\":%llu}", (unsigned long long)id);
    return SB_OK;
}

static sb_status cmd_udp_send(sb_instance *inst, char *reply, size_t reply_size, int64_t socket, const char *address,
                              uint32_t port, const char *text)
{
    sb_status st = inst->udp->send(inst->host, (uint64_t)socket, address, (uint16_t)port, text, strlen(text));
    snprintf(reply, reply_size, "{\"status\":%d}", (int)st);
    return SB_OK;
}

static sb_status cmd_udp_close(sb_instance *inst, char *reply, size_t reply_size, int64_t socket)
{
    (void)reply; (void)reply_size;
    inst->udp->close(inst->host, (uint64_t)socket);
    return SB_OK;
}

/* --- routes ------------------------------------------------------------------------------- */

static int32_t on_route(void *user, const sb_route_request *request)
{
    sb_instance *inst = user;
    char event[16384];
    snprintf(event, sizeof event, "{\"method\":\"%s\",\"path\":\"", request->method);
    json_escape(event, sizeof event, request->path, strlen(request->path));
    append(event, sizeof event, "\",\"headers\":{");
    for (size_t i = 0; i < request->header_count; i++) {
        if (i > 0) append(event, sizeof event, ",");
        append(event, sizeof event, "\"");
        json_escape(event, sizeof event, request->headers[i].name, strlen(request->headers[i].name));
        append(event, sizeof event, "\":\"");
        json_escape(event, sizeof event, request->headers[i].value, strlen(request->headers[i].value));
        append(event, sizeof event, "\"");
    }
    append(event, sizeof event, "},\"body\":\"");
    json_escape(event, sizeof event, request->body, request->body_size > 4096 ? 4096 : request->body_size);
    char tail[96];
    snprintf(tail, sizeof tail, "\",\"body_size\":%zu,\"reloaded\":%s,\"remote\":\"", request->body_size,
             inst->reloaded ? "true" : "false");
    append(event, sizeof event, tail);
    /* [ABI 1.2] who sent it */
    const char *remote = request->struct_size > offsetof(sb_route_request, remote_address) ? request->remote_address : NULL;
    if (remote != NULL) json_escape(event, sizeof event, remote, strlen(remote));
    append(event, sizeof event, "\"}");
    inst->publish->event(inst->host, "route", event);
    if (inst->answer_delay_ms > 0) {
        struct timespec ts = { inst->answer_delay_ms / 1000, (long)(inst->answer_delay_ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    return inst->answer_status;
}

static sb_status add_route(sb_instance *inst, const char *path, char *url, size_t url_size, uint64_t *id)
{
    if (inst->routes == NULL) {
        snprintf(url, url_size, "the host offers no callback routes");
        return SB_ERR_UNSUPPORTED;
    }
    sb_status st = inst->routes->add(inst->host, path, on_route, inst, url, url_size, id);
    if (st == SB_OK && inst->route_count < MAX_ROUTES) {
        snprintf(inst->route_paths[inst->route_count], sizeof inst->route_paths[0], "%s", path);
        inst->route_ids[inst->route_count++] = *id;
    }
    return st;
}

static sb_status cmd_route_add(sb_instance *inst, char *reply, size_t reply_size, const char *path)
{
    char url[512] = "";
    uint64_t id = 0;
    sb_status st = add_route(inst, path, url, sizeof url, &id);
    if (st != SB_OK) {
        snprintf(reply, reply_size, "{\"status\":%d}", (int)st);
        return SB_OK;
    }
    snprintf(reply, reply_size, "{\"status\":0,\"route\":%llu,\"url\":\"%s\"}", (unsigned long long)id, url);
    return SB_OK;
}

static sb_status cmd_route_remove(sb_instance *inst, char *reply, size_t reply_size, int64_t route)
{
    (void)reply; (void)reply_size;
    if (inst->routes != NULL) inst->routes->remove(inst->host, (uint64_t)route);
    return SB_OK;
}

static sb_status cmd_route_answer(sb_instance *inst, char *reply, size_t reply_size, int32_t status, uint32_t delay_ms)
{
    (void)reply; (void)reply_size;
    inst->answer_status = status;
    inst->answer_delay_ms = delay_ms;
    return SB_OK;
}

/* Which routes this generation serves: {"routes":[{"route":id,"url":…}]} is not kept (the URL is
 * the host's); the ids are enough for the tests. */
static sb_status cmd_route_list(sb_instance *inst, char *reply, size_t reply_size)
{
    snprintf(reply, reply_size, "{\"reloaded\":%s,\"routes\":[", inst->reloaded ? "true" : "false");
    for (int i = 0; i < inst->route_count; i++) {
        char item[320];
        snprintf(item, sizeof item, "%s{\"route\":%llu,\"path\":\"%s\"}", i > 0 ? "," : "",
                 (unsigned long long)inst->route_ids[i], inst->route_paths[i]);
        append(reply, reply_size, item);
    }
    append(reply, reply_size, "]}");
    return SB_OK;
}

static const sb_command commands[] = {
    { sizeof(sb_command), "udp_open", "interface:str port:u32[0..65535]=0 group:str?", "Open a UDP socket", (void (*)(void))cmd_udp_open },
    { sizeof(sb_command), "udp_send", "socket:i64 address:str port:u32[0..65535] text:str", "Send a datagram", (void (*)(void))cmd_udp_send },
    { sizeof(sb_command), "udp_close", "socket:i64", "Close a socket", (void (*)(void))cmd_udp_close },
    { sizeof(sb_command), "route_add", "path:str", "Add a callback route", (void (*)(void))cmd_route_add },
    { sizeof(sb_command), "route_remove", "route:i64", "Remove a callback route", (void (*)(void))cmd_route_remove },
    { sizeof(sb_command), "route_answer", "status:i32 delay_ms:u32=0", "How routes answer", (void (*)(void))cmd_route_answer },
    { sizeof(sb_command), "route_list", "", "The routes of this generation", (void (*)(void))cmd_route_list },
};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static uint32_t command_count(sb_instance *inst) { (void)inst; return (uint32_t)COMMAND_COUNT; }
static const sb_command *command_get(sb_instance *inst, uint32_t i) { (void)inst; return i < COMMAND_COUNT ? &commands[i] : NULL; }
static const sb_plugin_commands commands_table = { sizeof commands_table, command_count, command_get };

/* --- state handover ------------------------------------------------------------------------ */

static sb_status save(sb_instance *inst, sb_write_fn write, void *context)
{
    char line[300];
    int n = snprintf(line, sizeof line, "%d\n", (int)inst->answer_status);
    write(context, line, (size_t)n);
    for (int i = 0; i < inst->route_count; i++) {
        n = snprintf(line, sizeof line, "%s\n", inst->route_paths[i]);
        write(context, line, (size_t)n);
    }
    return SB_OK;
}

static sb_status load(sb_instance *inst, uint32_t version, const void *data, size_t size, char *err, size_t err_size)
{
    if (version != 1) {
        snprintf(err, err_size, "unknown state version %u", (unsigned)version);
        return SB_ERR_INVALID;
    }
    char *copy = malloc(size + 1);
    if (copy == NULL) return SB_ERR_FAILED;
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *save_ptr = NULL;
    char *line = strtok_r(copy, "\n", &save_ptr);
    if (line != NULL) inst->answer_status = (int32_t)strtol(line, NULL, 10);
    while ((line = strtok_r(NULL, "\n", &save_ptr)) != NULL) {
        char url[512];
        uint64_t id;
        /* The new generation takes the path over: the URL (and a speaker's subscription) stays. */
        sb_status st = add_route(inst, line, url, sizeof url, &id);
        if (st != SB_OK) {
            snprintf(err, err_size, "cannot take over route %s: %d", line, (int)st);
            free(copy);
            return SB_ERR_FAILED;
        }
    }
    free(copy);
    inst->reloaded = 1;
    return SB_OK;
}

static const sb_plugin_state state_table = { sizeof state_table, 1, save, load };

/* --- lifecycle ----------------------------------------------------------------------------- */

static sb_status create(const sb_host *host, const char *config_json, sb_instance **out, char *err, size_t err_size)
{
    const sb_host_udp *udp = host->get_extension(host, SB_HOST_EXT_UDP);
    const sb_host_publish *publish = host->get_extension(host, SB_HOST_EXT_PUBLISH);
    const sb_host_log *log = host->get_extension(host, SB_HOST_EXT_LOG);
    if (udp == NULL || publish == NULL || log == NULL) {
        snprintf(err, err_size, "the host offers no UDP, publish or log service");
        return SB_ERR_UNSUPPORTED;
    }
    sb_instance *inst = calloc(1, sizeof *inst);
    if (inst == NULL) return SB_ERR_FAILED;
    inst->host = host;
    inst->udp = udp;
    inst->publish = publish;
    inst->log = log;
    inst->routes = host->get_extension(host, SB_HOST_EXT_ROUTES);
    inst->answer_status = 200;

    char interface[64];
    if (config_string(config_json, "udp_interface", interface, sizeof interface)) {
        char group[64] = "";
        int has_group = config_string(config_json, "udp_group", group, sizeof group);
        uint16_t port = (uint16_t)config_number(config_json, "udp_port", 0);
        char open_err[256] = "";
        sb_status st = udp->open(host, interface, port, has_group ? group : NULL, on_datagram, inst, &inst->config_socket,
                                 open_err, sizeof open_err);
        if (st != SB_OK) {
            snprintf(err, err_size, "udp open: %s", open_err);
            free(inst);
            return st;
        }
        inst->echo = (int)config_number(config_json, "echo", 0);
        if (has_group) snprintf(inst->group, sizeof inst->group, "%s", group);
        inst->group_port = port;
        char line[200];
        snprintf(line, sizeof line, "udp socket %llu open on \"%s\" port %u%s%s", (unsigned long long)inst->config_socket,
                 interface, (unsigned)port, has_group ? " group " : "", group);
        log->log(host, SB_LOG_INFO, line);
    }
    *out = inst;
    return SB_OK;
}

static void destroy(sb_instance *inst) { free(inst); }

static const void *get_extension(sb_instance *inst, const char *id)
{
    (void)inst;
    if (strcmp(id, SB_EXT_COMMANDS) == 0) return &commands_table;
    if (strcmp(id, SB_EXT_STATE) == 0) return &state_table;
    return NULL;
}

static const sb_plugin_descriptor descriptor = {
    .struct_size = sizeof(sb_plugin_descriptor), .abi_major = SB_ABI_MAJOR, .abi_minor = SB_ABI_MINOR,
    .id = "org.speakerbridge.test.udp-routes-probe", .name = "UDP and routes probe", .version = "1.0.0",
    .vendor = "speakerbridge tests", .description = "Opens UDP sockets and callback routes through the host",
    .create = create, .destroy = destroy, .get_extension = get_extension,
};

SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void) { return &descriptor; }

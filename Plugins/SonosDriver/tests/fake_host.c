/* The unit tests' host (fake_host.h). */
#define _POSIX_C_SOURCE 200809L

#include "fake_host.h"
#include "json.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fake_host *of(const sb_host *host) { return host->host_data; }

static void append(char *buffer, size_t size, const char *text)
{
    size_t used = strlen(buffer);
    if (used + 1 < size) snprintf(buffer + used, size - used, "%s", text);
}

/* --- services ---------------------------------------------------------------------------------- */

static void log_line(const sb_host *host, int32_t level, const char *message)
{
    (void)level;
    fake_host *f = of(host);
    append(f->log, sizeof f->log, message);
    append(f->log, sizeof f->log, "\n");
}

static sb_status timer_start(const sb_host *host, uint32_t delay_ms, uint32_t period_ms, sb_timer_fn fn,
                             void *user, uint64_t *out_timer_id)
{
    fake_host *f = of(host);
    if (f->timer_count >= FAKE_MAX) return SB_ERR_BUSY;
    fake_timer *t = &f->timers[f->timer_count++];
    *t = (fake_timer){ .id = ++f->next_id, .active = true, .delay_ms = delay_ms, .period_ms = period_ms, .fn = fn, .user = user };
    *out_timer_id = t->id;
    return SB_OK;
}

static void timer_cancel(const sb_host *host, uint64_t timer_id)
{
    fake_host *f = of(host);
    for (size_t i = 0; i < f->timer_count; i++) {
        if (f->timers[i].id == timer_id) f->timers[i].active = false;
    }
}

static sb_status publish_state(const sb_host *host, const char *speaker, const char *state_json)
{
    fake_host *f = of(host);
    sn_copy(f->last_state_speaker, sizeof f->last_state_speaker, speaker);
    sn_copy(f->last_state, sizeof f->last_state, state_json);
    f->state_count++;
    return SB_OK;
}

static sb_status publish_availability(const sb_host *host, const char *speaker, bool online)
{
    fake_host *f = of(host);
    snprintf(f->last_availability, sizeof f->last_availability, "%s %s", speaker, online ? "online" : "offline");
    f->availability_count++;
    return SB_OK;
}

static sb_status publish_event(const sb_host *host, const char *name, const char *event_json)
{
    fake_host *f = of(host);
    snprintf(f->last_event, sizeof f->last_event, "%s %s", name, event_json);
    f->event_count++;
    return SB_OK;
}

static void operation_complete(const sb_host *host, uint64_t operation_id, sb_status status, const char *detail)
{
    fake_host *f = of(host);
    f->completed_op = operation_id;
    f->completed_status = status;
    sn_copy(f->completed_detail, sizeof f->completed_detail, detail != NULL ? detail : "");
    f->complete_count++;
}

static sb_status http_request(const sb_host *host, const sb_http_request *request, sb_http_done_fn done,
                              void *user, uint64_t *out_request_id)
{
    fake_host *f = of(host);
    if (f->request_count >= FAKE_MAX) return SB_ERR_BUSY;
    fake_request *r = &f->requests[f->request_count++];
    memset(r, 0, sizeof *r);
    r->id = ++f->next_id;
    r->open = true;
    sn_copy(r->method, sizeof r->method, request->method);
    sn_copy(r->url, sizeof r->url, request->url);
    for (size_t i = 0; i < request->header_count; i++) {
        append(r->headers, sizeof r->headers, request->headers[i].name);
        append(r->headers, sizeof r->headers, ": ");
        append(r->headers, sizeof r->headers, request->headers[i].value);
        append(r->headers, sizeof r->headers, "\n");
    }
    r->body = calloc(1, request->body_size + 1);
    if (r->body != NULL && request->body_size > 0) memcpy(r->body, request->body, request->body_size);
    r->flags = request->flags;
    r->done = done;
    r->user = user;
    *out_request_id = r->id;
    return SB_OK;
}

static void http_cancel(const sb_host *host, uint64_t request_id)
{
    fake_host *f = of(host);
    for (size_t i = 0; i < f->request_count; i++) {
        if (f->requests[i].id == request_id) f->requests[i].open = false;
    }
}

static sb_status udp_open(const sb_host *host, const char *interface, uint16_t port, const char *multicast_group,
                          sb_udp_receive_fn receive, void *user, uint64_t *out_socket_id, char *err, size_t err_size)
{
    (void)interface;
    (void)multicast_group;
    (void)err;
    (void)err_size;
    fake_host *f = of(host);
    if (f->socket_count >= FAKE_MAX) return SB_ERR_BUSY;
    fake_socket *s = &f->sockets[f->socket_count++];
    *s = (fake_socket){ .id = ++f->next_id, .open = true, .port = port, .receive = receive, .user = user };
    *out_socket_id = s->id;
    return SB_OK;
}

static fake_socket *socket_by_id(fake_host *f, uint64_t id)
{
    for (size_t i = 0; i < f->socket_count; i++) {
        if (f->sockets[i].id == id) return &f->sockets[i];
    }
    return NULL;
}

static void record_sent(fake_socket *s, const void *data, size_t size)
{
    size_t n = size < sizeof s->sent - 1 ? size : sizeof s->sent - 1;
    memcpy(s->sent, data, n);
    s->sent[n] = '\0';
    s->sent_count++;
}

static sb_status udp_send(const sb_host *host, uint64_t socket_id, const char *address, uint16_t port,
                          const void *data, size_t size)
{
    (void)address;
    (void)port;
    fake_socket *s = socket_by_id(of(host), socket_id);
    if (s == NULL || !s->open) return SB_ERR_NOT_FOUND;
    record_sent(s, data, size);
    return SB_OK;
}

static void socket_close(const sb_host *host, uint64_t socket_id)
{
    fake_socket *s = socket_by_id(of(host), socket_id);
    if (s != NULL) s->open = false;
}

static sb_status route_add(const sb_host *host, const char *path, sb_route_fn fn, void *user, char *url,
                           size_t url_size, uint64_t *out_route_id)
{
    fake_host *f = of(host);
    if (f->route_count >= FAKE_MAX) return SB_ERR_BUSY;
    fake_route *r = &f->routes[f->route_count++];
    *r = (fake_route){ .id = ++f->next_id, .active = true, .fn = fn, .user = user };
    sn_copy(r->path, sizeof r->path, path);
    snprintf(url, url_size, "http://127.0.0.1:8080/plugin/org.speakerbridge.sonos/%s", path);
    *out_route_id = r->id;
    return SB_OK;
}

static void route_remove(const sb_host *host, uint64_t route_id)
{
    fake_host *f = of(host);
    for (size_t i = 0; i < f->route_count; i++) {
        if (f->routes[i].id == route_id) f->routes[i].active = false;
    }
}

static sb_status ws_open(const sb_host *host, const sb_ws_request *request, sb_ws_event_fn event, void *user,
                         uint64_t *out_socket_id)
{
    fake_host *f = of(host);
    if (f->socket_count >= FAKE_MAX) return SB_ERR_BUSY;
    fake_socket *s = &f->sockets[f->socket_count++];
    *s = (fake_socket){ .id = ++f->next_id, .open = true, .ws_event = event, .user = user };
    sn_copy(s->url, sizeof s->url, request->url);
    *out_socket_id = s->id;
    return SB_OK;
}

static sb_status ws_send_text(const sb_host *host, uint64_t socket_id, const char *text, size_t size)
{
    fake_socket *s = socket_by_id(of(host), socket_id);
    if (s == NULL || !s->open) return SB_ERR_NOT_FOUND;
    record_sent(s, text, size);
    return SB_OK;
}

/* The settings service as core.h describes it: absent or null gives the default, another type is
 * SB_ERR_INVALID with the reason. */
static const sn_json *setting(const sb_host *host, const char *key)
{
    const sn_json *v = sn_json_get(of(host)->settings, key);
    return v != NULL && v->type != SN_JSON_NULL ? v : NULL;
}

static sb_status wrong_type(const char *key, const char *expected, char *err, size_t err_size)
{
    if (err != NULL) snprintf(err, err_size, "setting \"%s\": expected %s", key, expected);
    return SB_ERR_INVALID;
}

static sb_status get_string(const sb_host *host, const char *key, const char *default_value, const char **out_value,
                            char *err, size_t err_size)
{
    const sn_json *v = setting(host, key);
    *out_value = default_value;
    if (v == NULL) return SB_OK;
    if (v->type != SN_JSON_STRING) return wrong_type(key, "a string", err, err_size);
    *out_value = v->string;
    return SB_OK;
}

static sb_status get_number(const sb_host *host, const char *key, double default_value, double *out_value,
                            char *err, size_t err_size)
{
    const sn_json *v = setting(host, key);
    *out_value = default_value;
    if (v == NULL) return SB_OK;
    if (v->type != SN_JSON_NUMBER) return wrong_type(key, "a number", err, err_size);
    *out_value = v->number;
    return SB_OK;
}

static sb_status get_integer(const sb_host *host, const char *key, int64_t default_value, int64_t *out_value,
                             char *err, size_t err_size)
{
    const sn_json *v = setting(host, key);
    *out_value = default_value;
    if (v == NULL) return SB_OK;
    if (v->type != SN_JSON_NUMBER || v->number != (double)(int64_t)v->number) return wrong_type(key, "an integer", err, err_size);
    *out_value = (int64_t)v->number;
    return SB_OK;
}

static sb_status get_bool(const sb_host *host, const char *key, bool default_value, bool *out_value, char *err,
                          size_t err_size)
{
    const sn_json *v = setting(host, key);
    *out_value = default_value;
    if (v == NULL) return SB_OK;
    if (v->type != SN_JSON_BOOL) return wrong_type(key, "true or false", err, err_size);
    *out_value = v->boolean;
    return SB_OK;
}

static sb_status get_string_list(const sb_host *host, const char *key, const char *const *default_items,
                                 size_t default_count, const char *const **out_items, size_t *out_count, char *err,
                                 size_t err_size)
{
    fake_host *f = of(host);
    const sn_json *v = setting(host, key);
    *out_items = default_items;
    *out_count = default_count;
    if (v == NULL) return SB_OK;
    if (v->type != SN_JSON_ARRAY) return wrong_type(key, "a list of strings", err, err_size);
    for (size_t i = 0; i < v->count; i++) {
        if (v->items[i].type != SN_JSON_STRING) return wrong_type(key, "a list of strings", err, err_size);
    }
    free(f->string_list);
    f->string_list = calloc(v->count + 1, sizeof *f->string_list);
    if (f->string_list == NULL) return SB_ERR_FAILED;
    for (size_t i = 0; i < v->count; i++) f->string_list[i] = v->items[i].string;
    *out_items = f->string_list;
    *out_count = v->count;
    return SB_OK;
}

static const sb_host_log log_table = { sizeof log_table, log_line };
static const sb_host_timers timer_table = { sizeof timer_table, timer_start, timer_cancel };
static const sb_host_publish publish_table = { sizeof publish_table, publish_state, publish_availability, publish_event };
static const sb_host_operations operation_table = { sizeof operation_table, operation_complete };
static const sb_host_http http_table = { sizeof http_table, http_request, http_cancel };
static const sb_host_udp udp_table = { sizeof udp_table, udp_open, udp_send, socket_close };
static const sb_host_routes route_table = { sizeof route_table, route_add, route_remove };
static const sb_host_websocket ws_table = { sizeof ws_table, ws_open, ws_send_text, socket_close };
static const sb_host_settings settings_table = { sizeof settings_table, get_string, get_integer, get_number, get_bool,
                                                 get_string_list };

static const void *get_extension(const sb_host *host, const char *id)
{
    if (strcmp(id, SB_HOST_EXT_LOG) == 0) return &log_table;
    if (strcmp(id, SB_HOST_EXT_TIMERS) == 0) return &timer_table;
    if (strcmp(id, SB_HOST_EXT_PUBLISH) == 0) return &publish_table;
    if (strcmp(id, SB_HOST_EXT_OPERATIONS) == 0) return &operation_table;
    if (strcmp(id, SB_HOST_EXT_HTTP) == 0) return &http_table;
    if (strcmp(id, SB_HOST_EXT_UDP) == 0) return &udp_table;
    if (strcmp(id, SB_HOST_EXT_ROUTES) == 0) return &route_table;
    if (strcmp(id, SB_HOST_EXT_WEBSOCKET) == 0) return of(host)->no_websocket ? NULL : &ws_table;
    if (strcmp(id, SB_HOST_EXT_SETTINGS) == 0) return &settings_table;
    return NULL;
}

/* --- the test's side ------------------------------------------------------------------------- */

void fake_host_init(fake_host *f)
{
    memset(f, 0, sizeof *f);
    f->host = (sb_host){ .struct_size = sizeof f->host, .abi_major = SB_ABI_MAJOR, .abi_minor = SB_ABI_MINOR,
                         .name = "fake", .version = "0", .host_data = f, .get_extension = get_extension };
}

static void forget_settings(fake_host *f)
{
    sn_json_free(f->settings);
    f->settings = NULL;
    free(f->string_list);
    f->string_list = NULL;
}

sb_instance *fake_instance(fake_host *f, const char *config_json)
{
    char err[256] = "";
    sb_instance *inst = fake_instance_err(f, config_json, err, sizeof err);
    if (inst == NULL) fprintf(stderr, "fake_instance: %s\n", err);
    return inst;
}

sb_instance *fake_instance_err(fake_host *f, const char *config_json, char *err, size_t err_size)
{
    char why[256];
    sn_json_free(f->settings);
    f->settings = sn_json_parse(config_json, strlen(config_json), why, sizeof why);
    sb_instance *inst = calloc(1, sizeof *inst);
    if (inst == NULL) return NULL;
    if (sn_config_read(&f->host, &settings_table, config_json, &inst->config, err, err_size) != 0) {
        free(inst);
        forget_settings(f);
        return NULL;
    }
    const sb_host *host = &f->host;
    inst->host = host;
    inst->log = get_extension(host, SB_HOST_EXT_LOG);
    inst->timers = get_extension(host, SB_HOST_EXT_TIMERS);
    inst->publish = get_extension(host, SB_HOST_EXT_PUBLISH);
    inst->operations = get_extension(host, SB_HOST_EXT_OPERATIONS);
    inst->http = get_extension(host, SB_HOST_EXT_HTTP);
    inst->udp = get_extension(host, SB_HOST_EXT_UDP);
    inst->routes = get_extension(host, SB_HOST_EXT_ROUTES);
    inst->ws = get_extension(host, SB_HOST_EXT_WEBSOCKET);
    return inst;
}

void fake_instance_free(sb_instance *inst)
{
    fake_host *f = of(inst->host);
    sn_http_cancel_all(inst);
    sn_speakers_free(inst);
    sn_config_free(&inst->config);
    free(inst);
    for (size_t i = 0; i < f->request_count; i++) {
        free(f->requests[i].body);
        f->requests[i].body = NULL;
    }
    forget_settings(f);
}

static void listen_event(sb_instance *inst, sn_speaker *s, const char *why, void *user, const char *name)
{
    fake_host *f = of(inst->host);
    (void)user;
    char line[256];
    snprintf(line, sizeof line, "%s:%s:%s;", name, s->id[0] != '\0' ? s->id : s->uuid, why);
    append(f->events, sizeof f->events, line);
}

#define LISTENER(event, name) \
    static void listen_##event(sb_instance *inst, sn_speaker *s, const char *why, void *user) \
    { listen_event(inst, s, why, user, name); }
LISTENER(online, "online")
LISTENER(offline, "offline")
LISTENER(moved, "moved")
LISTENER(unreachable, "unreachable")
LISTENER(transport, "transport")
LISTENER(topology, "needs_topology")

void fake_listen(fake_host *f, sb_instance *inst)
{
    f->events[0] = '\0';
    sn_lifecycle_on(&inst->hub, SN_EV_ONLINE, listen_online, NULL);
    sn_lifecycle_on(&inst->hub, SN_EV_OFFLINE, listen_offline, NULL);
    sn_lifecycle_on(&inst->hub, SN_EV_MOVED, listen_moved, NULL);
    sn_lifecycle_on(&inst->hub, SN_EV_UNREACHABLE, listen_unreachable, NULL);
    sn_lifecycle_on(&inst->hub, SN_EV_TRANSPORT_CHANGED, listen_transport, NULL);
    sn_lifecycle_on(&inst->hub, SN_EV_NEEDS_TOPOLOGY, listen_topology, NULL);
}

bool fake_logged(const fake_host *f, const char *text) { return strstr(f->log, text) != NULL; }

fake_request *fake_http_find(fake_host *f, const char *method, const char *url_part)
{
    for (size_t i = 0; i < f->request_count; i++) {
        fake_request *r = &f->requests[i];
        if (!r->open) continue;
        if (method != NULL && strcmp(r->method, method) != 0) continue;
        if (url_part != NULL && strstr(r->url, url_part) == NULL) continue;
        return r;
    }
    return NULL;
}

size_t fake_http_open_count(const fake_host *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->request_count; i++) n += f->requests[i].open;
    return n;
}

static void respond(fake_request *r, const sb_http_response *response)
{
    r->open = false;
    r->done(r->user, response);
}

/* "Name: value\n" lines into a header table pointing into `copy` (so it lives for the call, as
 * the host's does). */
static size_t header_table(const char *text, char *copy, size_t copy_size, sb_http_header *table, size_t max)
{
    size_t count = 0;
    sn_copy(copy, copy_size, text != NULL ? text : "");
    char *saved = NULL;
    for (char *line = strtok_r(copy, "\n", &saved); line != NULL && count < max; line = strtok_r(NULL, "\n", &saved)) {
        char *colon = strchr(line, ':');
        if (colon == NULL) continue;
        *colon = '\0';
        const char *value = colon + 1;
        while (*value == ' ') value++;
        table[count++] = (sb_http_header){ line, value };
    }
    return count;
}

void fake_http_answer(fake_host *f, fake_request *r, int32_t http_status, const char *headers, const char *body)
{
    (void)f;
    char copy[1024];
    sb_http_header table[16];
    size_t count = header_table(headers, copy, sizeof copy, table, 16);
    sb_http_response response = {
        .struct_size = sizeof response,
        .status = SB_OK,
        .http_status = http_status,
        .headers = table,
        .header_count = count,
        .body = body,
        .body_size = body != NULL ? strlen(body) : 0,
    };
    respond(r, &response);
}

void fake_http_fail(fake_host *f, fake_request *r, const char *error)
{
    (void)f;
    sb_http_response response = { .struct_size = sizeof response, .status = SB_ERR_FAILED, .error = error };
    respond(r, &response);
}

fake_timer *fake_timer_find(fake_host *f, uint32_t delay_ms, uint32_t period_ms)
{
    for (size_t i = f->timer_count; i-- > 0;) {
        fake_timer *t = &f->timers[i];
        if (t->active && t->delay_ms == delay_ms && t->period_ms == period_ms) return t;
    }
    return NULL;
}

size_t fake_timer_active_count(const fake_host *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->timer_count; i++) n += f->timers[i].active;
    return n;
}

void fake_timer_fire(fake_host *f, fake_timer *t)
{
    (void)f;
    if (!t->active) return;
    if (t->period_ms == 0) t->active = false;
    t->fn(t->user, t->id);
}

fake_route *fake_route_find(fake_host *f, const char *path_end)
{
    size_t n = strlen(path_end);
    for (size_t i = 0; i < f->route_count; i++) {
        fake_route *r = &f->routes[i];
        size_t len = strlen(r->path);
        if (r->active && len >= n && strcmp(r->path + len - n, path_end) == 0) return r;
    }
    return NULL;
}

int32_t fake_route_call(fake_host *f, const char *path_end, const char *method, const char *headers, const char *body)
{
    return fake_route_call_from(f, path_end, NULL, method, headers, body);
}

int32_t fake_route_call_from(fake_host *f, const char *path_end, const char *from, const char *method,
                             const char *headers, const char *body)
{
    fake_route *r = fake_route_find(f, path_end);
    if (r == NULL) return 404;
    char copy[1024];
    sb_http_header table[16];
    size_t count = header_table(headers, copy, sizeof copy, table, 16);
    sb_route_request request = {
        .struct_size = sizeof request,
        .method = method,
        .path = r->path,
        .headers = table,
        .header_count = count,
        .body = body,
        .body_size = body != NULL ? strlen(body) : 0,
        .remote_address = from,
    };
    return r->fn(r->user, &request);
}

fake_socket *fake_ws_last(fake_host *f)
{
    for (size_t i = f->socket_count; i-- > 0;) {
        if (f->sockets[i].open && f->sockets[i].ws_event != NULL) return &f->sockets[i];
    }
    return NULL;
}

void fake_ws_event(fake_host *f, fake_socket *s, int32_t event, const char *data)
{
    (void)f;
    if (event == SB_WS_CLOSED) s->open = false;
    s->ws_event(s->user, s->id, event, data, strlen(data));
}

fake_socket *fake_udp_find(fake_host *f, uint16_t port)
{
    for (size_t i = 0; i < f->socket_count; i++) {
        fake_socket *s = &f->sockets[i];
        if (s->open && s->receive != NULL && s->port == port) return s;
    }
    return NULL;
}

void fake_udp_deliver(fake_host *f, fake_socket *s, const char *from, const char *datagram)
{
    (void)f;
    s->receive(s->user, from, 1900, datagram, strlen(datagram));
}

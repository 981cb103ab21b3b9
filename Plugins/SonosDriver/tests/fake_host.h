/* A host for unit tests: every service the driver uses (log, timers, publish, operations, HTTP,
 * UDP, routes, WebSocket), recording what the driver asks for and letting the test answer it.
 * Nothing leaves the process: requests wait in a table until the test answers or fails them, and
 * timers fire only when the test says so. One fake per test program (single-threaded). */
#ifndef SONOS_FAKE_HOST_H
#define SONOS_FAKE_HOST_H

#include "instance.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAKE_MAX 256

typedef struct fake_request {
    uint64_t id;
    bool open;                /* not answered, failed or cancelled yet */
    char method[16];
    char url[512];
    char headers[1024];       /* "Name: value\n" each, as sent */
    char *body;               /* NUL-terminated copy */
    uint32_t flags;
    sb_http_done_fn done;
    void *user;
} fake_request;

typedef struct fake_timer {
    uint64_t id;
    bool active;
    uint32_t delay_ms;
    uint32_t period_ms;
    sb_timer_fn fn;
    void *user;
} fake_timer;

typedef struct fake_route {
    uint64_t id;
    bool active;
    char path[256];
    sb_route_fn fn;
    void *user;
} fake_route;

typedef struct fake_socket {
    uint64_t id;
    bool open;
    char url[256];            /* WebSocket: the URL; UDP: "" */
    uint16_t port;            /* UDP */
    sb_ws_event_fn ws_event;
    sb_udp_receive_fn receive;
    void *user;
    char sent[4096];          /* the last text (WebSocket) or datagram (UDP) sent on it */
    unsigned sent_count;
} fake_socket;

typedef struct fake_host {
    sb_host host;
    uint64_t next_id;
    char log[65536];          /* every line, "\n"-separated (the oldest are kept when full) */
    fake_request requests[FAKE_MAX];
    size_t request_count;
    fake_timer timers[FAKE_MAX];
    size_t timer_count;
    fake_route routes[FAKE_MAX];
    size_t route_count;
    fake_socket sockets[FAKE_MAX];
    size_t socket_count;
    /* publish */
    char last_state_speaker[64];
    char last_state[4096];
    unsigned state_count;
    char last_availability[96]; /* "<speaker> online|offline" */
    unsigned availability_count;
    char last_event[1024];      /* "<name> <json>" */
    unsigned event_count;
    /* operations */
    uint64_t completed_op;
    sb_status completed_status;
    char completed_detail[1024];
    unsigned complete_count;
    bool no_websocket;          /* set before fake_instance: the host offers no WebSocket service */
    char events[4096];          /* hub events seen by fake_listen: "online:<id>:<why>;" … */
    struct sn_json *settings;   /* what the settings service serves (fake_instance's JSON) */
    const char **string_list;   /* the last get_string_list answer, alive until the next */
} fake_host;

void fake_host_init(fake_host *f);
/* An instance as create makes it, without discovery or module registration: the test registers
 * the modules it links (sn_*_init). `config_json` is the settings the host serves. NULL when they
 * are refused; the reason is then in `err` (may be NULL). */
sb_instance *fake_instance_err(fake_host *f, const char *config_json, char *err, size_t err_size);
sb_instance *fake_instance(fake_host *f, const char *config_json);
/* Cancels what is in flight and frees the speakers, the settings and the instance. */
void fake_instance_free(sb_instance *inst);

/* Records every hub event into f->events from now on (register it where the order matters). */
void fake_listen(fake_host *f, sb_instance *inst);

bool fake_logged(const fake_host *f, const char *text);
/* The oldest open request whose method is `method` and whose URL contains `url_part` (either may
 * be NULL for any); NULL when none. */
fake_request *fake_http_find(fake_host *f, const char *method, const char *url_part);
size_t fake_http_open_count(const fake_host *f);
/* Answers it: `headers` is "Name: value\n…" (may be NULL), `body` may be NULL. */
void fake_http_answer(fake_host *f, fake_request *r, int32_t http_status, const char *headers, const char *body);
/* It gets no answer (status SB_ERR_FAILED, `error`). */
void fake_http_fail(fake_host *f, fake_request *r, const char *error);

/* The newest active timer with this delay (0 period for one-shots), or NULL. */
fake_timer *fake_timer_find(fake_host *f, uint32_t delay_ms, uint32_t period_ms);
size_t fake_timer_active_count(const fake_host *f);
/* Runs its callback (a one-shot is inactive from then on, as a host's would be). */
void fake_timer_fire(fake_host *f, fake_timer *t);

/* Calls the route whose path ends with `path_end`; returns its status, or 404 when none. */
int32_t fake_route_call(fake_host *f, const char *path_end, const char *method, const char *headers, const char *body);
/* The same from peer address `from` (the route request's remote_address; NULL: an older host's
 * request, which does not say). */
int32_t fake_route_call_from(fake_host *f, const char *path_end, const char *from, const char *method,
                             const char *headers, const char *body);
fake_route *fake_route_find(fake_host *f, const char *path_end);

/* The newest open WebSocket (NULL when none); events are delivered to it by fake_ws_event. */
fake_socket *fake_ws_last(fake_host *f);
void fake_ws_event(fake_host *f, fake_socket *s, int32_t event, const char *data);
/* The open UDP socket on `port` (0: the ephemeral search socket), or NULL. */
fake_socket *fake_udp_find(fake_host *f, uint16_t port);
void fake_udp_deliver(fake_host *f, fake_socket *s, const char *from, const char *datagram);

#endif

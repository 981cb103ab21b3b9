/*
 * speakerbridge plugin ABI 1.0 — the one public header for speaker and TTS drivers.
 *
 * FROZEN: this is ABI 1.0 as released, kept for the compatibility suite (ABICompatibilityTests):
 * plugins built against it must keep loading and working under every later 1.x host. Never edit
 * it; the current header is PluginSDK/Sources/PluginAPI/include/speakerbridge_plugin.h.
 *
 * A plugin is a shared object that exports one function, `speakerbridge_plugin_entry`, returning
 * a pointer to a constant descriptor. Everything else is reached through tables: the plugin asks
 * the host for services by string id (`host->get_extension(host, SB_HOST_EXT_LOG)`), the host asks
 * an instance for capabilities the same way (`desc->get_extension(instance, SB_EXT_SPEAKER)`).
 * An id never changes meaning: a new version of a table gets a new id ("…/2").
 *
 * Rules that hold everywhere:
 *  - Every struct that crosses the boundary starts with `struct_size` and only ever grows at its
 *    end. Readers check `struct_size` before touching a field added after 1.0.
 *  - Status codes: SB_OK (0) or a negative SB_ERR_*; details go to a caller-supplied buffer
 *    (`err`, `err_size`), always NUL-terminated, truncated if needed.
 *  - Ownership: nothing allocated on one side is freed on the other. Strings passed into a call
 *    live for that call only; copy what you keep. The host never keeps pointers into a plugin's
 *    memory across calls (so a reloaded plugin can be unmapped).
 *  - No exceptions, Swift errors, panics or longjmps cross this boundary, and a plugin installs no
 *    signal handlers.
 *  - Threads: the host calls one instance from one serial executor — never two calls at once, and
 *    never from a signal handler. Functions marked [main-thread] are called only there (the name
 *    means "the instance's executor", which need not be the process's main thread). Functions
 *    marked [any-thread] may be called from any thread, including from inside a [main-thread]
 *    call (a plugin may `complete` an operation from within `play_clip` or `cancel`).
 *    Callbacks the host makes into a plugin (timers, completions of host services) arrive on the
 *    instance's serial executor too, so an instance needs no locks for its own state. Two
 *    instances can run at the same time, though — two plugins, or the old and the new generation
 *    of one plugin during a hot reload — so state shared by instances (a library with globals)
 *    needs a process-wide lock that both copies of the plugin file share, e.g. flock() on a file.
 *  - Structs the host hands a plugin to fill (`sb_speaker_info`) carry the host's `struct_size`:
 *    a plugin writes only the fields that fit in it.
 *  - A plugin never blocks: work that takes long (play a clip until it ends) is started, returns
 *    at once, and is finished later with the host's SB_HOST_EXT_OPERATIONS `complete`. The host
 *    enforces deadlines on calls and operations and reports a plugin that misses them.
 *
 * Compile against this header alone:  cc -shared -fPIC $(pkg-config --cflags speakerbridge-plugin) …
 */
#ifndef SPEAKERBRIDGE_PLUGIN_H
#define SPEAKERBRIDGE_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SB_ABI_MAJOR 1
#define SB_ABI_MINOR 0

/* The exported entry point's name. */
#define SB_PLUGIN_ENTRY_SYMBOL "speakerbridge_plugin_entry"

#if defined(_WIN32)
#define SB_EXPORT __declspec(dllexport)
#else
#define SB_EXPORT __attribute__((visibility("default")))
#endif

/* ---------------------------------------------------------------------------------------------
 * Status codes
 * ------------------------------------------------------------------------------------------- */
typedef int32_t sb_status;
#define SB_OK               0
#define SB_ERR_INVALID     (-1) /* bad argument or configuration */
#define SB_ERR_UNSUPPORTED (-2) /* this device or plugin cannot do that */
#define SB_ERR_FAILED      (-3) /* it was tried and did not work; see the detail text */
#define SB_ERR_TIMEOUT     (-4) /* a deadline passed */
#define SB_ERR_NOT_FOUND   (-5) /* unknown speaker, operation, timer … */
#define SB_ERR_BUSY        (-6) /* try again later */
#define SB_ERR_CANCELLED   (-7) /* the operation was cancelled (by the host or a newer request) */

/* Log levels for SB_HOST_EXT_LOG. */
#define SB_LOG_DEBUG   0
#define SB_LOG_INFO    1
#define SB_LOG_WARNING 2
#define SB_LOG_ERROR   3

typedef struct sb_host sb_host;
/* Opaque to the host: whatever the plugin allocates in `create`. */
typedef struct sb_instance sb_instance;

/* ---------------------------------------------------------------------------------------------
 * The host
 * ------------------------------------------------------------------------------------------- */
struct sb_host {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;
    /* "speakerbridge", and the host's version, e.g. "0.2.0". */
    const char *name;
    const char *version;
    /* Opaque to the plugin; the host's context for this instance. */
    void *host_data;

    /* [any-thread] Returns the host service table for `id` (SB_HOST_EXT_*), or NULL when this host
     * does not offer it. The table lives as long as the instance. */
    const void *(*get_extension)(const sb_host *host, const char *id);
};

/* ---------------------------------------------------------------------------------------------
 * The plugin
 * ------------------------------------------------------------------------------------------- */
typedef struct sb_plugin_descriptor {
    uint32_t struct_size;
    /* SB_ABI_MAJOR / SB_ABI_MINOR the plugin was built with. The host refuses a different major
     * and a minor newer than its own. */
    uint16_t abi_major;
    uint16_t abi_minor;

    /* Reverse-DNS id, unique among plugins: "org.speakerbridge.sonos". [a-z0-9._-] only. */
    const char *id;
    const char *name;
    /* The plugin's own version, e.g. "1.4.2"; shown in bridge/info. */
    const char *version;
    const char *vendor;
    const char *description;

    /* [main-thread] Creates an instance. `config_json` is the plugin's section of the daemon's
     * configuration as a JSON object ("{}" when there is none). On failure return a negative
     * status and explain in `err`; `*out_instance` is then ignored. */
    sb_status (*create)(const sb_host *host, const char *config_json, sb_instance **out_instance,
                        char *err, size_t err_size);

    /* [main-thread] Frees the instance. Every operation it started has been completed or
     * cancelled, and the host has already cancelled its timers. */
    void (*destroy)(sb_instance *instance);

    /* [main-thread] Returns the capability table for `id` (SB_EXT_*), or NULL. The table must stay
     * valid until `destroy`. */
    const void *(*get_extension)(sb_instance *instance, const char *id);
} sb_plugin_descriptor;

/* The exported entry point. Must not allocate or start anything: the host may call it just to
 * read the descriptor (`speakerbridge plugin check`). Every plugin defines it:
 *     SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void) { return &descriptor; } */
typedef const sb_plugin_descriptor *(*sb_plugin_entry_fn)(void);
SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void);

/* ---------------------------------------------------------------------------------------------
 * Host services
 * ------------------------------------------------------------------------------------------- */

/* Logging into the daemon's log, prefixed with the plugin id. */
#define SB_HOST_EXT_LOG "speakerbridge.host.log/1"
typedef struct sb_host_log {
    uint32_t struct_size;
    /* [any-thread] */
    void (*log)(const sb_host *host, int32_t level, const char *message);
} sb_host_log;

/* Timers. Callbacks arrive on the instance's serial executor. A reload or destroy cancels them. */
#define SB_HOST_EXT_TIMERS "speakerbridge.host.timers/1"
typedef void (*sb_timer_fn)(void *user, uint64_t timer_id);
typedef struct sb_host_timers {
    uint32_t struct_size;
    /* [any-thread] Fires after `delay_ms`, then every `period_ms` when `period_ms` > 0. */
    sb_status (*start)(const sb_host *host, uint32_t delay_ms, uint32_t period_ms, sb_timer_fn fn,
                       void *user, uint64_t *out_timer_id);
    /* [any-thread] No effect on an unknown or finished timer. Once `cancel` returns, the timer's
     * callback does not run again, not even one that was already due. */
    void (*cancel)(const sb_host *host, uint64_t timer_id);
} sb_host_timers;

/* Publishing on MQTT under the daemon's base topic, through its persisted outbound queue. */
#define SB_HOST_EXT_PUBLISH "speakerbridge.host.publish/1"
typedef struct sb_host_publish {
    uint32_t struct_size;
    /* [any-thread] Retained `<base>/<speaker>/state`; `state_json` is a JSON object. */
    sb_status (*speaker_state)(const sb_host *host, const char *speaker, const char *state_json);
    /* [any-thread] Retained `<base>/<speaker>/availability`: "online" or "offline". */
    sb_status (*speaker_availability)(const sb_host *host, const char *speaker, bool online);
    /* [any-thread] `<base>/bridge/event/plugin/<plugin id>/<name>`; `event_json` is a JSON object. */
    sb_status (*event)(const sb_host *host, const char *name, const char *event_json);
} sb_host_publish;

/* Completion of long operations (play a clip, synthesise speech). The host hands the plugin an
 * operation id with the request; the plugin reports the end exactly once. */
#define SB_HOST_EXT_OPERATIONS "speakerbridge.host.operations/1"
typedef struct sb_host_operations {
    uint32_t struct_size;
    /* [any-thread] `detail` is a reason text on failure, or a JSON object of results on success
     * (may be NULL). A second completion of the same id, or one after the deadline, is ignored. */
    void (*complete)(const sb_host *host, uint64_t operation_id, sb_status status, const char *detail);
} sb_host_operations;

/* Asynchronous HTTP client with timeouts (UPnP SOAP, device descriptions). */
#define SB_HOST_EXT_HTTP "speakerbridge.host.http/1"
typedef struct sb_http_header {
    const char *name;
    const char *value;
} sb_http_header;
typedef struct sb_http_request {
    uint32_t struct_size;
    const char *method; /* "GET", "POST", "SUBSCRIBE", "NOTIFY" … */
    const char *url;
    const sb_http_header *headers;
    size_t header_count;
    const void *body;
    size_t body_size;
    uint32_t timeout_ms; /* 0: the host's default */
    size_t max_response_size; /* 0: the host's default cap */
} sb_http_request;
typedef struct sb_http_response {
    uint32_t struct_size;
    sb_status status; /* SB_OK when an HTTP answer arrived (any code); else why not */
    int32_t http_status;
    const sb_http_header *headers;
    size_t header_count;
    const void *body;
    size_t body_size;
    const char *error; /* text when status != SB_OK */
} sb_http_response;
/* Called once, on the instance's executor; `response` lives for the call. */
typedef void (*sb_http_done_fn)(void *user, const sb_http_response *response);
typedef struct sb_host_http {
    uint32_t struct_size;
    /* [any-thread] Starts the request; `done` always follows exactly once (unless cancelled). */
    sb_status (*request)(const sb_host *host, const sb_http_request *request, sb_http_done_fn done,
                         void *user, uint64_t *out_request_id);
    /* [any-thread] `done` is not called for a cancelled request. */
    void (*cancel)(const sb_host *host, uint64_t request_id);
} sb_host_http;

/* UDP, including multicast on a chosen interface (SSDP discovery). IPv4 only.
 * Every socket of an instance is closed when it is destroyed (unload, hot reload). */
#define SB_HOST_EXT_UDP "speakerbridge.host.udp/1"
/* Called on the instance's executor. `from_address` is dotted IPv4 text; it and `data` live for the
 * call. A datagram is read into at most 64 KiB; at most 256 datagrams per socket wait for the
 * executor, later ones are dropped (and counted in the host's log) until the plugin catches up. */
typedef void (*sb_udp_receive_fn)(void *user, const char *from_address, uint16_t from_port,
                                  const void *data, size_t size);
typedef struct sb_host_udp {
    uint32_t struct_size;
    /* [any-thread] Opens a socket bound to `interface` ("" = the configured default) and port
     * (0 = any); joins `multicast_group` when not NULL. Datagrams arrive through `receive`.
     * `interface` is a name ("eth0") or one of its IPv4 addresses; "" is the daemon's
     * `network.interface` setting, itself by default the first up, non-loopback, multicast-capable
     * IPv4 interface. Without a group the socket binds the interface's address:port (answers to
     * an M-SEARCH sent from it come back to it); with a group it binds 0.0.0.0:port
     * (SO_REUSEADDR) and joins the group on that interface only. Outgoing multicast always leaves
     * on the interface, with TTL 2 and without looping back to the host's own sockets.
     * Binding takes a few milliseconds, during which the call blocks.
     * Errors: SB_ERR_INVALID (unknown interface, not a multicast group), SB_ERR_FAILED (cannot
     * bind or join), SB_ERR_BUSY (more than 32 sockets); the reason goes to `err`, e.g.
     * "no interface named eth7", "cannot bind 10.0.0.2:1900: address in use". */
    sb_status (*open)(const sb_host *host, const char *interface, uint16_t port,
                      const char *multicast_group, sb_udp_receive_fn receive, void *user,
                      uint64_t *out_socket_id, char *err, size_t err_size);
    /* [any-thread] Sends one datagram (at most 65507 bytes) to an IPv4 address (dotted text),
     * multicast groups included. Waits until the kernel took it. SB_OK, SB_ERR_INVALID (not an
     * IPv4 address, port 0, too big), SB_ERR_NOT_FOUND (unknown or closed socket) or
     * SB_ERR_FAILED (the kernel refused, e.g. no route). */
    sb_status (*send)(const sb_host *host, uint64_t socket_id, const char *address, uint16_t port,
                      const void *data, size_t size);
    /* [any-thread] No effect on an unknown socket. Datagrams still waiting for the executor are
     * dropped: called on the executor, no `receive` for this socket follows. */
    void (*close)(const sb_host *host, uint64_t socket_id);
} sb_host_udp;

/* HTTP callback routes on the daemon's own server (UPnP GENA NOTIFY). Offered when the daemon
 * runs its HTTP (media) server. A route answers every method at
 *     http://<host>:<port>/plugin/<plugin id>/<path>
 * (host and port as in clip URLs: `media.advertise` or the address speakers reach). Paths match
 * exactly, as raw bytes; the query is not part of the match. Unknown paths answer 404.
 * Unloading an instance removes its routes. Hot reload: a newer generation that adds the same path
 * takes it over, so callback URLs (and the speakers' GENA subscriptions) stay valid; add your
 * paths again in `load` or `create`. */
#define SB_HOST_EXT_ROUTES "speakerbridge.host.routes/1"
/* `path` is the path as added (without a leading "/"), plus "?query" when the request had one.
 * Header names are lower-case. The body is at most 256 KiB (a bigger one is answered 413 without
 * calling the plugin). */
typedef struct sb_route_request {
    uint32_t struct_size;
    const char *method;
    const char *path;
    const sb_http_header *headers;
    size_t header_count;
    const void *body;
    size_t body_size;
} sb_route_request;
/* Returns the HTTP status to answer with (200, 412 …); the answer has an empty body. A status
 * outside 200…599 is answered 500. Runs on the instance's executor; `request` lives for the call.
 * A request the executor has not answered within 5 s is answered 503 (if it had not started
 * yet, it is not called at all). */
typedef int32_t (*sb_route_fn)(void *user, const sb_route_request *request);
typedef struct sb_host_routes {
    uint32_t struct_size;
    /* [any-thread] Registers a path under the plugin's prefix and writes the absolute callback URL
     * (reachable from the speakers) into `url`. `path`: 1…200 of [A-Za-z0-9._~/-], no empty,
     * "." or ".." segments; one leading "/" is ignored. Adding a path this instance already has
     * replaces it (new id). Errors: SB_ERR_INVALID (bad path, `url` too small), SB_ERR_BUSY (a
     * newer generation of the plugin holds the path), SB_ERR_FAILED (the server is not
     * listening). */
    sb_status (*add)(const sb_host *host, const char *path, sb_route_fn fn, void *user, char *url,
                     size_t url_size, uint64_t *out_route_id);
    /* [any-thread] No effect on an unknown id, or on a route a newer generation took over. */
    void (*remove)(const sb_host *host, uint64_t route_id);
} sb_host_routes;

/* The media store: bytes in, a URL the speakers can fetch out. */
#define SB_HOST_EXT_MEDIA "speakerbridge.host.media/1"
typedef struct sb_host_media {
    uint32_t struct_size;
    /* [any-thread] Stores a clip (copied) and writes its URL into `url`. `mime` e.g. "audio/wav". */
    sb_status (*put)(const sb_host *host, const void *data, size_t size, const char *mime,
                     uint32_t ttl_seconds, char *url, size_t url_size);
} sb_host_media;

/* ---------------------------------------------------------------------------------------------
 * Plugin capabilities
 * ------------------------------------------------------------------------------------------- */

/* A speaker driver. */
#define SB_EXT_SPEAKER "speakerbridge.speaker/1"
typedef struct sb_speaker_info {
    uint32_t struct_size;
    const char *id;    /* stable: a UUID, a serial number */
    const char *name;  /* the room: "Kitchen" */
    const char *model;
    const char *group; /* group or zone name, or NULL */
} sb_speaker_info;
typedef struct sb_clip {
    uint32_t struct_size;
    const char *url;      /* served by the host's media store */
    const char *mime;     /* "audio/wav", "audio/mpeg" */
    uint32_t duration_ms; /* 0 when unknown */
    int32_t volume;       /* 0..100, or -1 to keep the speaker's volume */
} sb_clip;
typedef struct sb_plugin_speaker {
    uint32_t struct_size;
    /* [main-thread] The speakers this instance drives right now. `out->struct_size` is set by the
     * host; the strings stay valid until the next call into the instance. */
    uint32_t (*count)(sb_instance *instance);
    bool (*get)(sb_instance *instance, uint32_t index, sb_speaker_info *out);
    /* [main-thread] Starts playing `clip` on `speaker_id` and returns at once; the end (played,
     * failed, cancelled) is reported with SB_HOST_EXT_OPERATIONS `complete(operation_id, …)`.
     * A negative return means nothing started: no `complete` follows. */
    sb_status (*play_clip)(sb_instance *instance, const char *speaker_id, const sb_clip *clip,
                           uint64_t operation_id, char *err, size_t err_size);
    /* [main-thread] Stops an operation early; it still completes (with SB_ERR_CANCELLED). */
    sb_status (*cancel)(sb_instance *instance, uint64_t operation_id);
} sb_plugin_speaker;

/* A text-to-speech engine. */
#define SB_EXT_TTS "speakerbridge.tts/1"
typedef struct sb_tts_request {
    uint32_t struct_size;
    const char *text;
    const char *voice; /* NULL: the default */
    int32_t rate;      /* words per minute, 0: default */
    int32_t pitch;     /* 0..100, -1: default */
    bool ssml;
} sb_tts_request;
typedef struct sb_plugin_tts {
    uint32_t struct_size;
    /* [main-thread] Voices as a JSON array of {"id","language","name"}, written into `out`
     * (`out_size` is at least 65536). */
    sb_status (*voices)(sb_instance *instance, char *out, size_t out_size);
    /* [main-thread] Starts synthesis; completes with `{"url":…,"duration_ms":…}` (via the media
     * store) or a reason. A negative return means nothing started: no `complete` follows.
     * An engine may synthesise right here (blocking only this instance's executor, within the
     * host's call deadline) or on a thread of its own. */
    sb_status (*synthesize)(sb_instance *instance, const sb_tts_request *request,
                            uint64_t operation_id, char *err, size_t err_size);
} sb_plugin_tts;

/* State handed from one generation of a plugin to the next on hot reload. */
#define SB_EXT_STATE "speakerbridge.state/1"
/* The host's writer copies into memory and cannot fail. */
typedef void (*sb_write_fn)(void *context, const void *data, size_t size);
typedef struct sb_plugin_state {
    uint32_t struct_size;
    /* The format version of the blob this build writes and reads. */
    uint32_t blob_version;
    /* [main-thread] Writes the state through `write` (any number of calls). */
    sb_status (*save)(sb_instance *instance, sb_write_fn write, void *context);
    /* [main-thread] Called on a fresh instance before it serves anything. A blob of an unknown
     * version must be refused (negative status) or migrated. */
    sb_status (*load)(sb_instance *instance, uint32_t blob_version, const void *data, size_t size,
                      char *err, size_t err_size);
} sb_plugin_state;

/*
 * Typed commands: plain C functions the host calls with arguments it has already checked.
 *
 * A command is invoked from `<base>/bridge/request/plugin/<plugin id>/<command>` (a JSON object of
 * arguments) or from `<base>/<speaker>/set` (`{"command":"<name>", …arguments}`, with the
 * speaker's id passed as the `speaker` argument). The host checks the JSON against `signature`,
 * answers a wrong, missing or extra argument with a precise error without calling the plugin,
 * and otherwise calls `function` through libffi as
 *
 *     sb_status function(sb_instance *instance, char *reply, size_t reply_size, <arguments…>);
 *
 * in signature order. `reply` takes a JSON value for the answer's `data` (or a reason text when the
 * status is negative); leave it empty for no data. `reply_size` is at least 4096; a reply that does
 * not fit must not be sent truncated: return SB_ERR_FAILED with a short reason instead.
 *
 * Signature grammar (space-separated parameters):
 *     parameter := name ':' type [ range ] [ default ]
 *     name      := [a-z_][a-z0-9_]*
 *     type      := "bool" | "i32" | "i64" | "u32" | "f64" | "str"
 *     range     := '[' number '..' number ']'          (numeric types only, inclusive)
 *     default   := '=' literal                         (makes the parameter optional)
 *               |  '?'                                  (optional str: NULL when absent)
 * C types: bool → bool, i32 → int32_t, i64 → int64_t, u32 → uint32_t, f64 → double,
 *          str → const char * (UTF-8, valid for the call).
 * Example: "speaker:str level:i32[0..100] ramp:bool=false"
 *       →  sb_status set_volume(sb_instance *, char *, size_t, const char *speaker, int32_t level, bool ramp);
 */
#define SB_EXT_COMMANDS "speakerbridge.commands/1"
typedef struct sb_command {
    uint32_t struct_size;
    const char *name;        /* [a-z0-9_]+ */
    const char *signature;
    const char *description;
    void (*function)(void);  /* cast of the real function; called through libffi */
} sb_command;
typedef struct sb_plugin_commands {
    uint32_t struct_size;
    /* [main-thread] The commands, read once after create. */
    uint32_t (*count)(sb_instance *instance);
    const sb_command *(*get)(sb_instance *instance, uint32_t index);
} sb_plugin_commands;

#ifdef __cplusplus
}
#endif

#endif /* SPEAKERBRIDGE_PLUGIN_H */

/*
 * log-speaker: the example speakerbridge plugin.
 *
 * It drives no hardware. Every clip it is asked to play and every command it receives is appended
 * as one line to a file, which makes it useful for two things: reading it to learn the plugin ABI,
 * and testing the daemon end to end without a real speaker.
 *
 * What it shows, in the order a plugin author needs it:
 *   1. the exported entry point and the constant descriptor;
 *   2. create/destroy: reading the configuration, looking up host services, owning copies;
 *   3. the speaker capability: a long operation that returns at once and is finished later
 *      through a host timer and the host's `complete` (a plugin never blocks);
 *   4. typed commands: plain C functions the host calls with already-checked arguments;
 *   5. state handed over from one build to the next on hot reload.
 *
 * Build: see the Makefile (cc -std=c11 -shared -fPIC against speakerbridge_plugin.h alone).
 */

/* strdup, O_CLOEXEC and nanosleep are POSIX, not C11; ask for them explicitly because we compile
 * with -std=c11, which hides everything outside ISO C. */
#define _POSIX_C_SOURCE 200809L

#include <speakerbridge_plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Build-time knobs. The defaults make the normal plugin; the test suite overrides them to build
 * variants (another version, an ABI the host must refuse, a second build for hot reload). */
/* Tests load two copies side by side under different ids. */
#ifndef LOG_SPEAKER_ID
#define LOG_SPEAKER_ID "org.speakerbridge.example.log-speaker"
#endif
#ifndef LOG_SPEAKER_VERSION
#define LOG_SPEAKER_VERSION "1.0.0"
#endif
#ifndef LOG_SPEAKER_ABI_MAJOR
#define LOG_SPEAKER_ABI_MAJOR SB_ABI_MAJOR
#endif
#ifndef LOG_SPEAKER_ABI_MINOR
#define LOG_SPEAKER_ABI_MINOR SB_ABI_MINOR
#endif
/* Put into every command reply, so a test can tell which build answered after a hot reload. */
#ifndef LOG_SPEAKER_ANSWER
#define LOG_SPEAKER_ANSWER "a"
#endif

/* Limits keep a broken configuration from turning into a huge allocation or deep recursion. */
#define MAX_SPEAKERS 64
#define MAX_JSON_DEPTH 16
/* A clip with unknown duration (0) still completes, just soon. */
#define UNKNOWN_DURATION_MS 10
/* The state blob format this build writes and reads (see state_save). */
#define STATE_BLOB_VERSION 1

/* ---------------------------------------------------------------------------------------------
 * The instance
 * ------------------------------------------------------------------------------------------- */

typedef struct speaker {
    char *id;   /* "log-" + lowercased name; what the host uses to address it */
    char *name; /* as configured */
} speaker;

/* A clip that is "playing": it ends when its timer fires or when the host cancels it. */
typedef struct pending_clip {
    uint64_t operation_id;
    uint64_t timer_id;
    struct pending_clip *next;
} pending_clip;

/* The header declares `struct sb_instance` opaque; each plugin defines it as it likes. Everything
 * the plugin keeps lives here (no mutable globals), so two instances never share anything and a
 * reloaded build starts clean. */
struct sb_instance {
    const sb_host *host;
    /* Host services. Only `operations` is required; the others may be NULL. */
    const sb_host_log *log;
    const sb_host_operations *operations;
    const sb_host_publish *publish;
    const sb_host_timers *timers;

    char *log_path;
    speaker speakers[MAX_SPEAKERS];
    uint32_t speaker_count;
    pending_clip *pending;
    /* Commands handled by this instance and the builds before it (handed over as state). */
    uint64_t commands_handled;
};

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------------- */

/* The ABI's error buffers are caller-supplied and must always end up NUL-terminated; snprintf
 * does exactly that (and truncates), but only if there is room for at least the NUL. */
static void set_err(char *err, size_t err_size, const char *fmt, ...)
{
    if (err == NULL || err_size == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

static void host_log(const sb_instance *inst, int32_t level, const char *fmt, ...)
{
    if (inst->log == NULL) return; /* logging is a courtesy; a host without it is fine */
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    inst->log->log(inst->host, level, message);
}

/* A growable string. Lines for the log file and JSON for the host are built in one of these so
 * that no input, however long, is silently cut. On allocation failure it remembers `failed` and
 * ignores further appends, so callers check once at the end instead of after every append. */
typedef struct text {
    char *data;
    size_t len;
    size_t cap;
    int failed;
} text;

static void text_append(text *t, const char *s, size_t n)
{
    if (t->failed) return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 128;
        while (cap < t->len + n + 1) cap *= 2;
        char *grown = realloc(t->data, cap);
        if (grown == NULL) {
            t->failed = 1;
            return;
        }
        t->data = grown;
        t->cap = cap;
    }
    memcpy(t->data + t->len, s, n);
    t->len += n;
    t->data[t->len] = '\0';
}

static void text_puts(text *t, const char *s) { text_append(t, s, strlen(s)); }

static void text_printf(text *t, const char *fmt, ...)
{
    char small[64]; /* only used for numbers here, which always fit */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof small) {
        t->failed = 1;
        return;
    }
    text_append(t, small, (size_t)n);
}

/* Appends `s` as a JSON string literal, quotes included. Control characters must be escaped in
 * JSON; everything else (including UTF-8) passes through unchanged. */
static void text_json_string(text *t, const char *s)
{
    text_puts(t, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        switch (*p) {
        case '"': text_puts(t, "\\\""); break;
        case '\\': text_puts(t, "\\\\"); break;
        case '\n': text_puts(t, "\\n"); break;
        case '\r': text_puts(t, "\\r"); break;
        case '\t': text_puts(t, "\\t"); break;
        default:
            if (*p < 0x20) {
                text_printf(t, "\\u%04x", (unsigned)*p);
            } else {
                text_append(t, (const char *)p, 1);
            }
        }
    }
    text_puts(t, "\"");
}

/* Appends `s` as one field of a log line. A newline inside a command argument would otherwise
 * forge a second log line, so control characters are written as JSON-style escapes. */
static void text_log_field(text *t, const char *s)
{
    if (s == NULL || *s == '\0') {
        text_puts(t, "-"); /* keeps the number of fields fixed */
        return;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            text_printf(t, "\\u%04x", (unsigned)*p);
        } else {
            text_append(t, (const char *)p, 1);
        }
    }
}

/* Appends one finished line to the log file.
 *
 * The file is opened with O_APPEND for every line and the line goes out in a single write():
 * the kernel then places each write at the current end of file atomically, so lines written by
 * several instances or processes (a hot reload runs two builds side by side for a moment) never
 * interleave. Closing right away means nothing sits in a buffer if the process dies, and a log
 * file that was rotated or deleted is simply recreated. */
static sb_status append_line(const sb_instance *inst, text *line, char *err, size_t err_size)
{
    text_puts(line, "\n");
    if (line->failed) {
        set_err(err, err_size, "out of memory");
        return SB_ERR_FAILED;
    }
    int fd = open(inst->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        set_err(err, err_size, "cannot open %s: %s", inst->log_path, strerror(errno));
        return SB_ERR_FAILED;
    }
    ssize_t written = write(fd, line->data, line->len);
    int write_errno = errno;
    /* close() can report a delayed write error (NFS, full disk); a log line that may be lost is
     * a failure worth reporting. */
    int closed = close(fd);
    if (written < 0 || (size_t)written != line->len || closed != 0) {
        set_err(err, err_size, "cannot write %s: %s", inst->log_path,
                written < 0 ? strerror(write_errno) : closed != 0 ? strerror(errno) : "short write");
        return SB_ERR_FAILED;
    }
    return SB_OK;
}

static const speaker *find_speaker(const sb_instance *inst, const char *id)
{
    for (uint32_t i = 0; i < inst->speaker_count; i++) {
        if (strcmp(inst->speakers[i].id, id) == 0) return &inst->speakers[i];
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Configuration: a deliberately tiny JSON reader
 *
 * The configuration is one small object, so a hand-written reader is enough and keeps the example
 * free of dependencies. It reads strings (with all JSON escapes) and arrays of strings, skips any
 * other value, and never reads past the terminating NUL. A real plugin may prefer a JSON library.
 * ------------------------------------------------------------------------------------------- */

typedef struct config {
    char *log;              /* required */
    char *fail;             /* test hook: create fails with this text */
    char *speakers[MAX_SPEAKERS];
    uint32_t speaker_count;
    int speakers_given;     /* "speakers" present (possibly empty) */
} config;

typedef struct reader {
    const char *start;
    const char *p;
    char *err;
    size_t err_size;
} reader;

static void config_free(config *c)
{
    free(c->log);
    free(c->fail);
    for (uint32_t i = 0; i < c->speaker_count; i++) free(c->speakers[i]);
    memset(c, 0, sizeof *c);
}

static int reader_fail(reader *r, const char *what)
{
    set_err(r->err, r->err_size, "configuration: %s at offset %zu", what, (size_t)(r->p - r->start));
    return 0;
}

static void skip_ws(reader *r)
{
    while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r') r->p++;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i]; /* stops at the NUL: it is not a hex digit */
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

static void text_utf8(text *t, unsigned cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) { b[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { b[0] = (char)(0xC0 | (cp >> 6)); b[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12)); b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18)); b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); b[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    text_append(t, b, n);
}

/* Reads a JSON string at r->p. Stores a malloc'd copy in *out, or only skips it when out is NULL. */
static int read_string(reader *r, char **out)
{
    if (*r->p != '"') return reader_fail(r, "expected a string");
    r->p++;
    text t = {0};
    for (;;) {
        unsigned char c = (unsigned char)*r->p;
        if (c == '"') break;
        if (c == '\0') { free(t.data); return reader_fail(r, "unterminated string"); }
        if (c < 0x20) { free(t.data); return reader_fail(r, "control character in string"); }
        if (c != '\\') {
            text_append(&t, r->p, 1);
            r->p++;
            continue;
        }
        r->p++; /* the backslash */
        static const char escapes[] = "\"\\/bfnrt";      /* after the backslash … */
        static const char meanings[] = "\"\\/\b\f\n\r\t"; /* … and what they stand for */
        char e = *r->p;
        const char *simple = e != '\0' ? strchr(escapes, e) : NULL;
        if (simple != NULL) {
            text_append(&t, &meanings[simple - escapes], 1);
            r->p++;
        } else if (e == 'u') {
            unsigned cp;
            if (!hex4(r->p + 1, &cp)) { free(t.data); return reader_fail(r, "bad \\u escape"); }
            r->p += 5;
            if (cp >= 0xD800 && cp <= 0xDBFF) { /* a UTF-16 pair: the low half must follow */
                unsigned low;
                if (r->p[0] != '\\' || r->p[1] != 'u' || !hex4(r->p + 2, &low) || low < 0xDC00 || low > 0xDFFF) {
                    free(t.data);
                    return reader_fail(r, "unpaired surrogate in \\u escape");
                }
                r->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else if ((cp >= 0xDC00 && cp <= 0xDFFF) || cp == 0) {
                /* \u0000 would silently end the C string the host and we pass around. */
                free(t.data);
                return reader_fail(r, "unsupported \\u escape");
            }
            text_utf8(&t, cp);
        } else {
            free(t.data);
            return reader_fail(r, "bad escape in string");
        }
    }
    r->p++; /* the closing quote */
    text_puts(&t, ""); /* an empty string still needs its NUL */
    if (t.failed) { free(t.data); return reader_fail(r, "out of memory"); }
    if (out != NULL) *out = t.data;
    else free(t.data);
    return 1;
}

/* Skips any JSON value; used for keys this build does not know. */
static int skip_value(reader *r, int depth)
{
    if (depth > MAX_JSON_DEPTH) return reader_fail(r, "nested too deeply");
    skip_ws(r);
    char c = *r->p;
    if (c == '"') return read_string(r, NULL);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        r->p++;
        skip_ws(r);
        if (*r->p == close) { r->p++; return 1; }
        for (;;) {
            if (c == '{') {
                skip_ws(r);
                if (!read_string(r, NULL)) return 0;
                skip_ws(r);
                if (*r->p != ':') return reader_fail(r, "expected ':'");
                r->p++;
            }
            if (!skip_value(r, depth + 1)) return 0;
            skip_ws(r);
            if (*r->p == ',') { r->p++; continue; }
            if (*r->p == close) { r->p++; return 1; }
            return reader_fail(r, "expected ',' or the end of the object or array");
        }
    }
    static const char *const literals[] = { "true", "false", "null" };
    for (size_t i = 0; i < sizeof literals / sizeof literals[0]; i++) {
        size_t n = strlen(literals[i]);
        if (strncmp(r->p, literals[i], n) == 0) { r->p += n; return 1; }
    }
    /* A number: skipped as the run of characters numbers are made of (we never use its value). */
    const char *begin = r->p;
    while (*r->p != '\0' && strchr("+-.0123456789eE", *r->p) != NULL) r->p++;
    if (r->p == begin) return reader_fail(r, "expected a value");
    return 1;
}

static int read_speakers(reader *r, config *c)
{
    if (*r->p != '[') return reader_fail(r, "\"speakers\" must be an array of names");
    r->p++;
    skip_ws(r);
    c->speakers_given = 1;
    if (*r->p == ']') { r->p++; return 1; }
    for (;;) {
        skip_ws(r);
        if (c->speaker_count == MAX_SPEAKERS) return reader_fail(r, "more than 64 speakers");
        if (!read_string(r, &c->speakers[c->speaker_count])) return 0;
        c->speaker_count++;
        skip_ws(r);
        if (*r->p == ',') { r->p++; continue; }
        if (*r->p == ']') { r->p++; return 1; }
        return reader_fail(r, "expected ',' or ']' in \"speakers\"");
    }
}

/* Reads a string-valued key, refusing a second occurrence rather than leaking or guessing. */
static int read_string_key(reader *r, char **slot, const char *key)
{
    if (*slot != NULL) {
        set_err(r->err, r->err_size, "configuration: \"%s\" given twice", key);
        return 0;
    }
    return read_string(r, slot);
}

/* Parses `json` into `c`. Unknown keys are skipped (and reported in `unknown`), so a newer
 * configuration does not break an older build. */
static int config_parse(const char *json, config *c, char *err, size_t err_size, int *unknown)
{
    reader r = { json, json, err, err_size };
    skip_ws(&r);
    if (*r.p != '{') return reader_fail(&r, "expected a JSON object");
    r.p++;
    skip_ws(&r);
    if (*r.p == '}') {
        r.p++;
    } else {
        for (;;) {
            char *key = NULL;
            skip_ws(&r);
            if (!read_string(&r, &key)) return 0;
            skip_ws(&r);
            if (*r.p != ':') { free(key); return reader_fail(&r, "expected ':' after a key"); }
            r.p++;
            skip_ws(&r);
            int ok;
            if (strcmp(key, "log") == 0) ok = read_string_key(&r, &c->log, "log");
            else if (strcmp(key, "fail") == 0) ok = read_string_key(&r, &c->fail, "fail");
            else if (strcmp(key, "speakers") == 0) {
                if (c->speakers_given) {
                    set_err(err, err_size, "configuration: \"speakers\" given twice");
                    ok = 0;
                } else {
                    ok = read_speakers(&r, c);
                }
            } else {
                (*unknown)++;
                ok = skip_value(&r, 1);
            }
            free(key);
            if (!ok) return 0;
            skip_ws(&r);
            if (*r.p == ',') { r.p++; continue; }
            if (*r.p == '}') { r.p++; break; }
            return reader_fail(&r, "expected ',' or '}'");
        }
    }
    skip_ws(&r);
    if (*r.p != '\0') return reader_fail(&r, "unexpected text after the object");
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * create / destroy
 * ------------------------------------------------------------------------------------------- */

static void instance_free(sb_instance *inst)
{
    /* The host completes or cancels every operation and cancels our timers before destroy, so
     * this list is normally empty; freeing what is left only guards against leaks. */
    while (inst->pending != NULL) {
        pending_clip *next = inst->pending->next;
        free(inst->pending);
        inst->pending = next;
    }
    for (uint32_t i = 0; i < inst->speaker_count; i++) {
        free(inst->speakers[i].id);
        free(inst->speakers[i].name);
    }
    free(inst->log_path);
    free(inst);
}

/* Looks up a host service and checks that the table is at least as large as the 1.0 layout we
 * were compiled against; a smaller table would make us read past its end. */
static const void *host_extension(const sb_host *host, const char *id, size_t min_size)
{
    const void *table = host->get_extension(host, id);
    if (table == NULL) return NULL;
    /* Every table starts with uint32_t struct_size (a rule of the ABI). */
    if (*(const uint32_t *)table < min_size) return NULL;
    return table;
}

/* A speaker name becomes part of an MQTT topic (`<base>/<speaker id>/state`), where '/', '+' and
 * '#' have meaning; refusing them here gives a clear error instead of a confusing topic later. */
static int valid_speaker_name(const char *name)
{
    if (*name == '\0') return 0;
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '/' || *p == '+' || *p == '#') return 0;
    }
    return 1;
}

/* "log-" + the name in lower case. ASCII only and by hand: tolower() would depend on whatever
 * locale the host process has set, and a speaker id must not change with it. */
static char *speaker_id_for(const char *name)
{
    size_t n = strlen(name);
    char *id = malloc(4 + n + 1);
    if (id == NULL) return NULL;
    memcpy(id, "log-", 4);
    for (size_t i = 0; i <= n; i++) { /* includes the NUL */
        char c = name[i];
        id[4 + i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    return id;
}

static sb_status log_speaker_create(const sb_host *host, const char *config_json,
                                    sb_instance **out_instance, char *err, size_t err_size)
{
    if (host == NULL || host->get_extension == NULL || out_instance == NULL) {
        set_err(err, err_size, "invalid host table");
        return SB_ERR_INVALID;
    }

    config c = {0};
    int unknown_keys = 0;
    if (!config_parse(config_json != NULL ? config_json : "{}", &c, err, err_size, &unknown_keys)) {
        config_free(&c);
        return SB_ERR_INVALID;
    }
    /* The test suite uses "fail" to simulate a build that cannot start; it wins over everything
     * else so that {"fail":"…"} alone is a complete configuration. */
    if (c.fail != NULL) {
        set_err(err, err_size, "%s", c.fail);
        config_free(&c);
        return SB_ERR_FAILED;
    }
    if (c.log == NULL || c.log[0] == '\0') {
        set_err(err, err_size, "configuration: \"log\" (the file to append to) is required, "
                               "e.g. {\"log\": \"/var/log/speakerbridge/log-speaker.log\"}");
        config_free(&c);
        return SB_ERR_INVALID;
    }
    if (!c.speakers_given) {
        c.speakers[0] = strdup("Log");
        if (c.speakers[0] == NULL) {
            set_err(err, err_size, "out of memory");
            config_free(&c);
            return SB_ERR_FAILED;
        }
        c.speaker_count = 1;
    }

    sb_instance *inst = calloc(1, sizeof *inst);
    if (inst == NULL) {
        set_err(err, err_size, "out of memory");
        config_free(&c);
        return SB_ERR_FAILED;
    }
    inst->host = host;
    inst->log = host_extension(host, SB_HOST_EXT_LOG, sizeof(sb_host_log));
    inst->operations = host_extension(host, SB_HOST_EXT_OPERATIONS, sizeof(sb_host_operations));
    inst->publish = host_extension(host, SB_HOST_EXT_PUBLISH, sizeof(sb_host_publish));
    inst->timers = host_extension(host, SB_HOST_EXT_TIMERS, sizeof(sb_host_timers));
    /* Without `complete` there is no way to finish a clip, so this is the one service we need. */
    if (inst->operations == NULL) {
        set_err(err, err_size, "the host offers no %s", SB_HOST_EXT_OPERATIONS);
        config_free(&c);
        instance_free(inst);
        return SB_ERR_UNSUPPORTED;
    }

    /* Take ownership of the configuration strings instead of copying them once more. */
    inst->log_path = c.log;
    c.log = NULL;
    for (uint32_t i = 0; i < c.speaker_count; i++) {
        const char *name = c.speakers[i];
        sb_status status = SB_OK;
        char *id = NULL;
        if (!valid_speaker_name(name)) {
            set_err(err, err_size, "configuration: speaker name \"%s\" is empty or contains '/', "
                                   "'+', '#' or a control character", name);
            status = SB_ERR_INVALID;
        } else if ((id = speaker_id_for(name)) == NULL) {
            set_err(err, err_size, "out of memory");
            status = SB_ERR_FAILED;
        } else if (find_speaker(inst, id) != NULL) {
            /* "Kitchen" and "kitchen" would both be log-kitchen; ids must be unique. */
            set_err(err, err_size, "configuration: speaker \"%s\" gets the id %s, which another "
                                   "speaker already has", name, id);
            status = SB_ERR_INVALID;
        }
        if (status != SB_OK) {
            free(id);
            config_free(&c);
            instance_free(inst);
            return status;
        }
        inst->speakers[i].id = id;
        inst->speakers[i].name = c.speakers[i];
        c.speakers[i] = NULL;
        inst->speaker_count = i + 1;
    }
    config_free(&c);

    if (unknown_keys > 0) host_log(inst, SB_LOG_WARNING, "ignored %d unknown configuration key(s)", unknown_keys);
    if (inst->timers == NULL) host_log(inst, SB_LOG_WARNING, "host has no timers: clips end at once");
    host_log(inst, SB_LOG_INFO, "appending to %s, %" PRIu32 " speaker(s)", inst->log_path, inst->speaker_count);
    *out_instance = inst;
    return SB_OK;
}

static void log_speaker_destroy(sb_instance *inst)
{
    if (inst != NULL) instance_free(inst);
}

/* ---------------------------------------------------------------------------------------------
 * Speaker capability
 * ------------------------------------------------------------------------------------------- */

static uint32_t speaker_count(sb_instance *inst) { return inst->speaker_count; }

static bool speaker_get(sb_instance *inst, uint32_t index, sb_speaker_info *out)
{
    if (index >= inst->speaker_count || out == NULL) return false;
    /* The strings belong to the instance and live until destroy, which is longer than the ABI
     * asks ("until the next call"). struct_size was set by the host: leave it alone. */
    out->id = inst->speakers[index].id;
    out->name = inst->speakers[index].name;
    out->model = "Log speaker";
    out->group = NULL;
    return true;
}

/* The timer callback. `user` is the instance, not the clip: the clip is found again by its timer
 * id, so a callback for a clip that was cancelled in the meantime finds nothing and does nothing,
 * instead of touching freed memory. */
static void clip_finished(void *user, uint64_t timer_id)
{
    sb_instance *inst = user;
    for (pending_clip **link = &inst->pending; *link != NULL; link = &(*link)->next) {
        pending_clip *clip = *link;
        if (clip->timer_id == timer_id) {
            *link = clip->next;
            inst->operations->complete(inst->host, clip->operation_id, SB_OK, NULL);
            free(clip);
            return;
        }
    }
}

static sb_status speaker_play_clip(sb_instance *inst, const char *speaker_id, const sb_clip *clip,
                                   uint64_t operation_id, char *err, size_t err_size)
{
    /* Reading a struct from the host: make sure the fields we use are inside its struct_size. */
    if (clip == NULL || clip->struct_size < offsetof(sb_clip, volume) + sizeof clip->volume || clip->url == NULL) {
        set_err(err, err_size, "invalid clip");
        return SB_ERR_INVALID;
    }
    const speaker *spk = speaker_id != NULL ? find_speaker(inst, speaker_id) : NULL;
    if (spk == NULL) {
        set_err(err, err_size, "no speaker %s", speaker_id != NULL ? speaker_id : "(null)");
        return SB_ERR_NOT_FOUND;
    }

    /* Allocate before writing anything, so a failure leaves no half-done work behind. */
    pending_clip *pending = calloc(1, sizeof *pending);
    if (pending == NULL) {
        set_err(err, err_size, "out of memory");
        return SB_ERR_FAILED;
    }

    text line = {0};
    text_puts(&line, "play ");
    text_log_field(&line, spk->id);
    text_puts(&line, " ");
    text_log_field(&line, clip->url);
    text_puts(&line, " ");
    text_log_field(&line, clip->mime);
    text_printf(&line, " %" PRId32, clip->volume);
    sb_status status = append_line(inst, &line, err, err_size);
    free(line.data);
    if (status != SB_OK) {
        free(pending);
        return status;
    }

    if (inst->publish != NULL) {
        text state = {0};
        text_puts(&state, "{\"state\":\"playing\",\"url\":");
        text_json_string(&state, clip->url);
        text_puts(&state, "}");
        /* Publishing is best effort: the clip plays (is logged) either way. */
        if (state.failed || inst->publish->speaker_state(inst->host, spk->id, state.data) != SB_OK) {
            host_log(inst, SB_LOG_WARNING, "could not publish the state of %s", spk->id);
        }
        free(state.data);
    }

#ifdef LOG_SPEAKER_TEST_HOOKS
    /* A deliberately broken speaker, for the host's operation-deadline test: never completes. */
    if (strstr(clip->url, "never-complete") != NULL) {
        free(pending);
        return SB_OK;
    }
#endif

    /* Without timers the clip simply ends now. complete() is [any-thread], so calling it from
     * inside play_clip is allowed. */
    if (inst->timers == NULL) {
        free(pending);
        inst->operations->complete(inst->host, operation_id, SB_OK, NULL);
        return SB_OK;
    }

    /* The non-blocking pattern: start a timer for the clip's length and return at once. The
     * timer callback runs on this instance's serial executor, which we occupy right now, so it
     * cannot fire before we have stored the timer id below. */
    uint32_t delay = clip->duration_ms != 0 ? clip->duration_ms : UNKNOWN_DURATION_MS;
    pending->operation_id = operation_id;
    status = inst->timers->start(inst->host, delay, 0, clip_finished, inst, &pending->timer_id);
    if (status != SB_OK) {
        set_err(err, err_size, "cannot start a timer (status %" PRId32 ")", status);
        free(pending);
        return status < 0 ? status : SB_ERR_FAILED;
    }
    pending->next = inst->pending;
    inst->pending = pending;
    return SB_OK;
}

static sb_status speaker_cancel(sb_instance *inst, uint64_t operation_id)
{
    for (pending_clip **link = &inst->pending; *link != NULL; link = &(*link)->next) {
        pending_clip *clip = *link;
        if (clip->operation_id == operation_id) {
            *link = clip->next;
            /* Only clips with a timer are ever pending, so `timers` is not NULL here. */
            inst->timers->cancel(inst->host, clip->timer_id);
            /* A cancelled operation still completes, exactly once. */
            inst->operations->complete(inst->host, operation_id, SB_ERR_CANCELLED, "cancelled");
            free(clip);
            return SB_OK;
        }
    }
    return SB_ERR_NOT_FOUND; /* already finished, or never ours */
}

static const sb_plugin_speaker speaker_table = {
    .struct_size = sizeof(sb_plugin_speaker),
    .count = speaker_count,
    .get = speaker_get,
    .play_clip = speaker_play_clip,
    .cancel = speaker_cancel,
};

/* ---------------------------------------------------------------------------------------------
 * Typed commands
 *
 * Each command is an ordinary C function. The host has already checked the arguments against the
 * signature (types, ranges, defaults), so the functions only do their work. `reply` receives the
 * JSON for the answer's `data`, or a reason text when the status is negative.
 * ------------------------------------------------------------------------------------------- */

/* Finishes a reply written with snprintf: a truncated JSON value would be worse than an error. */
static sb_status reply_done(char *reply, size_t reply_size, int n)
{
    if (n < 0 || (size_t)n >= reply_size) {
        snprintf(reply, reply_size, "reply too long");
        return SB_ERR_FAILED;
    }
    return SB_OK;
}

/* "speaker:str level:i32[0..100] ramp:bool=false" */
static sb_status cmd_volume(sb_instance *inst, char *reply, size_t reply_size,
                            const char *speaker_id, int32_t level, bool ramp)
{
    if (find_speaker(inst, speaker_id) == NULL) {
        snprintf(reply, reply_size, "no speaker %s", speaker_id);
        return SB_ERR_NOT_FOUND;
    }
    text line = {0};
    text_puts(&line, "command volume ");
    text_log_field(&line, speaker_id);
    text_printf(&line, " %" PRId32 " %s", level, ramp ? "true" : "false");
    sb_status status = append_line(inst, &line, reply, reply_size);
    free(line.data);
    if (status != SB_OK) return status;
    inst->commands_handled++;
    return reply_done(reply, reply_size,
                      snprintf(reply, reply_size, "{\"answer\":\"%s\",\"volume\":%" PRId32 "}",
                               LOG_SPEAKER_ANSWER, level));
}

/* "text:str times:u32[1..10]=1" */
static sb_status cmd_echo(sb_instance *inst, char *reply, size_t reply_size, const char *message,
                          uint32_t times)
{
    text line = {0};
    text_puts(&line, "command echo ");
    text_log_field(&line, message);
    text_printf(&line, " %" PRIu32, times);
    sb_status status = append_line(inst, &line, reply, reply_size);
    free(line.data);
    if (status != SB_OK) return status;
    inst->commands_handled++;

    /* The text came from the outside world: escape it, never paste it into JSON as it is. */
    text escaped = {0};
    text_json_string(&escaped, message);
    if (escaped.failed) {
        free(escaped.data);
        snprintf(reply, reply_size, "out of memory");
        return SB_ERR_FAILED;
    }
    int n = snprintf(reply, reply_size, "{\"answer\":\"%s\",\"text\":%s}", LOG_SPEAKER_ANSWER, escaped.data);
    free(escaped.data);
    return reply_done(reply, reply_size, n);
}

/* "" — a query: it reports the counter and does not count itself, so asking twice (for example
 * before and after a hot reload) gives the same answer. */
static sb_status cmd_count(sb_instance *inst, char *reply, size_t reply_size)
{
    return reply_done(reply, reply_size,
                      snprintf(reply, reply_size, "{\"answer\":\"%s\",\"commands\":%" PRIu64 "}",
                               LOG_SPEAKER_ANSWER, inst->commands_handled));
}

#ifdef LOG_SPEAKER_TEST_HOOKS
/* "ms:u32" — deliberately breaks the never-block rule so the host's deadline handling can be
 * tested. Never do this in a real plugin. */
static sb_status cmd_sleep(sb_instance *inst, char *reply, size_t reply_size, uint32_t ms)
{
    struct timespec left = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
    inst->commands_handled++;
    return reply_done(reply, reply_size, snprintf(reply, reply_size, "{\"slept\":%" PRIu32 "}", ms));
}
#endif

/* The host calls these through libffi with the real prototype; `function` only stores them. */
#define COMMAND_FN(f) ((void (*)(void))(f))

static const sb_command command_table[] = {
    { sizeof(sb_command), "volume", "speaker:str level:i32[0..100] ramp:bool=false",
      "Log a volume change for a speaker", COMMAND_FN(cmd_volume) },
    { sizeof(sb_command), "echo", "text:str times:u32[1..10]=1",
      "Log a text and send it back", COMMAND_FN(cmd_echo) },
    { sizeof(sb_command), "count", "",
      "How many commands this plugin has handled, across hot reloads", COMMAND_FN(cmd_count) },
#ifdef LOG_SPEAKER_TEST_HOOKS
    { sizeof(sb_command), "sleep", "ms:u32",
      "Test hook: block the call for ms milliseconds", COMMAND_FN(cmd_sleep) },
#endif
};

static uint32_t commands_count(sb_instance *inst)
{
    (void)inst;
    return (uint32_t)(sizeof command_table / sizeof command_table[0]);
}

static const sb_command *commands_get(sb_instance *inst, uint32_t index)
{
    return index < commands_count(inst) ? &command_table[index] : NULL;
}

static const sb_plugin_commands commands_table = {
    .struct_size = sizeof(sb_plugin_commands),
    .count = commands_count,
    .get = commands_get,
};

/* ---------------------------------------------------------------------------------------------
 * State handed over on hot reload
 *
 * Blob version 1: the command counter as 8 bytes, little-endian. Written byte by byte so the
 * format does not depend on the machine's byte order; a new layout would get version 2, and
 * load would keep reading version 1 (migrate) or refuse it.
 * ------------------------------------------------------------------------------------------- */

static sb_status state_save(sb_instance *inst, sb_write_fn write_fn, void *context)
{
    unsigned char blob[8];
    for (int i = 0; i < 8; i++) blob[i] = (unsigned char)(inst->commands_handled >> (8 * i));
    write_fn(context, blob, sizeof blob);
    return SB_OK;
}

static sb_status state_load(sb_instance *inst, uint32_t blob_version, const void *data, size_t size,
                            char *err, size_t err_size)
{
    if (blob_version != STATE_BLOB_VERSION) {
        set_err(err, err_size, "state blob version %" PRIu32 " is unknown to this build (it reads "
                               "version %d)", blob_version, STATE_BLOB_VERSION);
        return SB_ERR_UNSUPPORTED;
    }
    if (size != 8 || data == NULL) {
        set_err(err, err_size, "state blob version 1 must be 8 bytes, got %zu", size);
        return SB_ERR_INVALID;
    }
    const unsigned char *blob = data;
    uint64_t counter = 0;
    for (int i = 0; i < 8; i++) counter |= (uint64_t)blob[i] << (8 * i);
    inst->commands_handled = counter;
    return SB_OK;
}

static const sb_plugin_state state_table = {
    .struct_size = sizeof(sb_plugin_state),
    .blob_version = STATE_BLOB_VERSION,
    .save = state_save,
    .load = state_load,
};

/* ---------------------------------------------------------------------------------------------
 * Descriptor and entry point
 * ------------------------------------------------------------------------------------------- */

static const void *log_speaker_get_extension(sb_instance *inst, const char *id)
{
    (void)inst; /* the tables are the same for every instance */
    if (strcmp(id, SB_EXT_SPEAKER) == 0) return &speaker_table;
    if (strcmp(id, SB_EXT_COMMANDS) == 0) return &commands_table;
    if (strcmp(id, SB_EXT_STATE) == 0) return &state_table;
    return NULL; /* e.g. SB_EXT_TTS: not a TTS engine */
}

static const sb_plugin_descriptor descriptor = {
    .struct_size = sizeof(sb_plugin_descriptor),
    .abi_major = LOG_SPEAKER_ABI_MAJOR,
    .abi_minor = LOG_SPEAKER_ABI_MINOR,
    .id = LOG_SPEAKER_ID,
    .name = "Log speaker",
    .version = LOG_SPEAKER_VERSION,
    .vendor = "speakerbridge",
    .description = "Appends every clip and command it receives to a file; an example and a test double",
    .create = log_speaker_create,
    .destroy = log_speaker_destroy,
    .get_extension = log_speaker_get_extension,
};

/* The one exported symbol (everything else is hidden by -fvisibility=hidden). It only returns a
 * constant: the host may call it just to read the descriptor, so it must not allocate or start
 * anything. The prototype right before it documents the exact type the host expects. */
SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void);
SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void) { return &descriptor; }

/* SSDP messages. Anyone on the LAN can send us a datagram, so parsing works on the bounded input
 * in place (no copies that could grow), refuses what does not fit a field instead of truncating
 * it into a different value, and only hands out a LOCATION that sn_url_parse accepts. */
#define _POSIX_C_SOURCE 200809L

#include "ssdp.h"
#include "url.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_MAX_AGE 1800

typedef struct span {
    const char *s;
    size_t len;
} span;

static int fail(char *err, size_t err_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t err_size, const char *fmt, ...)
{
    if (err != NULL && err_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static bool span_is(span a, const char *s)
{
    return a.len == strlen(s) && strncasecmp(a.s, s, a.len) == 0;
}

static bool span_starts(span a, const char *prefix)
{
    size_t n = strlen(prefix);
    return a.len >= n && strncasecmp(a.s, prefix, n) == 0;
}

static span trim(span a)
{
    while (a.len > 0 && (a.s[0] == ' ' || a.s[0] == '\t'))
        a.s++, a.len--;
    while (a.len > 0 && (a.s[a.len - 1] == ' ' || a.s[a.len - 1] == '\t'))
        a.len--;
    return a;
}

/* The next line without its CR LF or LF; false at the end of the input. */
static bool next_line(span *rest, span *line)
{
    if (rest->len == 0)
        return false;
    const char *nl = memchr(rest->s, '\n', rest->len);
    size_t len = nl != NULL ? (size_t)(nl - rest->s) : rest->len;
    line->s = rest->s;
    line->len = len > 0 && rest->s[len - 1] == '\r' ? len - 1 : len;
    size_t consumed = nl != NULL ? len + 1 : len;
    rest->s += consumed;
    rest->len -= consumed;
    return true;
}

static bool copy_span(char *dst, size_t dst_size, span value)
{
    if (value.len >= dst_size)
        return false;
    memcpy(dst, value.s, value.len);
    dst[value.len] = '\0';
    return true;
}

/* The headers we use; the first occurrence of each wins. */
typedef struct headers {
    span location, st, nt, nts, usn, household, server, cache_control;
    bool has_location, has_st, has_nt, has_nts, has_usn, has_household, has_server, has_cache_control;
} headers;

static void remember(span *slot, bool *seen, span value)
{
    if (!*seen) {
        *slot = value;
        *seen = true;
    }
}

static void collect_header(headers *h, span name, span value)
{
    if (span_is(name, "LOCATION"))
        remember(&h->location, &h->has_location, value);
    else if (span_is(name, "ST"))
        remember(&h->st, &h->has_st, value);
    else if (span_is(name, "NT"))
        remember(&h->nt, &h->has_nt, value);
    else if (span_is(name, "NTS"))
        remember(&h->nts, &h->has_nts, value);
    else if (span_is(name, "USN"))
        remember(&h->usn, &h->has_usn, value);
    else if (span_is(name, "X-RINCON-HOUSEHOLD"))
        remember(&h->household, &h->has_household, value);
    else if (span_is(name, "SERVER"))
        remember(&h->server, &h->has_server, value);
    else if (span_is(name, "CACHE-CONTROL"))
        remember(&h->cache_control, &h->has_cache_control, value);
}

static bool has_control_bytes(span line)
{
    for (size_t i = 0; i < line.len; i++) {
        unsigned char c = (unsigned char)line.s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7F)
            return true;
    }
    return false;
}

/* Lines without a colon are skipped rather than fatal: one sloppy device should not vanish from
 * discovery, and every value we keep is checked on its own. */
static int read_headers(span rest, headers *h, char *err, size_t err_size)
{
    span line;
    while (next_line(&rest, &line) && line.len > 0) {
        if (has_control_bytes(line))
            return fail(err, err_size, "control character in a header");
        const char *colon = memchr(line.s, ':', line.len);
        if (colon == NULL)
            continue;
        span name = trim((span){line.s, (size_t)(colon - line.s)});
        span value = trim((span){colon + 1, (size_t)(line.s + line.len - colon - 1)});
        collect_header(h, name, value);
    }
    return 0;
}

/* "max-age=1800" among comma-separated directives, spaces allowed around '='. Anything
 * unreadable keeps the default rather than dropping the device. */
static uint32_t max_age(span value)
{
    span rest = value;
    while (rest.len > 0) {
        const char *comma = memchr(rest.s, ',', rest.len);
        size_t len = comma != NULL ? (size_t)(comma - rest.s) : rest.len;
        span directive = trim((span){rest.s, len});
        rest.s += comma != NULL ? len + 1 : len;
        rest.len -= comma != NULL ? len + 1 : len;
        if (!span_starts(directive, "max-age"))
            continue;
        span arg = trim((span){directive.s + 7, directive.len - 7});
        if (arg.len == 0 || arg.s[0] != '=')
            continue;
        arg = trim((span){arg.s + 1, arg.len - 1});
        if (arg.len == 0)
            continue;
        unsigned long long seconds = 0;
        size_t i = 0;
        for (; i < arg.len && arg.s[i] >= '0' && arg.s[i] <= '9'; i++) {
            if (seconds < UINT32_MAX)
                seconds = seconds * 10 + (unsigned long long)(arg.s[i] - '0');
        }
        if (i == 0 || i != arg.len)
            continue;
        return seconds > UINT32_MAX ? UINT32_MAX : (uint32_t)seconds;
    }
    return DEFAULT_MAX_AGE;
}

/* "uuid:<id>[::<type>]" -> "<id>". */
static bool uuid_from_usn(span usn, char *out, size_t out_size)
{
    if (!span_starts(usn, "uuid:"))
        return false;
    span id = {usn.s + 5, usn.len - 5};
    for (size_t i = 0; i + 1 < id.len; i++) {
        if (id.s[i] == ':' && id.s[i + 1] == ':') {
            id.len = i;
            break;
        }
    }
    return id.len > 0 && copy_span(out, out_size, id);
}

static int fill_message(const headers *h, sn_ssdp_message *m, char *err, size_t err_size)
{
    span target = m->is_response ? h->st : h->nt;
    if (!(m->is_response ? h->has_st : h->has_nt) || target.len == 0)
        return fail(err, err_size, "missing %s header", m->is_response ? "ST" : "NT");
    if (!copy_span(m->target, sizeof m->target, target))
        return fail(err, err_size, "%s header too long", m->is_response ? "ST" : "NT");
    if (!h->has_usn || h->usn.len == 0)
        return fail(err, err_size, "missing USN header");
    if (!copy_span(m->usn, sizeof m->usn, h->usn))
        return fail(err, err_size, "USN header too long");
    if (!uuid_from_usn(h->usn, m->uuid, sizeof m->uuid))
        return fail(err, err_size, "USN has no uuid: \"%s\"", m->usn);
    if (h->has_household && !copy_span(m->household, sizeof m->household, h->household))
        return fail(err, err_size, "X-RINCON-HOUSEHOLD header too long");
    if (h->has_server) {
        /* Only shown to people, so a long one is shortened instead of refused. */
        size_t n = h->server.len < sizeof m->server ? h->server.len : sizeof m->server - 1;
        memcpy(m->server, h->server.s, n);
        m->server[n] = '\0';
    }
    m->max_age = h->has_cache_control ? max_age(h->cache_control) : DEFAULT_MAX_AGE;

    sn_url url;
    char location[sizeof m->location];
    bool valid_location = h->has_location && copy_span(location, sizeof location, h->location) &&
                          sn_url_parse(location, &url);
    if (valid_location)
        memcpy(m->location, location, sizeof location);
    else if (!m->byebye)
        return fail(err, err_size, h->has_location && h->location.len > 0
                                       ? "LOCATION is not a plain http:// URL"
                                       : "missing LOCATION header");
    return 0;
}

static int start_line(span line, sn_ssdp_message *m, char *err, size_t err_size)
{
    if (span_starts(line, "HTTP/1.")) {
        /* "HTTP/1.x 200[ reason]"; the reason phrase varies between devices. */
        if (line.len < 12 || line.s[8] != ' ' || memcmp(line.s + 9, "200", 3) != 0 ||
            (line.len > 12 && line.s[12] != ' '))
            return fail(err, err_size, "not a 200 answer");
        m->is_response = true;
        return 0;
    }
    if (span_is(line, "NOTIFY * HTTP/1.1") || span_is(line, "NOTIFY * HTTP/1.0"))
        return 0;
    if (span_starts(line, "M-SEARCH "))
        return fail(err, err_size, "a search request, not an answer");
    return fail(err, err_size, "not an SSDP message");
}

int sn_ssdp_parse(const void *data, size_t size, sn_ssdp_message *out, char *err, size_t err_size)
{
    if (err != NULL && err_size > 0)
        err[0] = '\0';
    if (data == NULL || out == NULL || size == 0)
        return fail(err, err_size, "empty message");
    if (size > SN_SSDP_MAX_MESSAGE)
        return fail(err, err_size, "message larger than %d bytes", SN_SSDP_MAX_MESSAGE);
    if (memchr(data, '\0', size) != NULL)
        return fail(err, err_size, "NUL byte in message");

    sn_ssdp_message m = {0};
    span rest = {data, size}, line;
    next_line(&rest, &line);
    if (start_line(line, &m, err, err_size) != 0)
        return -1;
    headers h = {0};
    if (read_headers(rest, &h, err, err_size) != 0)
        return -1;
    if (!m.is_response) {
        if (!h.has_nts)
            return fail(err, err_size, "NOTIFY without NTS header");
        if (span_is(h.nts, "ssdp:byebye"))
            m.byebye = true;
        else if (!span_is(h.nts, "ssdp:alive") && !span_is(h.nts, "ssdp:update"))
            return fail(err, err_size, "unknown NTS value");
    }
    if (fill_message(&h, &m, err, err_size) != 0)
        return -1;
    *out = m;
    return 0;
}

size_t sn_ssdp_msearch(char *out, size_t out_size, const char *target, int mx)
{
    if (out == NULL || out_size == 0 || target == NULL || target[0] == '\0')
        return 0;
    /* A target is one header value: CR/LF in it would smuggle in more headers. */
    for (const char *c = target; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7F)
            return 0;
    }
    /* UDA 1.1 §1.3.2: MX is 1 to 5; devices may ignore or clamp anything else. */
    if (mx < 1)
        mx = 1;
    if (mx > 5)
        mx = 5;
    int n = snprintf(out, out_size,
                     "M-SEARCH * HTTP/1.1\r\n"
                     "HOST: " SN_SSDP_GROUP ":%d\r\n"
                     "MAN: \"ssdp:discover\"\r\n"
                     "MX: %d\r\n"
                     "ST: %s\r\n"
                     "USER-AGENT: Linux UPnP/1.1 speakerbridge/1\r\n"
                     "\r\n",
                     SN_SSDP_PORT, mx, target);
    if (n < 0 || (size_t)n >= out_size) {
        out[0] = '\0';
        return 0;
    }
    return (size_t)n;
}

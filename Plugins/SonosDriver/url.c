/* http:// URLs. Every URL we parse came from the network (SSDP LOCATION, description XML) and
 * ends up in an HTTP request line, so anything that could break that line — white space, CR/LF,
 * control or non-ASCII bytes — makes the URL invalid rather than being passed along. */
#define _POSIX_C_SOURCE 200809L

#include "url.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_url_byte(unsigned char c)
{
    return c > 0x20 && c < 0x7F;
}

static bool is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

static bool parse_port(const char *s, size_t len, uint16_t *port)
{
    if (len == 0 || len > 5)
        return false;
    unsigned long value = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        value = value * 10 + (unsigned long)(s[i] - '0');
    }
    if (value < 1 || value > 65535)
        return false;
    *port = (uint16_t)value;
    return true;
}

/* host[:port]; no user info (it would hide the real host from a casual reader of logs) and no
 * IPv6 literals, which the header rules out. */
static bool parse_authority(const char *s, size_t len, sn_url *out)
{
    const char *colon = memchr(s, ':', len);
    size_t host_len = colon != NULL ? (size_t)(colon - s) : len;
    if (host_len == 0 || host_len >= sizeof out->host)
        return false;
    for (size_t i = 0; i < host_len; i++) {
        if (!is_host_char(s[i]))
            return false;
    }
    memcpy(out->host, s, host_len);
    out->host[host_len] = '\0';
    out->port = 80;
    if (colon != NULL)
        return parse_port(colon + 1, len - host_len - 1, &out->port);
    return true;
}

bool sn_url_parse(const char *url, sn_url *out)
{
    static const char scheme[] = "http://";
    if (url == NULL || out == NULL || strncasecmp(url, scheme, sizeof scheme - 1) != 0)
        return false;
    for (const char *c = url; *c; c++) {
        if (!is_url_byte((unsigned char)*c))
            return false;
    }
    sn_url parsed;
    const char *authority = url + sizeof scheme - 1;
    size_t authority_len = strcspn(authority, "/?#");
    if (!parse_authority(authority, authority_len, &parsed))
        return false;
    const char *rest = authority + authority_len;
    size_t rest_len = strcspn(rest, "#"); /* a fragment never goes to the server */
    const char *lead = rest[0] == '/' ? "" : "/";
    if (strlen(lead) + rest_len >= sizeof parsed.path)
        return false;
    snprintf(parsed.path, sizeof parsed.path, "%s%.*s", lead, (int)rest_len, rest);
    *out = parsed;
    return true;
}

/* ---- resolution ----------------------------------------------------------------------------- */

/* RFC 3986 §5.2.4 on a path whose query is already split off: "." and ".." segments go, and ".."
 * never climbs above the root. Segment-wise rather than the RFC's string-rewriting loop because
 * that is easier to check. Appends the result to `out`. */
static void append_normalized_path(sn_text *out, const char *path)
{
    size_t start = out->len;
    bool trailing_slash = false;
    const char *segment = path[0] == '/' ? path + 1 : path;
    for (;;) {
        size_t len = strcspn(segment, "/");
        if (len == 1 && segment[0] == '.') {
            trailing_slash = true;
        } else if (len == 2 && segment[0] == '.' && segment[1] == '.') {
            while (out->len > start && out->data[--out->len] != '/') {
            }
            if (out->data != NULL)
                out->data[out->len] = '\0';
            trailing_slash = true;
        } else {
            sn_text_append(out, "/", 1);
            sn_text_append(out, segment, len);
            trailing_slash = false;
        }
        if (segment[len] == '\0')
            break;
        segment += len + 1;
    }
    if (out->len == start || trailing_slash)
        sn_text_append(out, "/", 1);
}

static bool has_scheme(const char *ref)
{
    size_t i = 0;
    if (!((ref[0] >= 'a' && ref[0] <= 'z') || (ref[0] >= 'A' && ref[0] <= 'Z')))
        return false;
    while (ref[i] != '\0' && ref[i] != ':' && ref[i] != '/' && ref[i] != '?' && ref[i] != '#') {
        char c = ref[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
              c == '-' || c == '.'))
            return false;
        i++;
    }
    return ref[i] == ':';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* `origin` + normalized (`dir` + `ref`), with any query kept as it is. */
static char *join(const char *origin, const char *dir, size_t dir_len, const char *ref, size_t ref_len)
{
    sn_text joined = {0}, result = {0};
    sn_text_append(&joined, dir, dir_len);
    sn_text_append(&joined, ref, ref_len);
    if (!joined.failed) {
        size_t path_len = strcspn(joined.data, "?");
        char *query = joined.data + path_len;
        char *path = sn_strndup(joined.data, path_len);
        sn_text_puts(&result, origin);
        if (path != NULL)
            append_normalized_path(&result, path);
        else
            result.failed = true;
        sn_text_puts(&result, query);
        free(path);
    }
    bool failed = joined.failed || result.failed;
    sn_text_free(&joined);
    if (failed) {
        sn_text_free(&result);
        return NULL;
    }
    return result.data;
}

char *sn_url_resolve(const char *base, const char *ref)
{
    sn_url b;
    if (!sn_url_parse(base, &b) || ref == NULL)
        return NULL;
    /* Descriptions are often pretty-printed: "<controlURL>\n  /x\n</controlURL>". */
    while (is_space(*ref))
        ref++;
    size_t ref_len = strlen(ref);
    while (ref_len > 0 && is_space(ref[ref_len - 1]))
        ref_len--;
    size_t fragment = strcspn(ref, "#");
    if (fragment < ref_len)
        ref_len = fragment;

    if (has_scheme(ref))
        return sn_strndup(ref, ref_len);
    char origin[300];
    if (ref_len >= 2 && ref[0] == '/' && ref[1] == '/') {
        snprintf(origin, sizeof origin, "http:");
        return join(origin, "", 0, ref, ref_len);
    }
    if (b.port == 80)
        snprintf(origin, sizeof origin, "http://%s", b.host);
    else
        snprintf(origin, sizeof origin, "http://%s:%u", b.host, (unsigned)b.port);

    size_t base_path_len = strcspn(b.path, "?");
    if (ref_len == 0)
        return join(origin, b.path, strlen(b.path), "", 0);
    if (ref[0] == '?')
        return join(origin, b.path, base_path_len, ref, ref_len);
    if (ref[0] == '/')
        return join(origin, "", 0, ref, ref_len);
    const char *last_slash = b.path;
    for (size_t i = 0; i < base_path_len; i++) {
        if (b.path[i] == '/')
            last_slash = b.path + i;
    }
    return join(origin, b.path, (size_t)(last_slash - b.path) + 1, ref, ref_len);
}

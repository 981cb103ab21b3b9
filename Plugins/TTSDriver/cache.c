/*
 * Disk cache for the espeak-ng plugin: one file per clip, named by the SHA-256 of everything that
 * determines the audio (text, voice, rate, pitch, ssml, espeak-ng version …).
 *
 *  - SHA-256 rather than a 64-bit hash: texts come from MQTT, and with a weak hash someone could
 *    craft a text whose key collides with another text's and have the wrong clip played.
 *  - Writes go to a temporary file in the same directory and are renamed into place, so a reader
 *    (this process, a second plugin copy during a hot reload, another daemon) never sees half a
 *    file. A file damaged anyway (crash before the data hit the disk) is caught by the caller,
 *    which checks the WAV header against the size and removes the entry.
 *  - "Least recently used" is the mtime: a hit touches the file (utimensat), eviction removes
 *    the oldest files first until the total is within `cache_max_bytes`.
 */
#define _POSIX_C_SOURCE 200809L

#include "cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A cached file larger than this is not read back (it could not be a clip we wrote). */
#define CACHE_MAX_FILE (512u * 1024u * 1024u)
/* Temporary files left behind by a crash are removed by the next eviction scan after this. */
#define STALE_TEMP_SECONDS 3600

struct tts_cache {
    char *dir;
    uint64_t max_bytes;
    unsigned temp_counter;
};

static void cache_err(char *err, size_t err_size, const char *fmt, ...)
{
    if (err == NULL || err_size == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------------------------------------
 * SHA-256 (FIPS 180-4), compact
 * ------------------------------------------------------------------------------------------- */

typedef struct sha256 {
    uint32_t h[8];
    uint64_t length; /* bytes hashed so far */
    unsigned char block[64];
    size_t used;
} sha256;

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(sha256 *s, const unsigned char *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++) {
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    }
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
    uint32_t e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g; g = f; f = e; e = d + t1;
        d = c; c = b; b = a; a = t1 + t2;
    }
    s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d;
    s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}

static void sha256_init(sha256 *s)
{
    static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    memcpy(s->h, iv, sizeof iv);
    s->length = 0;
    s->used = 0;
}

static void sha256_update(sha256 *s, const void *data, size_t n)
{
    const unsigned char *p = data;
    s->length += n;
    while (n > 0) {
        size_t take = 64 - s->used < n ? 64 - s->used : n;
        memcpy(s->block + s->used, p, take);
        s->used += take;
        p += take;
        n -= take;
        if (s->used == 64) {
            sha256_block(s, s->block);
            s->used = 0;
        }
    }
}

static void sha256_final(sha256 *s, unsigned char out[32])
{
    uint64_t bits = s->length * 8;
    unsigned char pad = 0x80, zero = 0, len[8];
    sha256_update(s, &pad, 1);
    while (s->used != 56) sha256_update(s, &zero, 1);
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha256_update(s, len, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(s->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)s->h[i];
    }
}

void cache_key(const char *const *fields, size_t count, char out[CACHE_KEY_HEX + 1])
{
    sha256 s;
    sha256_init(&s);
    for (size_t i = 0; i < count; i++) {
        uint64_t n = strlen(fields[i]);
        unsigned char len[8];
        for (int b = 0; b < 8; b++) len[b] = (unsigned char)(n >> (8 * b));
        sha256_update(&s, len, sizeof len);
        sha256_update(&s, fields[i], (size_t)n);
    }
    unsigned char digest[32];
    sha256_final(&s, digest);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[CACHE_KEY_HEX] = '\0';
}

/* ---------------------------------------------------------------------------------------------
 * The cache directory
 * ------------------------------------------------------------------------------------------- */

/* "<dir>/<key>.wav", or a temporary name; NULL when out of memory. */
static char *entry_path(const tts_cache *c, const char *name, const char *suffix)
{
    size_t n = strlen(c->dir) + 1 + strlen(name) + strlen(suffix) + 1;
    char *path = malloc(n);
    if (path != NULL) snprintf(path, n, "%s/%s%s", c->dir, name, suffix);
    return path;
}

int cache_open(tts_cache **out, const char *dir, uint64_t max_bytes, char *err, size_t err_size)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        cache_err(err, err_size, "cache_dir %s: cannot create: %s", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        cache_err(err, err_size, "cache_dir %s is not a directory", dir);
        return -1;
    }
    if (access(dir, R_OK | W_OK | X_OK) != 0) {
        cache_err(err, err_size, "cache_dir %s is not writable: %s", dir, strerror(errno));
        return -1;
    }
    tts_cache *c = calloc(1, sizeof *c);
    if (c == NULL || (c->dir = strdup(dir)) == NULL) {
        free(c);
        cache_err(err, err_size, "out of memory");
        return -1;
    }
    /* "/var/cache/x/" and "/var/cache/x" name the same files. */
    size_t n = strlen(c->dir);
    while (n > 1 && c->dir[n - 1] == '/') c->dir[--n] = '\0';
    c->max_bytes = max_bytes;
    *out = c;
    return 0;
}

void cache_close(tts_cache *cache)
{
    if (cache == NULL) return;
    free(cache->dir);
    free(cache);
}

int cache_get(tts_cache *c, const char *key, unsigned char **data, size_t *size)
{
    char *path = entry_path(c, key, ".wav");
    if (path == NULL) return 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        free(path);
        return 0;
    }
    struct stat st;
    unsigned char *buf = NULL;
    size_t got = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size <= CACHE_MAX_FILE) {
        size_t want = (size_t)st.st_size;
        buf = malloc(want);
        while (buf != NULL && got < want) {
            ssize_t r = read(fd, buf + got, want - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            got += (size_t)r;
        }
        if (buf != NULL && got != want) {
            free(buf);
            buf = NULL;
        }
    }
    close(fd);
    if (buf == NULL) {
        free(path);
        return 0;
    }
    /* Recently used: eviction goes by mtime. Failure only makes the entry look older. */
    (void)utimensat(AT_FDCWD, path, NULL, 0);
    free(path);
    *data = buf;
    *size = got;
    return 1;
}

void cache_remove(tts_cache *c, const char *key)
{
    char *path = entry_path(c, key, ".wav");
    if (path != NULL) unlink(path);
    free(path);
}

/* An entry is "<64 hex>.wav"; a temporary file is ".tmp-<64 hex>-…". Anything else in the
 * directory is not ours and is left alone (and not counted). */
static int is_entry_name(const char *name)
{
    for (int i = 0; i < CACHE_KEY_HEX; i++) {
        char ch = name[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return 0;
    }
    return strcmp(name + CACHE_KEY_HEX, ".wav") == 0;
}

typedef struct entry {
    char name[CACHE_KEY_HEX + 5];
    uint64_t size;
    struct timespec mtime;
} entry;

static int older_first(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec) return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec) return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Scans the directory: returns the bytes used; with `evict`, first removes the oldest entries
 * until the total fits and temporary files a crash left behind. */
static uint64_t scan(tts_cache *c, int evict)
{
    DIR *d = opendir(c->dir);
    if (d == NULL) return 0;
    int dfd = dirfd(d);
    entry *list = NULL;
    size_t count = 0, cap = 0;
    uint64_t total = 0;
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        if (evict && strncmp(de->d_name, ".tmp-", 5) == 0) {
            if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
                now - st.st_mtime > STALE_TEMP_SECONDS) {
                unlinkat(dfd, de->d_name, 0);
            }
            continue;
        }
        if (!is_entry_name(de->d_name)) continue;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
        total += (uint64_t)st.st_size;
        if (!evict) continue;
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            entry *grown = realloc(list, ncap * sizeof *grown);
            if (grown == NULL) break; /* evict what we have seen; the next put continues */
            list = grown;
            cap = ncap;
        }
        memcpy(list[count].name, de->d_name, sizeof list[count].name);
        list[count].size = (uint64_t)st.st_size;
        list[count].mtime = st.st_mtim;
        count++;
    }
    if (evict && total > c->max_bytes && count > 0) {
        qsort(list, count, sizeof *list, older_first);
        for (size_t i = 0; i < count && total > c->max_bytes; i++) {
            /* ENOENT: another writer (a second plugin copy) evicted it first; it is gone either way. */
            if (unlinkat(dfd, list[i].name, 0) == 0 || errno == ENOENT) total -= list[i].size;
        }
    }
    free(list);
    closedir(d);
    return total;
}

uint64_t cache_bytes(tts_cache *c) { return scan(c, 0); }

int cache_put(tts_cache *c, const char *key, const void *data, size_t size, char *err, size_t err_size)
{
    /* A clip larger than the whole cache would first evict every other entry and then itself. */
    if ((uint64_t)size > c->max_bytes) return 0;
    char suffix[64];
    snprintf(suffix, sizeof suffix, "-%ld-%u", (long)getpid(), c->temp_counter++);
    char *name = malloc(5 + CACHE_KEY_HEX + 1);
    char *temp = NULL, *path = NULL;
    int result = -1;
    if (name == NULL) goto oom;
    snprintf(name, 5 + CACHE_KEY_HEX + 1, ".tmp-%s", key);
    temp = entry_path(c, name, suffix);
    path = entry_path(c, key, ".wav");
    if (temp == NULL || path == NULL) goto oom;

    int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        cache_err(err, err_size, "cannot create %s: %s", temp, strerror(errno));
        goto out;
    }
    const unsigned char *p = data;
    size_t left = size;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        p += w;
        left -= (size_t)w;
    }
    int write_errno = errno;
    if (close(fd) != 0 && left == 0) {
        left = 1; /* a delayed write error (NFS, full disk) */
        write_errno = errno;
    }
    if (left != 0) {
        cache_err(err, err_size, "cannot write %s: %s", temp, strerror(write_errno));
        unlink(temp);
        goto out;
    }
    if (rename(temp, path) != 0) {
        cache_err(err, err_size, "cannot rename %s: %s", temp, strerror(errno));
        unlink(temp);
        goto out;
    }
    result = 0;
    (void)scan(c, 1);
    goto out;
oom:
    cache_err(err, err_size, "out of memory");
out:
    free(name);
    free(temp);
    free(path);
    return result;
}

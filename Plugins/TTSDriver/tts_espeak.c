/*
 * tts-espeak: a speakerbridge TTS plugin on libespeak-ng.
 *
 * `synthesize` turns text into a 16-bit mono PCM WAV with the espeak-ng C library (no shell-out),
 * hands it to the host's media store and completes the operation with
 * {"url","duration_ms","cached","bytes"}. An optional disk cache (cache.c) skips synthesis for a
 * text heard before. Commands: `voices`, `stats`.
 *
 * Synthesis runs inside the `synthesize` call, on this instance's executor. Speech takes well under
 * a second for a normal announcement; a very long text blocks this instance until it is done (the
 * host's call timeout applies). See README.md.
 *
 * Files: tts_espeak.c (this: configuration, espeak-ng, WAV, the ABI tables), cache.c (disk cache),
 * ssml.c (the SSML allow-list checked before espeak-ng sees markup).
 */
/* dladdr (lock_open) is a GNU extension; the rest is POSIX 2008. */
#define _GNU_SOURCE

#include <speakerbridge_plugin.h>
#include <speakerbridge/helpers/commands.h>
#include <speakerbridge/helpers/host.h>
#include <speakerbridge/helpers/settings.h>
#include <speakerbridge/helpers/text.h>

#include "cache.h"
#include "ssml.h"

#include <espeak-ng/espeak_ng.h>
#include <espeak-ng/speak_lib.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef TTS_ESPEAK_ID
#define TTS_ESPEAK_ID "org.speakerbridge.tts.espeak-ng"
#endif
#ifndef TTS_ESPEAK_VERSION
#define TTS_ESPEAK_VERSION "1.0.0"
#endif

#define DEFAULT_VOICE "en"
#define DEFAULT_MAX_TEXT 10000u                       /* characters (code points) */
#define DEFAULT_CLIP_TTL 600u                         /* seconds */
#define DEFAULT_CACHE_MAX (64ull * 1024 * 1024)       /* bytes */
#define DEFAULT_PITCH 50                              /* espeak-ng's own default */
#define MAX_VOICE_NAME 63
/* A clip larger than this is refused (10 000 characters at 80 wpm are about 60 MB, 22 minutes). */
#define MAX_CLIP_BYTES (256u * 1024u * 1024u)
#define WAV_HEADER 44
/* Part of the cache key: bump when the bytes written for the same input change. */
#define CACHE_FORMAT "tts-espeak-wav-2"
/* libespeak-ng's soname (ABI 1), pinned in memory by engine_init. */
#define ESPEAK_SONAME "libespeak-ng.so.1"

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------------- */

/* Counts the code points of `s` if it is valid UTF-8 (no overlong forms, surrogates or values
 * above U+10FFFF); returns -1 and the byte offset of the first bad byte otherwise. */
static long long utf8_length(const char *s, size_t *bad_offset)
{
    const unsigned char *p = (const unsigned char *)s;
    long long count = 0;
    size_t i = 0;
    while (p[i] != '\0') {
        unsigned c = p[i];
        size_t n;
        unsigned cp, min;
        if (c < 0x80) { i++; count++; continue; }
        if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; min = 0x80; }
        else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; min = 0x800; }
        else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; min = 0x10000; }
        else { *bad_offset = i; return -1; }
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xC0) != 0x80) { *bad_offset = i; return -1; } /* stops at the NUL too */
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) { *bad_offset = i; return -1; }
        i += n + 1;
        count++;
    }
    return count;
}

/* ---------------------------------------------------------------------------------------------
 * The instance
 * ------------------------------------------------------------------------------------------- */

struct sb_instance {
    const sb_host *host;
    const sb_host_log *log;
    const sb_host_operations *operations;
    const sb_host_media *media;

    const char *voice;         /* the default voice: the host's setting string, or DEFAULT_VOICE */
    uint32_t max_text_length;  /* characters */
    uint32_t clip_ttl;         /* seconds */
    tts_cache *cache;          /* NULL: no disk cache */
    uint64_t cache_max_bytes;

    int lock_fd;               /* the process-wide espeak-ng lock, see engine_lock() */
    int sample_rate;           /* from the library: 22050 */
    char *espeak_version;      /* espeak_Info(), part of the cache key */
    char *voices_json;         /* the voice list, read once at create */

    uint64_t syntheses;
    uint64_t cache_hits;
};

/* Logging through the host, when it offers it. */
#define host_log(inst, ...) sbh_log((inst)->host, (inst)->log, __VA_ARGS__)

/* ---------------------------------------------------------------------------------------------
 * The espeak-ng lock
 *
 * libespeak-ng keeps all its state in globals (current voice, parameters, the synth callback,
 * the output buffer), so only one synthesis may run at a time in the whole process. A
 * `static pthread_mutex_t` here is not enough: on hot reload the daemon loads a second copy of
 * this .so from another path, so there are two copies of every static of ours, while
 * libespeak-ng.so (same soname) is loaded once and shared by both. Two instances from the two
 * copies would each hold "their" mutex and call into the same espeak-ng state at once.
 *
 * What both copies share is the kernel: each instance opens the same lock file
 * (libespeak-ng's shared object itself, see lock_open) and takes flock(LOCK_EX) around
 * initialisation, the voice list and every synthesis. flock locks belong to the open file
 * description, so two separate open()s conflict even inside one process — exactly the exclusion
 * needed between instances, whichever copy they come from. The kernel releases the lock if the
 * process dies.
 * ------------------------------------------------------------------------------------------- */

static int lock_open(char *err, size_t err_size)
{
    /* The lock file is libespeak-ng's own shared object, opened read-only: every copy of this
     * plugin in the process finds the same file (the library is loaded once), no other user can
     * plant or replace it (it belongs to root), and flock needs no write access. */
    /* ISO C has no cast from a function pointer to void *; a union says the same thing. */
    union { espeak_ng_STATUS (*fn)(const void *, size_t, unsigned int, espeak_POSITION_TYPE, unsigned int,
                                   unsigned int, unsigned int *, void *);
            void *address; } symbol = { .fn = espeak_ng_Synthesize };
    Dl_info info;
    if (dladdr(symbol.address, &info) == 0 || info.dli_fname == NULL) {
        sbh_error(err, err_size, "cannot find libespeak-ng's file to lock on");
        return -1;
    }
    int fd = open(info.dli_fname, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        sbh_error(err, err_size, "cannot open %s for locking: %s", info.dli_fname, strerror(errno));
        return -1;
    }
    return fd;
}

static void engine_lock(const sb_instance *inst)
{
    while (flock(inst->lock_fd, LOCK_EX) != 0 && errno == EINTR) {
    }
}

static void engine_unlock(const sb_instance *inst) { flock(inst->lock_fd, LOCK_UN); }

/* espeak-ng's answer to `<audio src=…>` (type 1, the only type in 1.51): 1 = do not play it.
 * Without a callback, libespeak-ng 1.51 loads the file itself and converts a non-WAV one with
 * system("sox \"<src>\" …"): a shell command built from the text, and a crash on some files.
 * ssml_check already refuses <audio>; this is the second lock on the same door, and it refuses
 * every URI, whatever espeak-ng asks about. */
static int refuse_every_uri(int type, const char *uri, const char *base)
{
    (void)type;
    (void)uri;
    (void)base;
    return 1;
}

static void espeak_message(espeak_ng_STATUS status, char *out, size_t out_size)
{
    espeak_ng_GetStatusCodeMessage(status, out, out_size);
}

/* Under the lock. Makes sure libespeak-ng is initialised, once per process.
 *
 * Initialise only once: every espeak_ng_Initialize starts another internal thread in
 * libespeak-ng 1.51 (even for synchronous output) that is only joined by espeak_ng_Terminate, so
 * initialising per instance would leak a thread per create and per hot reload. Terminate is never
 * called: it would pull the state from under an instance of the other plugin copy.
 *
 * "Initialised" is asked of the library itself (its sample rate is 0 until espeak_ng_Initialize
 * ran), not remembered in a static of ours: our statics are per plugin copy, the library's are per
 * process. The library is also pinned (RTLD_NODELETE), so dlclosing the last plugin copy does not
 * unmap it under its parked thread, and a later copy finds it still initialised instead of
 * starting yet another thread. */
static int engine_init(sb_instance *inst, char *err, size_t err_size)
{
    void *self = dlopen(ESPEAK_SONAME, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    if (self != NULL) {
        dlclose(self); /* the NODELETE promotion stays */
    } else {
        host_log(inst, SB_LOG_DEBUG, "could not pin %s; fine unless the plugin is unloaded and "
                                     "loaded again many times", ESPEAK_SONAME);
    }
    if (espeak_ng_GetSampleRate() <= 0) {
        espeak_ng_ERROR_CONTEXT context = NULL;
        espeak_ng_InitializePath(NULL); /* the installed espeak-ng-data */
        espeak_ng_STATUS status = espeak_ng_Initialize(&context);
        if (status == ENS_OK) status = espeak_ng_InitializeOutput(ENOUTPUT_MODE_SYNCHRONOUS, 0, NULL);
        if (context != NULL) espeak_ng_ClearErrorContext(&context);
        if (status != ENS_OK) {
            char message[256];
            espeak_message(status, message, sizeof message);
            sbh_error(err, err_size, "cannot initialise espeak-ng: %s", message);
            return 0;
        }
    }
    espeak_SetUriCallback(refuse_every_uri);
    inst->sample_rate = espeak_ng_GetSampleRate();
    if (inst->sample_rate <= 0) {
        sbh_error(err, err_size, "espeak-ng reports sample rate %d", inst->sample_rate);
        return 0;
    }
    const char *data_path = NULL;
    const char *version = espeak_Info(&data_path);
    inst->espeak_version = strdup(version != NULL ? version : "unknown");
    if (inst->espeak_version == NULL) {
        sbh_error(err, err_size, "out of memory");
        return 0;
    }
    return 1;
}

/* Under the lock. The voice list as a JSON array of {"id","language","name"}. `languages` is a
 * list of (priority byte, NUL-terminated name) pairs ending with a 0 byte; we report the first. */
static char *engine_voices_json(void)
{
    const espeak_VOICE **voices = espeak_ListVoices(NULL);
    sbh_text b = {0};
    sbh_text_puts(&b, "[");
    for (size_t i = 0; voices != NULL && voices[i] != NULL; i++) {
        const espeak_VOICE *v = voices[i];
        const char *language = v->languages != NULL && v->languages[0] != '\0' ? v->languages + 1 : "";
        if (i > 0) sbh_text_puts(&b, ",");
        sbh_text_puts(&b, "{\"id\":");
        sbh_text_json_string(&b, v->identifier != NULL ? v->identifier : "");
        sbh_text_puts(&b, ",\"language\":");
        sbh_text_json_string(&b, language);
        sbh_text_puts(&b, ",\"name\":");
        sbh_text_json_string(&b, v->name != NULL ? v->name : "");
        sbh_text_puts(&b, "}");
    }
    sbh_text_puts(&b, "]");
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    return b.data;
}

/* Where the synth callback puts the samples: a WAV being built (header space reserved). */
typedef struct sink {
    sbh_text wav;
    int too_long;
} sink;

/* Called by espeak-ng during espeak_ng_Synthesize, on the synthesising thread, with the lock held.
 * The sink comes back through the events' user_data (the pointer we pass to Synthesize), so the
 * callback needs no global of its own. Returning 1 aborts the synthesis. */
static int synth_callback(short *samples, int count, espeak_EVENT *events)
{
    sink *s = events != NULL ? events[0].user_data : NULL;
    if (s == NULL) return 1;
    if (samples == NULL || count <= 0) return 0;
    if (s->wav.len + (size_t)count * 2 > MAX_CLIP_BYTES) {
        s->too_long = 1;
        return 1;
    }
    for (int i = 0; i < count; i++) { /* little-endian whatever the machine */
        unsigned char le[2] = { (unsigned char)((uint16_t)samples[i] & 0xFF), (unsigned char)((uint16_t)samples[i] >> 8) };
        sbh_text_append(&s->wav, le, 2);
    }
    return s->wav.failed ? 1 : 0;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v & 0xFF);
    p[1] = (unsigned char)(v >> 8);
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The canonical 44-byte header of a 16-bit mono PCM WAV with `data_bytes` of samples. */
static void wav_header(unsigned char *h, uint32_t sample_rate, uint32_t data_bytes)
{
    memcpy(h, "RIFF", 4);
    put_le32(h + 4, 36 + data_bytes);
    memcpy(h + 8, "WAVEfmt ", 8);
    put_le32(h + 16, 16);              /* fmt chunk size */
    put_le16(h + 20, 1);               /* PCM */
    put_le16(h + 22, 1);               /* mono */
    put_le32(h + 24, sample_rate);
    put_le32(h + 28, sample_rate * 2); /* bytes per second */
    put_le16(h + 32, 2);               /* block align */
    put_le16(h + 34, 16);              /* bits per sample */
    memcpy(h + 36, "data", 4);
    put_le32(h + 40, data_bytes);
}

/* Checks a cached file is exactly what wav_header wrote (sizes included, so a truncated file is
 * caught) and returns its duration in milliseconds, or -1. */
static long long wav_duration_ms(const unsigned char *w, size_t size)
{
    if (size < WAV_HEADER || memcmp(w, "RIFF", 4) != 0 || memcmp(w + 8, "WAVEfmt ", 8) != 0 ||
        memcmp(w + 36, "data", 4) != 0) return -1;
    uint32_t rate = get_le32(w + 24), data = get_le32(w + 40);
    if (rate == 0 || get_le32(w + 4) != 36 + data || (size_t)data + WAV_HEADER != size) return -1;
    unsigned char expect[WAV_HEADER];
    wav_header(expect, rate, data);
    if (memcmp(expect, w, WAV_HEADER) != 0) return -1;
    return (long long)(data / 2) * 1000 / rate;
}

typedef struct synth_params {
    const char *text;
    const char *voice;
    int rate;
    int pitch;
    bool ssml;
} synth_params;

/* Synthesises into a complete WAV (malloc'd, in *wav and *size). Takes the process-wide lock. */
static sb_status engine_synthesize(sb_instance *inst, const synth_params *p, unsigned char **wav,
                                   size_t *size, char *err, size_t err_size)
{
    sink s = {0};
    unsigned char header[WAV_HEADER] = {0};
    sbh_text_append(&s.wav, header, sizeof header); /* filled in at the end */
    if (s.wav.failed) {
        sbh_error(err, err_size, "out of memory");
        return SB_ERR_FAILED;
    }

    sb_status result = SB_OK;
    engine_lock(inst);
    /* The callback and all parameters are global in libespeak-ng and the other copy of this
     * plugin may have set its own since our last call: set everything, every time. The URI
     * callback too: the pointer espeak-ng holds may be into a copy of this plugin that has been
     * unloaded since (a hot reload), and NULL would bring back espeak-ng's own sox call. */
    espeak_SetSynthCallback(synth_callback);
    espeak_SetUriCallback(refuse_every_uri);
    espeak_ng_STATUS status = espeak_ng_SetVoiceByName(p->voice);
    if (status != ENS_OK) {
        sbh_error(err, err_size, "unknown voice \"%s\" (see the voices command)", p->voice);
        result = SB_ERR_INVALID;
    } else {
        espeak_ng_SetParameter(espeakRATE, p->rate, 0);
        espeak_ng_SetParameter(espeakPITCH, p->pitch, 0);
        /* espeakENDPAUSE: the sentence pause after the last clause, as the espeak-ng command
         * line adds it (without it the clip is ~0.3 s shorter and ends abruptly; a little silence
         * at the end also keeps a speaker that starts late from cutting the last syllable). */
        unsigned flags = espeakCHARS_UTF8 | espeakENDPAUSE | (p->ssml ? espeakSSML : 0);
        status = espeak_ng_Synthesize(p->text, strlen(p->text) + 1, 0, POS_CHARACTER, 0, flags, NULL, &s);
        if (s.too_long) {
            sbh_error(err, err_size, "the speech is longer than %u MB of audio", MAX_CLIP_BYTES / (1024u * 1024u));
            result = SB_ERR_INVALID;
        } else if (s.wav.failed) {
            sbh_error(err, err_size, "out of memory");
            result = SB_ERR_FAILED;
        } else if (status != ENS_OK) {
            char message[256];
            espeak_message(status, message, sizeof message);
            sbh_error(err, err_size, "espeak-ng failed: %s", message);
            result = SB_ERR_FAILED;
        }
    }
    engine_unlock(inst);

    if (result == SB_OK && s.wav.len == WAV_HEADER) {
        sbh_error(err, err_size, "the text produced no audio (only markup or punctuation?)");
        result = SB_ERR_INVALID;
    }
    if (result != SB_OK) {
        free(s.wav.data);
        return result;
    }
    wav_header((unsigned char *)s.wav.data, (uint32_t)inst->sample_rate, (uint32_t)(s.wav.len - WAV_HEADER));
    *wav = (unsigned char *)s.wav.data;
    *size = s.wav.len;
    return SB_OK;
}

/* ---------------------------------------------------------------------------------------------
 * create / destroy
 * ------------------------------------------------------------------------------------------- */

/* Voice names go to espeak-ng, which also tries them as file names under its voices directory:
 * allow what real voice names use and nothing that could climb out of that directory. */
static int valid_voice_name(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > MAX_VOICE_NAME || v[0] == '/' || strstr(v, "..") != NULL) return 0;
    for (const char *p = v; *p != '\0'; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("-_+./ ()", c) != NULL)) return 0;
    }
    return 1;
}

static void instance_free(sb_instance *inst)
{
    if (inst->lock_fd >= 0) close(inst->lock_fd);
    cache_close(inst->cache);
    free(inst->espeak_version);
    free(inst->voices_json);
    free(inst);
}

/* {"voice":"en", "max_text_length":10000, "clip_ttl":600, "cache_dir":"/var/cache/…",
 * "cache_max_bytes":67108864}, every key optional, through the host's settings service (which
 * checks the types; the ranges are ours). Opens the cache when a directory is given. */
static sb_status read_settings(sb_instance *inst, const sb_host_settings *settings, char *err, size_t err_size)
{
    const sb_host *host = inst->host;
    const char *cache_dir = NULL;
    int64_t max_text = 0, ttl = 0, cache_max = 0;
    sb_status status = settings->get_string(host, "voice", DEFAULT_VOICE, &inst->voice, err, err_size);
    if (status == SB_OK) status = settings->get_string(host, "cache_dir", NULL, &cache_dir, err, err_size);
    if (status == SB_OK) status = sbh_setting_integer(host, settings, "max_text_length", DEFAULT_MAX_TEXT, 1, 1000000, &max_text, err, err_size);
    if (status == SB_OK) status = sbh_setting_integer(host, settings, "clip_ttl", DEFAULT_CLIP_TTL, 1, 7 * 24 * 3600, &ttl, err, err_size);
    if (status == SB_OK) status = sbh_setting_integer(host, settings, "cache_max_bytes", DEFAULT_CACHE_MAX, 1, INT64_C(1) << 50, &cache_max, err, err_size);
    if (status != SB_OK) return status;
    if (!valid_voice_name(inst->voice)) {
        sbh_error(err, err_size, "configuration: \"voice\" \"%s\" is not a voice name", inst->voice);
        return SB_ERR_INVALID;
    }
    inst->max_text_length = (uint32_t)max_text;
    inst->clip_ttl = (uint32_t)ttl;
    inst->cache_max_bytes = (uint64_t)cache_max;
    if (cache_dir == NULL || cache_dir[0] == '\0') return SB_OK;
    return cache_open(&inst->cache, cache_dir, inst->cache_max_bytes, err, err_size) == 0 ? SB_OK : SB_ERR_INVALID;
}

static sb_status tts_create(const sb_host *host, const char *config_json, sb_instance **out_instance,
                            char *err, size_t err_size)
{
    (void)config_json; /* the same settings as text; read_settings asks for them typed */
    if (host == NULL || host->get_extension == NULL || out_instance == NULL) {
        sbh_error(err, err_size, "invalid host table");
        return SB_ERR_INVALID;
    }
    sb_instance *inst = calloc(1, sizeof *inst);
    if (inst == NULL) {
        sbh_error(err, err_size, "out of memory");
        return SB_ERR_FAILED;
    }
    inst->lock_fd = -1;
    inst->host = host;
    inst->log = SBH_HOST_EXTENSION(host, sb_host_log, SB_HOST_EXT_LOG);

    /* Required: where results are reported, where the clips go, and the settings. */
    const sb_host_settings *settings = SBH_HOST_REQUIRE(host, sb_host_settings, SB_HOST_EXT_SETTINGS, err, err_size);
    inst->media = SBH_HOST_REQUIRE(host, sb_host_media, SB_HOST_EXT_MEDIA, err, err_size);
    inst->operations = SBH_HOST_REQUIRE(host, sb_host_operations, SB_HOST_EXT_OPERATIONS, err, err_size);
    sb_status status = settings == NULL || inst->media == NULL || inst->operations == NULL
                           ? SB_ERR_UNSUPPORTED : read_settings(inst, settings, err, err_size);
    if (status == SB_OK && (inst->lock_fd = lock_open(err, err_size)) < 0) status = SB_ERR_FAILED;
    if (status != SB_OK) {
        instance_free(inst);
        return status;
    }

    engine_lock(inst);
    if (!engine_init(inst, err, err_size)) {
        status = SB_ERR_FAILED;
    } else if (espeak_ng_SetVoiceByName(inst->voice) != ENS_OK) {
        sbh_error(err, err_size, "configuration: espeak-ng has no voice \"%s\"", inst->voice);
        status = SB_ERR_INVALID;
    } else if ((inst->voices_json = engine_voices_json()) == NULL) {
        sbh_error(err, err_size, "out of memory");
        status = SB_ERR_FAILED;
    }
    engine_unlock(inst);
    if (status != SB_OK) {
        instance_free(inst);
        return status;
    }

    if (inst->cache != NULL) {
        host_log(inst, SB_LOG_INFO, "espeak-ng %s, %d Hz, voice %s, cache %" PRIu64 " of %" PRIu64 " bytes used",
                 inst->espeak_version, inst->sample_rate, inst->voice, cache_bytes(inst->cache), inst->cache_max_bytes);
    } else {
        host_log(inst, SB_LOG_INFO, "espeak-ng %s, %d Hz, voice %s, no disk cache", inst->espeak_version,
                 inst->sample_rate, inst->voice);
    }
    *out_instance = inst;
    return SB_OK;
}

static void tts_destroy(sb_instance *inst)
{
    if (inst != NULL) instance_free(inst);
}

/* ---------------------------------------------------------------------------------------------
 * TTS capability
 * ------------------------------------------------------------------------------------------- */

static sb_status tts_voices(sb_instance *inst, char *out, size_t out_size)
{
    return sbh_reply(out, out_size, "%s", inst->voices_json);
}

static int blank(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return 0;
    }
    return 1;
}

static sb_status tts_synthesize(sb_instance *inst, const sb_tts_request *request, uint64_t operation_id,
                                char *err, size_t err_size)
{
    if (request == NULL || request->struct_size < offsetof(sb_tts_request, ssml) + sizeof request->ssml) {
        sbh_error(err, err_size, "invalid request");
        return SB_ERR_INVALID;
    }
    if (request->text == NULL || blank(request->text)) {
        sbh_error(err, err_size, "the text is empty");
        return SB_ERR_INVALID;
    }
    size_t bad = 0;
    long long chars = utf8_length(request->text, &bad);
    if (chars < 0) {
        sbh_error(err, err_size, "the text is not valid UTF-8 (byte %zu)", bad);
        return SB_ERR_INVALID;
    }
    if (chars > (long long)inst->max_text_length) {
        sbh_error(err, err_size, "the text has %lld characters; the limit is %" PRIu32 " (max_text_length)",
                chars, inst->max_text_length);
        return SB_ERR_INVALID;
    }
    /* Before the cache too: markup refused now is refused even if an older build cached it. */
    if (request->ssml && !ssml_check(request->text, strlen(request->text), err, err_size)) return SB_ERR_INVALID;
    synth_params p = { request->text, inst->voice, request->rate, request->pitch, request->ssml };
    if (request->voice != NULL && request->voice[0] != '\0') p.voice = request->voice;
    if (!valid_voice_name(p.voice)) {
        sbh_error(err, err_size, "\"%.64s\" is not a voice name (see the voices command)", p.voice);
        return SB_ERR_INVALID;
    }
    if (p.rate == 0) {
        p.rate = espeakRATE_NORMAL;
    } else if (p.rate < espeakRATE_MINIMUM || p.rate > espeakRATE_MAXIMUM) {
        sbh_error(err, err_size, "rate %" PRId32 " is out of range: %d..%d words per minute, or 0 for the default %d",
                request->rate, espeakRATE_MINIMUM, espeakRATE_MAXIMUM, espeakRATE_NORMAL);
        return SB_ERR_INVALID;
    }
    if (p.pitch == -1) {
        p.pitch = DEFAULT_PITCH;
    } else if (p.pitch < 0 || p.pitch > 100) {
        sbh_error(err, err_size, "pitch %" PRId32 " is out of range: 0..100, or -1 for the default", request->pitch);
        return SB_ERR_INVALID;
    }

    /* Everything that determines the audio. Rate and pitch after defaulting, so "0" and "175"
     * share an entry. */
    char key[CACHE_KEY_HEX + 1] = "";
    unsigned char *wav = NULL;
    size_t size = 0;
    bool cached = false;
    long long duration = -1;
    if (inst->cache != NULL) {
        char rate[16], pitch[16], srate[16];
        snprintf(rate, sizeof rate, "%d", p.rate);
        snprintf(pitch, sizeof pitch, "%d", p.pitch);
        snprintf(srate, sizeof srate, "%d", inst->sample_rate);
        const char *fields[] = { CACHE_FORMAT, inst->espeak_version, srate, p.voice, rate, pitch,
                                 p.ssml ? "ssml" : "text", p.text };
        cache_key(fields, sizeof fields / sizeof fields[0], key);
        if (cache_get(inst->cache, key, &wav, &size)) {
            duration = wav_duration_ms(wav, size);
            if (duration >= 0) {
                cached = true;
                inst->cache_hits++;
            } else {
                host_log(inst, SB_LOG_WARNING, "cache entry %s is damaged; synthesising again", key);
                cache_remove(inst->cache, key);
                free(wav);
                wav = NULL;
            }
        }
    }
    if (wav == NULL) {
        sb_status status = engine_synthesize(inst, &p, &wav, &size, err, err_size);
        if (status != SB_OK) return status;
        inst->syntheses++;
        duration = (long long)((size - WAV_HEADER) / 2) * 1000 / inst->sample_rate;
        if (inst->cache != NULL) {
            char cache_err[256];
            if (cache_put(inst->cache, key, wav, size, cache_err, sizeof cache_err) != 0) {
                host_log(inst, SB_LOG_WARNING, "clip not cached: %s", cache_err); /* still served */
            }
        }
    }

    char url[2048] = "";
    sb_status status = inst->media->put(inst->host, wav, size, "audio/wav", inst->clip_ttl, url, sizeof url);
    free(wav);
    if (status != SB_OK || url[0] == '\0') {
        sbh_error(err, err_size, "the media store refused the clip (status %" PRId32 ")", status);
        return status < 0 ? status : SB_ERR_FAILED;
    }

    sbh_text result = {0};
    sbh_text_puts(&result, "{\"url\":");
    sbh_text_json_string(&result, url);
    sbh_text_printf(&result, ",\"duration_ms\":%lld,\"cached\":%s,\"bytes\":%zu}", duration, cached ? "true" : "false", size);
    if (result.failed) {
        free(result.data);
        sbh_error(err, err_size, "out of memory");
        return SB_ERR_FAILED;
    }
    /* complete() is [any-thread]; completing from inside synthesize is allowed. */
    inst->operations->complete(inst->host, operation_id, SB_OK, result.data);
    free(result.data);
    return SB_OK;
}

static const sb_plugin_tts tts_table = {
    .struct_size = sizeof(sb_plugin_tts),
    .voices = tts_voices,
    .synthesize = tts_synthesize,
};

/* ---------------------------------------------------------------------------------------------
 * Typed commands
 * ------------------------------------------------------------------------------------------- */

/* "" — counters since create, so a test can prove a repeated request was served from the cache. */
static sb_status cmd_stats(sb_instance *inst, char *reply, size_t reply_size)
{
    uint64_t bytes = inst->cache != NULL ? cache_bytes(inst->cache) : 0;
    return sbh_reply(reply, reply_size, "{\"syntheses\":%" PRIu64 ",\"cache_hits\":%" PRIu64 ",\"cache_bytes\":%" PRIu64 "}",
                     inst->syntheses, inst->cache_hits, bytes);
}

/* "" — the same array as the TTS capability's `voices`. */
static sb_status cmd_voices(sb_instance *inst, char *reply, size_t reply_size)
{
    return sbh_reply(reply, reply_size, "%s", inst->voices_json);
}

static const sb_command command_list[] = {
    { sizeof(sb_command), "stats", "", "Syntheses, cache hits and cache size since start", SBH_COMMAND_FN(cmd_stats) },
    { sizeof(sb_command), "voices", "", "The espeak-ng voices as [{id, language, name}]", SBH_COMMAND_FN(cmd_voices) },
};

SBH_COMMANDS_TABLE(commands_table, command_list);

/* ---------------------------------------------------------------------------------------------
 * Descriptor and entry point
 * ------------------------------------------------------------------------------------------- */

static const void *tts_get_extension(sb_instance *inst, const char *id)
{
    (void)inst;
    if (strcmp(id, SB_EXT_TTS) == 0) return &tts_table;
    if (strcmp(id, SB_EXT_COMMANDS) == 0) return &commands_table;
    return NULL;
}

static const sb_plugin_descriptor descriptor = {
    .struct_size = sizeof(sb_plugin_descriptor),
    .abi_major = SB_ABI_MAJOR,
    .abi_minor = SB_ABI_MINOR,
    .id = TTS_ESPEAK_ID,
    .name = "espeak-ng TTS",
    .version = TTS_ESPEAK_VERSION,
    .vendor = "speakerbridge",
    .description = "Text to speech with libespeak-ng: 16-bit mono WAV clips, optional disk cache",
    .create = tts_create,
    .destroy = tts_destroy,
    .get_extension = tts_get_extension,
};

SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void);
SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void) { return &descriptor; }

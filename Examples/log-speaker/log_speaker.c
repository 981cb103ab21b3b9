/*
 * log-speaker: the example speakerbridge plugin. Read it top to bottom to learn the plugin ABI:
 * the numbered sections come in the order a plugin author needs them.
 *
 * It drives no hardware: every clip it is asked to play and every command it receives is appended
 * as one line to a file, which also makes it a stand-in speaker for testing the daemon. The
 * `sbh_*` plumbing (growable strings, service lookup, logging) is the SDK's header-only helpers
 * (PluginSDK/helpers), which are not part of the ABI.
 */

#include <speakerbridge_plugin.h>
#include <speakerbridge/helpers/commands.h>
#include <speakerbridge/helpers/host.h>
#include <speakerbridge/helpers/text.h>

#include "log_file.h" /* the speaker's "hardware": lines appended to a file */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SPEAKERS 64        /* a broken configuration must not become a huge allocation */
#define UNKNOWN_DURATION_MS 10 /* a clip of unknown duration (0) still completes, just soon */
#define STATE_BLOB_VERSION 1   /* the state format this build writes and reads (section 5) */
#define MAX_NAME 59            /* bytes of a speaker name */

/* ---- 1. The instance ------------------------------------------------------------------------ */

typedef struct speaker {
    char id[4 + MAX_NAME + 1]; /* "log-" + the name in lower case: what the host addresses it by */
    const char *name;          /* the host's string from the settings: it lives until destroy */
} speaker;

/* A clip that is "playing": it ends when its timer fires or when the host cancels it. */
typedef struct pending_clip {
    uint64_t operation_id;
    uint64_t timer_id;
    struct pending_clip *next;
} pending_clip;

/* The header declares `struct sb_instance` opaque; each plugin defines its own. Everything the
 * plugin keeps lives here (no mutable globals), so two instances never share anything and a
 * reloaded build starts clean. */
struct sb_instance {
    const sb_host *host;
    const sb_host_operations *operations; /* host services */
    const sb_host_timers *timers;
    const sb_host_log *log;               /* optional: may be NULL */
    const sb_host_publish *publish;       /* optional */

    const char *log_path;
    speaker speakers[MAX_SPEAKERS];
    uint32_t speaker_count;
    pending_clip *pending;
    uint64_t commands_handled; /* by this instance and the builds before it (section 5) */
};

static const speaker *find_speaker(const sb_instance *inst, const char *id)
{
    for (uint32_t i = 0; i < inst->speaker_count; i++) {
        if (strcmp(inst->speakers[i].id, id) == 0) return &inst->speakers[i];
    }
    return NULL;
}

/* ---- 2. create / destroy -------------------------------------------------------------------- */

static void instance_free(sb_instance *inst)
{
    /* The host completes or cancels every operation before destroy; this only guards leaks. */
    while (inst->pending != NULL) {
        pending_clip *next = inst->pending->next;
        free(inst->pending);
        inst->pending = next;
    }
    free(inst);
}

/* The id is part of MQTT topics (`<base>/<id>/state`), where '/', '+' and '#' mean something, so
 * such names are refused here with a clear reason. Lower case by hand, ASCII only: tolower()
 * follows the process's locale, and an id must not change with it. */
static sb_status add_speaker(sb_instance *inst, const char *name, char *err, size_t err_size)
{
    speaker *s = &inst->speakers[inst->speaker_count];
    size_t n = strlen(name);
    bool valid = n > 0 && n <= MAX_NAME;
    memcpy(s->id, "log-", 4);
    for (size_t i = 0; valid && i <= n; i++) { /* the NUL too */
        unsigned char c = (unsigned char)name[i];
        if ((c < 0x20 && c != '\0') || c == 0x7f || c == '/' || c == '+' || c == '#') valid = false;
        s->id[4 + i] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
    }
    if (!valid) {
        sbh_error(err, err_size, "configuration: speaker name \"%s\" is empty, longer than %d bytes or "
                                 "contains '/', '+', '#' or a control character", name, MAX_NAME);
        return SB_ERR_INVALID;
    }
    if (find_speaker(inst, s->id) != NULL) { /* "Hall" and "hall" */
        sbh_error(err, err_size, "configuration: speaker \"%s\" gets the id %s, which another "
                                 "speaker already has", name, s->id);
        return SB_ERR_INVALID;
    }
    s->name = name;
    inst->speaker_count++;
    return SB_OK;
}

/* {"log": "/var/log/speakers.log", "speakers": ["Kitchen", "Bath"]}. The host parses the file and
 * hands out typed values (a wrong type fails with a reason naming the key), so a plugin carries
 * no JSON parser. */
static sb_status read_settings(sb_instance *inst, const sb_host_settings *settings, char *err, size_t err_size)
{
    sb_status status = settings->get_string(inst->host, "log", NULL, &inst->log_path, err, err_size);
    if (status == SB_OK && (inst->log_path == NULL || inst->log_path[0] == '\0')) {
        sbh_error(err, err_size, "configuration: \"log\" (the file to append to) is required, "
                                 "e.g. {\"log\": \"/var/log/speakerbridge/log-speaker.log\"}");
        status = SB_ERR_INVALID;
    }
    static const char *const default_speakers[] = { "Log" };
    const char *const *names = NULL;
    size_t count = 0;
    if (status == SB_OK) {
        status = settings->get_string_list(inst->host, "speakers", default_speakers, 1, &names, &count, err, err_size);
    }
    if (status == SB_OK && count > MAX_SPEAKERS) {
        sbh_error(err, err_size, "configuration: more than %d speakers", MAX_SPEAKERS);
        status = SB_ERR_INVALID;
    }
    for (size_t i = 0; status == SB_OK && i < count; i++) status = add_speaker(inst, names[i], err, err_size);
    return status;
}

static sb_status log_speaker_create(const sb_host *host, const char *config_json,
                                    sb_instance **out_instance, char *err, size_t err_size)
{
    (void)config_json; /* the same settings as text; read_settings asks for them typed */
    sb_instance *inst = calloc(1, sizeof *inst);
    if (inst == NULL) {
        sbh_error(err, err_size, "out of memory");
        return SB_ERR_FAILED;
    }
    /* A service the host lacks, or offers smaller than the table we were built against, is NULL.
     * Without operations and timers no clip could ever finish. */
    inst->host = host;
    inst->log = SBH_HOST_EXTENSION(host, sb_host_log, SB_HOST_EXT_LOG);
    inst->publish = SBH_HOST_EXTENSION(host, sb_host_publish, SB_HOST_EXT_PUBLISH);
    inst->operations = SBH_HOST_REQUIRE(host, sb_host_operations, SB_HOST_EXT_OPERATIONS, err, err_size);
    inst->timers = SBH_HOST_REQUIRE(host, sb_host_timers, SB_HOST_EXT_TIMERS, err, err_size);
    const sb_host_settings *settings = SBH_HOST_REQUIRE(host, sb_host_settings, SB_HOST_EXT_SETTINGS, err, err_size);
    sb_status status = inst->operations != NULL && inst->timers != NULL && settings != NULL
                           ? read_settings(inst, settings, err, err_size) : SB_ERR_UNSUPPORTED;
    if (status != SB_OK) {
        instance_free(inst);
        return status;
    }
    sbh_log(host, inst->log, SB_LOG_INFO, "appending to %s, %" PRIu32 " speaker(s)", inst->log_path,
            inst->speaker_count);
    /* The host learns a driver's speakers only from availability reports, and Home Assistant's
     * entities follow the retained availability topic: a log file is always there, so each speaker
     * is online from the start. */
    for (uint32_t i = 0; inst->publish != NULL && i < inst->speaker_count; i++) {
        inst->publish->speaker_availability(host, inst->speakers[i].id, true);
    }
    *out_instance = inst;
    return SB_OK;
}

static void log_speaker_destroy(sb_instance *inst) { instance_free(inst); }

/* ---- 3. Speaker capability ------------------------------------------------------------------ */

static uint32_t speaker_count(sb_instance *inst) { return inst->speaker_count; }

static bool speaker_get(sb_instance *inst, uint32_t index, sb_speaker_info *out)
{
    if (index >= inst->speaker_count || out == NULL) return false;
    /* Our strings live until destroy, longer than the ABI asks. struct_size is the host's. */
    out->id = inst->speakers[index].id;
    out->name = inst->speakers[index].name;
    out->model = "Log speaker";
    out->group = NULL;
    return true;
}

/* Unlinks the waiting clip with this timer id (by_timer) or operation id, or returns NULL. */
static pending_clip *take_pending(sb_instance *inst, bool by_timer, uint64_t id)
{
    for (pending_clip **link = &inst->pending; *link != NULL; link = &(*link)->next) {
        pending_clip *clip = *link;
        if ((by_timer ? clip->timer_id : clip->operation_id) == id) {
            *link = clip->next;
            return clip;
        }
    }
    return NULL;
}

/* The timer callback. `user` is the instance, not the clip: the clip is looked up by its timer id,
 * so the callback of a clip cancelled meanwhile finds nothing instead of touching freed memory. */
static void clip_finished(void *user, uint64_t timer_id)
{
    sb_instance *inst = user;
    pending_clip *clip = take_pending(inst, true, timer_id);
    if (clip == NULL) return;
    inst->operations->complete(inst->host, clip->operation_id, SB_OK, NULL);
    free(clip);
}

static sb_status speaker_play_clip(sb_instance *inst, const char *speaker_id, const sb_clip *clip,
                                   uint64_t operation_id, char *err, size_t err_size)
{
    /* A struct from the host: the fields we read must lie inside its struct_size. */
    if (clip == NULL || clip->struct_size < offsetof(sb_clip, volume) + sizeof clip->volume || clip->url == NULL) {
        sbh_error(err, err_size, "invalid clip");
        return SB_ERR_INVALID;
    }
    const speaker *spk = speaker_id != NULL ? find_speaker(inst, speaker_id) : NULL;
    if (spk == NULL) {
        sbh_error(err, err_size, "no speaker %s", speaker_id != NULL ? speaker_id : "(null)");
        return SB_ERR_NOT_FOUND;
    }
    /* Allocated before anything is written, so a failure leaves no half-done work behind. */
    pending_clip *pending = calloc(1, sizeof *pending);
    if (pending == NULL) {
        sbh_error(err, err_size, "out of memory");
        return SB_ERR_FAILED;
    }
    sb_status status = log_file_append(inst->log_path, err, err_size, "play %s %s %s %" PRId32, spk->id,
                                       LOG_FIELD(clip->url), LOG_FIELD(clip->mime), clip->volume);
    if (status == SB_OK && inst->publish != NULL) { /* best effort: the clip plays either way */
        sbh_text state = {0};
        sbh_text_puts(&state, "{\"state\":\"playing\",\"url\":");
        sbh_text_json_string(&state, clip->url);
        sbh_text_puts(&state, "}");
        if (state.failed || inst->publish->speaker_state(inst->host, spk->id, state.data) != SB_OK) {
            sbh_log(inst->host, inst->log, SB_LOG_WARNING, "could not publish the state of %s", spk->id);
        }
        sbh_text_free(&state);
    }
    if (status != SB_OK) {
        free(pending);
        return status;
    }
    /* The non-blocking pattern: a timer for the clip's length, and return at once. Its callback
     * runs on this instance's serial executor, which we occupy now, so it cannot fire before the
     * clip is in the list. */
    uint32_t delay = clip->duration_ms != 0 ? clip->duration_ms : UNKNOWN_DURATION_MS;
    pending->operation_id = operation_id;
    status = inst->timers->start(inst->host, delay, 0, clip_finished, inst, &pending->timer_id);
    if (status != SB_OK) {
        sbh_error(err, err_size, "cannot start a timer (status %" PRId32 ")", status);
        free(pending);
        return status < 0 ? status : SB_ERR_FAILED;
    }
    pending->next = inst->pending;
    inst->pending = pending;
    return SB_OK;
}

static sb_status speaker_cancel(sb_instance *inst, uint64_t operation_id)
{
    pending_clip *clip = take_pending(inst, false, operation_id);
    if (clip == NULL) return SB_ERR_NOT_FOUND; /* already finished, or never ours */
    inst->timers->cancel(inst->host, clip->timer_id);
    /* A cancelled operation still completes, exactly once. */
    inst->operations->complete(inst->host, operation_id, SB_ERR_CANCELLED, "cancelled");
    free(clip);
    return SB_OK;
}

static const sb_plugin_speaker speaker_table = {
    .struct_size = sizeof(sb_plugin_speaker),
    .count = speaker_count,
    .get = speaker_get,
    .play_clip = speaker_play_clip,
    .cancel = speaker_cancel,
};

/* ---- 4. Typed commands ---------------------------------------------------------------------- */
/* Ordinary C functions: the host has checked the arguments against the signature (types, ranges,
 * defaults) before the call. `reply` takes the JSON of the answer's `data`, or the reason. */

/* "speaker:str level:i32[0..100] ramp:bool=false" */
static sb_status cmd_volume(sb_instance *inst, char *reply, size_t reply_size, const char *speaker_id,
                            int32_t level, bool ramp)
{
    if (find_speaker(inst, speaker_id) == NULL) {
        sbh_error(reply, reply_size, "no speaker %s", speaker_id);
        return SB_ERR_NOT_FOUND;
    }
    sb_status status = log_file_append(inst->log_path, reply, reply_size, "command volume %s %" PRId32 " %s",
                                       speaker_id, level, ramp ? "true" : "false");
    if (status != SB_OK) return status;
    inst->commands_handled++;
    return sbh_reply(reply, reply_size, "{\"volume\":%" PRId32 "}", level);
}

/* "text:str times:u32[1..10]=1" */
static sb_status cmd_echo(sb_instance *inst, char *reply, size_t reply_size, const char *message,
                          uint32_t times)
{
    sb_status status = log_file_append(inst->log_path, reply, reply_size, "command echo %s %" PRIu32,
                                       LOG_FIELD(message), times);
    if (status != SB_OK) return status;
    inst->commands_handled++;
    sbh_text answer = {0}; /* the text came from outside: escaped, never pasted into JSON */
    sbh_text_puts(&answer, "{\"text\":");
    sbh_text_json_string(&answer, message);
    sbh_text_puts(&answer, "}");
    status = sbh_reply(reply, reply_size, "%s", answer.failed ? "out of memory" : answer.data);
    if (answer.failed) status = SB_ERR_FAILED;
    sbh_text_free(&answer);
    return status;
}

/* "" — a query: it does not count itself, so asking before and after a hot reload agrees. */
static sb_status cmd_count(sb_instance *inst, char *reply, size_t reply_size)
{
    return sbh_reply(reply, reply_size, "{\"commands\":%" PRIu64 "}", inst->commands_handled);
}

static const sb_command command_list[] = {
    { sizeof(sb_command), "volume", "speaker:str level:i32[0..100] ramp:bool=false",
      "Log a volume change for a speaker", SBH_COMMAND_FN(cmd_volume) },
    { sizeof(sb_command), "echo", "text:str times:u32[1..10]=1",
      "Log a text and send it back", SBH_COMMAND_FN(cmd_echo) },
    { sizeof(sb_command), "count", "",
      "How many commands this plugin has handled, across hot reloads", SBH_COMMAND_FN(cmd_count) },
};

/* The capability table: `count` and `get` over command_list. */
SBH_COMMANDS_TABLE(commands_table, command_list);

/* ---- 5. State handed over on hot reload ----------------------------------------------------- */
/* Blob version 1: the command counter as 8 bytes, little-endian, written byte by byte so that it
 * does not depend on the machine. A new layout would be version 2, and `load` would go on reading
 * version 1 (migrate) or refuse it. */

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
    if (blob_version != STATE_BLOB_VERSION || size != 8 || data == NULL) {
        sbh_error(err, err_size, "state blob version %" PRIu32 " of %zu bytes is unknown to this build "
                                 "(it reads version %d, 8 bytes)", blob_version, size, STATE_BLOB_VERSION);
        return blob_version != STATE_BLOB_VERSION ? SB_ERR_UNSUPPORTED : SB_ERR_INVALID;
    }
    const unsigned char *blob = data;
    inst->commands_handled = 0;
    for (int i = 0; i < 8; i++) inst->commands_handled |= (uint64_t)blob[i] << (8 * i);
    return SB_OK;
}

static const sb_plugin_state state_table = {
    .struct_size = sizeof(sb_plugin_state),
    .blob_version = STATE_BLOB_VERSION,
    .save = state_save,
    .load = state_load,
};

/* ---- 6. Descriptor and entry point ---------------------------------------------------------- */

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
    .abi_major = SB_ABI_MAJOR,
    .abi_minor = SB_ABI_MINOR,
    .id = "org.speakerbridge.example.log-speaker",
    .name = "Log speaker",
    .version = "1.0.0",
    .vendor = "speakerbridge",
    .description = "Appends every clip and command it receives to a file; an example and a test double",
    .create = log_speaker_create,
    .destroy = log_speaker_destroy,
    .get_extension = log_speaker_get_extension,
};

/* The one exported symbol (-fvisibility=hidden hides the rest). It returns a constant and nothing
 * more: the host may call it only to read the descriptor. */
SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void) { return &descriptor; }

/* Fixture: a speaker driver that misbehaves on purpose, one way per typed command, for the
 * crash-isolation tests. In process mode each of them must take down only the plugin host process;
 * the daemon reports it, fails what was in flight and restarts the plugin.
 *
 * Commands (no arguments):
 *   ok           counts one handled command and answers {"count":N,"pid":P}
 *   count        answers the same without counting (a query: asking twice agrees)
 *   segfault     writes through NULL (SIGSEGV)
 *   abort        abort() (SIGABRT)
 *   exit3        exit(3), as a library that "handles" an error by exiting
 *   close_socket shuts down and closes every socket descriptor the process has: in process mode
 *                that is its connection to the daemon. It then answers normally (the answer has
 *                nowhere to go). shutdown() first: a plain close() of a descriptor another thread
 *                is blocked reading leaves the connection open (Linux keeps the file until that
 *                read returns), which would be a hang, not a closed socket
 *   hang         never returns
 *   allocate     mallocs and touches 16 MiB blocks without bound; when malloc returns NULL it
 *                writes through it anyway, as careless code does (the address-space limit turns an
 *                unbounded leak into a SIGSEGV of this process only)
 *
 * Each writes "misbehaving: <command>" to stderr first (a crash report shows the last lines).
 *
 * Speakers: "Calm" (id "calm") completes every clip at once; "Bomb" (id "bomb") dereferences NULL
 * in play_clip, so an announcement in flight is hit. Both are reported online in create.
 *
 * The counter is the state handed to the next generation (blob version 1, 8 bytes little-endian),
 * so a restart that is given the last saved blob is visible in `count`.
 *
 * Build: PluginBuild.fixture("misbehaving", …) — against the public header and the SDK helpers. */
#define _POSIX_C_SOURCE 200809L
#include <speakerbridge_plugin.h>
#include <speakerbridge/helpers/commands.h>
#include <speakerbridge/helpers/host.h>

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATE_BLOB_VERSION 1
#define ALLOCATION_BLOCK (16u << 20)

struct sb_instance {
    const sb_host *host;
    const sb_host_operations *operations;
    uint64_t count; /* commands handled by this instance and the generations before it */
};

/* A real invalid store, not raise(): a handler that returns (the Swift runtime's backtracer does)
 * resumes after raise(), but a faulting store is executed again and kills the process. */
static void write_through_null(void)
{
    int *volatile nowhere = NULL;
    *nowhere = 1;
}

/* One line on stderr before each misbehaviour: the host must show a crashed plugin's last output
 * lines in its report. stderr is unbuffered, so the line is out before the process dies. */
static void announce(const char *what)
{
    fprintf(stderr, "misbehaving: %s\n", what);
}

/* ---- create / destroy ---- */

static sb_status create(const sb_host *host, const char *config_json, sb_instance **out_instance,
                        char *err, size_t err_size)
{
    (void)config_json;
    sb_instance *self = calloc(1, sizeof *self);
    if (self == NULL) return SB_ERR_FAILED;
    self->host = host;
    self->operations = host->get_extension(host, SB_HOST_EXT_OPERATIONS);
    if (self->operations == NULL) {
        sbh_error(err, err_size, "the host offers no operations service");
        free(self);
        return SB_ERR_UNSUPPORTED;
    }
    /* The host learns a driver's speakers from availability reports. */
    const sb_host_publish *publish = host->get_extension(host, SB_HOST_EXT_PUBLISH);
    if (publish != NULL) {
        publish->speaker_availability(host, "bomb", true);
        publish->speaker_availability(host, "calm", true);
    }
    *out_instance = self;
    return SB_OK;
}

static void destroy(sb_instance *instance) { free(instance); }

/* ---- speakers ---- */

static uint32_t speaker_count(sb_instance *instance) { (void)instance; return 2; }

static bool speaker_get(sb_instance *instance, uint32_t index, sb_speaker_info *out)
{
    (void)instance;
    if (index > 1 || out == NULL) return false;
    out->id = index == 0 ? "bomb" : "calm";
    out->name = index == 0 ? "Bomb" : "Calm";
    out->model = "Misbehaving fixture";
    out->group = NULL;
    return true;
}

static sb_status play_clip(sb_instance *instance, const char *speaker_id, const sb_clip *clip,
                           uint64_t operation_id, char *err, size_t err_size)
{
    (void)clip;
    if (speaker_id != NULL && strcmp(speaker_id, "bomb") == 0) {
        announce("play_clip on bomb");
        write_through_null();
    }
    if (speaker_id == NULL || strcmp(speaker_id, "calm") != 0) {
        sbh_error(err, err_size, "no speaker %s", speaker_id != NULL ? speaker_id : "(null)");
        return SB_ERR_NOT_FOUND;
    }
    instance->operations->complete(instance->host, operation_id, SB_OK, NULL);
    return SB_OK;
}

static sb_status cancel(sb_instance *instance, uint64_t operation_id)
{
    (void)instance; (void)operation_id;
    return SB_ERR_NOT_FOUND; /* every clip completes within play_clip */
}

static const sb_plugin_speaker speaker_table = {
    .struct_size = sizeof(sb_plugin_speaker),
    .count = speaker_count,
    .get = speaker_get,
    .play_clip = play_clip,
    .cancel = cancel,
};

/* ---- typed commands ---- */

static sb_status answer_count(sb_instance *inst, char *reply, size_t reply_size)
{
    return sbh_reply(reply, reply_size, "{\"count\":%" PRIu64 ",\"pid\":%ld}", inst->count, (long)getpid());
}

static sb_status cmd_ok(sb_instance *inst, char *reply, size_t reply_size)
{
    inst->count++;
    return answer_count(inst, reply, reply_size);
}

static sb_status cmd_count(sb_instance *inst, char *reply, size_t reply_size)
{
    return answer_count(inst, reply, reply_size);
}

static sb_status cmd_segfault(sb_instance *inst, char *reply, size_t reply_size)
{
    announce("segfault");
    write_through_null();
    return answer_count(inst, reply, reply_size);
}

static sb_status cmd_abort(sb_instance *inst, char *reply, size_t reply_size)
{
    (void)inst; (void)reply; (void)reply_size;
    announce("abort");
    abort();
}

static sb_status cmd_exit3(sb_instance *inst, char *reply, size_t reply_size)
{
    (void)inst; (void)reply; (void)reply_size;
    announce("exit3");
    exit(3);
}

/* Shuts down and closes the sockets found in /proc/self/fd (the directory's own is skipped). */
static sb_status cmd_close_socket(sb_instance *inst, char *reply, size_t reply_size)
{
    announce("close_socket");
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL) return sbh_reply(reply, reply_size, "cannot list /proc/self/fd");
    int own = dirfd(dir);
    int closed = 0;
    for (struct dirent *entry = readdir(dir); entry != NULL; entry = readdir(dir)) {
        char *end = NULL;
        long fd = strtol(entry->d_name, &end, 10);
        struct stat st;
        if (end == entry->d_name || *end != '\0' || fd == own) continue;
        if (fstat((int)fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
        shutdown((int)fd, SHUT_RDWR);
        if (close((int)fd) == 0) closed++;
    }
    closedir(dir);
    (void)inst;
    return sbh_reply(reply, reply_size, "{\"closed\":%d}", closed);
}

static sb_status cmd_hang(sb_instance *inst, char *reply, size_t reply_size)
{
    (void)inst; (void)reply; (void)reply_size;
    announce("hang");
    for (;;) {
        struct timespec an_hour = { 3600, 0 };
        nanosleep(&an_hour, NULL);
    }
    return SB_ERR_FAILED; /* not reached */
}

static sb_status cmd_allocate(sb_instance *inst, char *reply, size_t reply_size)
{
    (void)inst; (void)reply; (void)reply_size;
    announce("allocate");
    for (;;) {
        unsigned char *block = malloc(ALLOCATION_BLOCK);
        /* No NULL check, on purpose: the first failed allocation is written through. */
        for (size_t i = 0; i < ALLOCATION_BLOCK; i += 4096) block[i] = 1;
    }
    return SB_ERR_FAILED; /* not reached */
}

static const sb_command command_list[] = {
    { sizeof(sb_command), "ok", "", "Count one handled command", SBH_COMMAND_FN(cmd_ok) },
    { sizeof(sb_command), "count", "", "The handled commands, across generations", SBH_COMMAND_FN(cmd_count) },
    { sizeof(sb_command), "segfault", "", "Write through NULL", SBH_COMMAND_FN(cmd_segfault) },
    { sizeof(sb_command), "abort", "", "Call abort()", SBH_COMMAND_FN(cmd_abort) },
    { sizeof(sb_command), "exit3", "", "Call exit(3)", SBH_COMMAND_FN(cmd_exit3) },
    { sizeof(sb_command), "close_socket", "", "Close every socket descriptor of the process", SBH_COMMAND_FN(cmd_close_socket) },
    { sizeof(sb_command), "hang", "", "Never return", SBH_COMMAND_FN(cmd_hang) },
    { sizeof(sb_command), "allocate", "", "Allocate without bound", SBH_COMMAND_FN(cmd_allocate) },
};

SBH_COMMANDS_TABLE(commands_table, command_list);

/* ---- state: the counter ---- */

static sb_status state_save(sb_instance *inst, sb_write_fn write_fn, void *context)
{
    unsigned char blob[8];
    for (int i = 0; i < 8; i++) blob[i] = (unsigned char)(inst->count >> (8 * i));
    write_fn(context, blob, sizeof blob);
    return SB_OK;
}

static sb_status state_load(sb_instance *inst, uint32_t blob_version, const void *data, size_t size,
                            char *err, size_t err_size)
{
    if (blob_version != STATE_BLOB_VERSION || size != 8 || data == NULL) {
        sbh_error(err, err_size, "unknown state blob (version %" PRIu32 ", %zu bytes)", blob_version, size);
        return SB_ERR_UNSUPPORTED;
    }
    const unsigned char *blob = data;
    inst->count = 0;
    for (int i = 0; i < 8; i++) inst->count |= (uint64_t)blob[i] << (8 * i);
    return SB_OK;
}

static const sb_plugin_state state_table = {
    .struct_size = sizeof(sb_plugin_state),
    .blob_version = STATE_BLOB_VERSION,
    .save = state_save,
    .load = state_load,
};

static const void *get_extension(sb_instance *instance, const char *id)
{
    (void)instance;
    if (strcmp(id, SB_EXT_SPEAKER) == 0) return &speaker_table;
    if (strcmp(id, SB_EXT_COMMANDS) == 0) return &commands_table;
    if (strcmp(id, SB_EXT_STATE) == 0) return &state_table;
    return NULL;
}

static const sb_plugin_descriptor descriptor = {
    .struct_size = sizeof(sb_plugin_descriptor),
    .abi_major = SB_ABI_MAJOR,
    .abi_minor = SB_ABI_MINOR,
    .id = "org.speakerbridge.tests.misbehaving",
    .name = "Misbehaving fixture",
    .version = "1.0.0",
    .vendor = "speakerbridge tests",
    .description = "A speaker driver that crashes, exits, hangs or leaks on command",
    .create = create,
    .destroy = destroy,
    .get_extension = get_extension,
};

SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void);
SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void) { return &descriptor; }

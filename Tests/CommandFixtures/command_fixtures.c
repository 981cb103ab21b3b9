#include "command_fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fx_record last;

const fx_record *fx_last(void) { return &last; }

void fx_reset(void) {
    free(last.str);
    free(last.str2);
    memset(&last, 0, sizeof last);
}

static char *copy(const char *s) { return s ? strdup(s) : NULL; }

static void enter(const char *function, sb_instance *instance, size_t reply_size) {
    last.calls++;
    last.function = function;
    last.instance = instance;
    last.reply_size = reply_size;
}

static void keep_strings(const char *a, const char *b) {
    free(last.str);
    free(last.str2);
    last.str = copy(a);
    last.str2 = copy(b);
}

sb_status fx_volume(sb_instance *instance, char *reply, size_t reply_size, const char *speaker, int32_t level,
                    bool ramp) {
    enter("fx_volume", instance, reply_size);
    keep_strings(speaker, NULL);
    last.i32 = level;
    last.flag = ramp;
    snprintf(reply, reply_size, "{\"speaker\":\"%s\",\"level\":%d,\"ramp\":%s}", speaker, level,
             ramp ? "true" : "false");
    return SB_OK;
}

sb_status fx_all_types(sb_instance *instance, char *reply, size_t reply_size, bool flag, int32_t small, int64_t big,
                       uint32_t count, double gain, const char *name, const char *note) {
    enter("fx_all_types", instance, reply_size);
    keep_strings(name, note);
    last.flag = flag;
    last.i32 = small;
    last.i64 = big;
    last.u32 = count;
    last.f64 = gain;
    snprintf(reply, reply_size, "%d %d %lld %u %.17g %s %s", flag, small, (long long)big, count, gain, name,
             note ? note : "(null)");
    return SB_OK;
}

sb_status fx_spill(sb_instance *instance, char *reply, size_t reply_size, double d0, int64_t n0, double d1,
                   int64_t n1, double d2, int64_t n2, double d3, int64_t n3, double d4, double d5, double d6,
                   double d7, double d8, double d9, bool late_flag, uint32_t late_u, int32_t late_i,
                   const char *late_s) {
    enter("fx_spill", instance, reply_size);
    const double d[10] = {d0, d1, d2, d3, d4, d5, d6, d7, d8, d9};
    const int64_t n[4] = {n0, n1, n2, n3};
    memcpy(last.doubles, d, sizeof d);
    memcpy(last.ints, n, sizeof n);
    last.flag = late_flag;
    last.u32 = late_u;
    last.i32 = late_i;
    keep_strings(late_s, NULL);
    snprintf(reply, reply_size, "ok");
    return SB_OK;
}

sb_status fx_fail(sb_instance *instance, char *reply, size_t reply_size) {
    enter("fx_fail", instance, reply_size);
    snprintf(reply, reply_size, "speaker unreachable");
    return SB_ERR_FAILED;
}

sb_status fx_unterminated(sb_instance *instance, char *reply, size_t reply_size) {
    enter("fx_unterminated", instance, reply_size);
    memset(reply, 'x', reply_size);
    return SB_OK;
}

sb_status fx_bench_volume(sb_instance *instance, char *reply, size_t reply_size, const char *speaker,
                          int32_t level, bool ramp) {
    (void)reply;
    (void)speaker;
    (void)ramp;
    last.calls++;
    last.instance = instance;
    last.reply_size = reply_size;
    last.i32 = level;
    return SB_OK;
}

sb_status fx_echo(sb_instance *instance, char *reply, size_t reply_size, const char *text, int32_t n) {
    (void)instance;
    snprintf(reply, reply_size, "%s:%d", text, n);
    return SB_OK;
}

uint64_t fx_direct_loop(uint64_t n) {
    sb_status (*volatile fn)(sb_instance *, char *, size_t, const char *, int32_t, bool) = fx_bench_volume;
    char reply[4096];
    uint64_t ok = 0;
    for (uint64_t i = 0; i < n; i++) {
        reply[0] = '\0';
        if (fn(NULL, reply, sizeof reply, "kitchen", (int32_t)(i % 101), (i & 1) != 0) == SB_OK) ok++;
    }
    return ok;
}

#define FX_COMMAND(name, signature, fn) {sizeof(sb_command), name, signature, "", (void (*)(void))fn}
static const sb_command commands[] = {
    FX_COMMAND("volume", "speaker:str level:i32[0..100] ramp:bool=false", fx_volume),
    FX_COMMAND("all_types", "flag:bool small:i32 big:i64 count:u32 gain:f64 name:str note:str?", fx_all_types),
    FX_COMMAND("all_defaults",
               "flag:bool=true small:i32=-7 big:i64=-9007199254740991 count:u32=4294967295 gain:f64=0.25 "
               "name:str=\"living room\" note:str?",
               fx_all_types),
    FX_COMMAND("spill",
               "d0:f64 n0:i64 d1:f64 n1:i64 d2:f64 n2:i64 d3:f64 n3:i64 d4:f64 d5:f64 d6:f64 d7:f64 d8:f64 "
               "d9:f64 late_flag:bool late_u:u32 late_i:i32 late_s:str",
               fx_spill),
    FX_COMMAND("fail", "", fx_fail),
    FX_COMMAND("unterminated", "", fx_unterminated),
    FX_COMMAND("echo", "text:str n:i32", fx_echo),
    FX_COMMAND("bench_volume", "speaker:str level:i32[0..100] ramp:bool=false", fx_bench_volume),
};

const sb_command *fx_command(const char *name) {
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    }
    return NULL;
}

/* Test-only typed commands with the calling convention of speakerbridge_plugin.h ("Typed
 * commands"). Each records what it received in one global record, so a test can check what the C
 * side actually saw after a call through libffi, and counts its calls, so a test can prove that a
 * rejected request never reached the plugin. Not thread-safe: tests call them one at a time. */
#ifndef COMMAND_FIXTURES_H
#define COMMAND_FIXTURES_H

#include "speakerbridge_plugin.h"

typedef struct fx_record {
    uint64_t calls;        /* calls of any fixture since fx_reset */
    const char *function;  /* the fixture called last, e.g. "fx_volume" */
    sb_instance *instance;
    size_t reply_size;
    /* fx_volume, fx_bench_volume, fx_all_types (strings are copies; NULL when NULL was passed) */
    bool flag;
    int32_t i32;
    int64_t i64;
    uint32_t u32;
    double f64;
    char *str;
    char *str2;
    /* fx_spill: more arguments than registers, so the last ones travel on the stack */
    double doubles[10];
    int64_t ints[4];
} fx_record;

const fx_record *fx_last(void);
/* Zeroes the record and the call count, freeing its string copies. */
void fx_reset(void);

/* "speaker:str level:i32[0..100] ramp:bool=false"; replies {"speaker":…,"level":…,"ramp":…}. */
sb_status fx_volume(sb_instance *instance, char *reply, size_t reply_size, const char *speaker, int32_t level,
                    bool ramp);

/* "flag:bool small:i32 big:i64 count:u32 gain:f64 name:str note:str?" (also used with defaults);
 * replies "flag small big count gain name note" with %.17g for gain and (null) for a NULL note. */
sb_status fx_all_types(sb_instance *instance, char *reply, size_t reply_size, bool flag, int32_t small, int64_t big,
                       uint32_t count, double gain, const char *name, const char *note);

/* "d0:f64 n0:i64 d1:f64 n1:i64 d2:f64 n2:i64 d3:f64 n3:i64 d4:f64 d5:f64 d6:f64 d7:f64 d8:f64 d9:f64
 *  late_flag:bool late_u:u32 late_i:i32 late_s:str": on x86-64 and arm64 the doubles d8, d9 and
 * everything after n2 go on the stack, where libffi must lay out the small types itself.
 * Records into doubles/ints and flag/u32/i32/str. */
sb_status fx_spill(sb_instance *instance, char *reply, size_t reply_size, double d0, int64_t n0, double d1,
                   int64_t n1, double d2, int64_t n2, double d3, int64_t n3, double d4, double d5, double d6,
                   double d7, double d8, double d9, bool late_flag, uint32_t late_u, int32_t late_i,
                   const char *late_s);

/* "": replies "speaker unreachable" and returns SB_ERR_FAILED. */
sb_status fx_fail(sb_instance *instance, char *reply, size_t reply_size);

/* "": fills the whole reply buffer with 'x' and no terminator. */
sb_status fx_unterminated(sb_instance *instance, char *reply, size_t reply_size);

/* Same prototype and signature as fx_volume but as cheap as a command can be (records the level,
 * no reply): for comparing the cost of a call through CommandInvoker with a direct one. */
sb_status fx_bench_volume(sb_instance *instance, char *reply, size_t reply_size, const char *speaker,
                          int32_t level, bool ramp);

/* Calls fx_bench_volume `n` times directly (through a volatile pointer, so the compiler cannot
 * inline or drop the calls); returns how many returned SB_OK. Time it for the direct ns/call. */
uint64_t fx_direct_loop(uint64_t n);

/* "text:str n:i32": replies "text:n" and records nothing, so it may be called from many threads. */
sb_status fx_echo(sb_instance *instance, char *reply, size_t reply_size, const char *text, int32_t n);

/* The fixtures as a plugin lists them (SB_EXT_COMMANDS): name, signature and function, so tests
 * take the same path as the host. "volume", "all_types", "all_defaults" (fx_all_types with a
 * default for every parameter), "spill", "fail", "unterminated", "bench_volume", "echo". NULL if unknown. */
const sb_command *fx_command(const char *name);

#endif

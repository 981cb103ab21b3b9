/*
 * Host service: timers.
 * Part of the speakerbridge plugin ABI; plugins include speakerbridge_plugin.h.
 */
#ifndef SPEAKERBRIDGE_HOST_TIMERS_H
#define SPEAKERBRIDGE_HOST_TIMERS_H

#include "../core.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif

#endif /* SPEAKERBRIDGE_HOST_TIMERS_H */

/* The instance: the host's service tables, the settings, the speaker table, the lifecycle hub and
 * the discovery and in-flight bookkeeping. Everything lives on the instance's serial executor (the
 * host delivers HTTP answers, datagrams, timer ticks and NOTIFY routes there), so nothing here
 * needs a lock. Every module reads it; each field is written by the module named beside it. */
#ifndef SONOS_INSTANCE_H
#define SONOS_INSTANCE_H

#include <speakerbridge_plugin.h>

#include "config.h"
#include "hostapi.h"
#include "lifecycle.h"
#include "speakers.h"

#include <stdint.h>

#define SN_MAX_FETCHING 16
#define SN_FETCHES_PER_HOST 2
#define SN_MAX_FETCH_QUEUE 128

struct sn_announcement;
struct sn_describe_ctx;

struct sb_instance {
    const sb_host *host;
    const sb_host_log *log;
    const sb_host_timers *timers;
    const sb_host_publish *publish;
    const sb_host_operations *operations;
    const sb_host_http *http;
    const sb_host_udp *udp;
    const sb_host_routes *routes;
    const sb_host_websocket *ws;   /* NULL on hosts without it: no audioClip API then */
    sn_config config;
    sn_lifecycle hub;

    /* speakers.c */
    sn_speaker *speakers[SN_MAX_SPEAKERS];
    size_t speaker_count;
    /* The list handed to the host by count/get: visible speakers only, rebuilt on change. */
    sn_speaker *visible[SN_MAX_SPEAKERS];
    uint32_t visible_count;
    uint32_t refused_full;     /* new speakers refused because the table was full of live ones */

    /* discovery.c */
    uint64_t search_socket;    /* 0 when discovery is off or failed */
    uint64_t notify_socket;    /* port 1900 listener for alive/byebye; 0 when unavailable */
    uint64_t search_timer;
    uint64_t probe_timer;
    uint32_t search_round;
    char fetching[SN_MAX_FETCHING][512]; /* description URLs being fetched */
    /* Fetches waiting for a slot: at most SN_FETCHES_PER_HOST run per host at once, so one slow
     * or hostile description server cannot hold every slot. Oldest first. */
    struct sn_describe_ctx *fetch_queue[SN_MAX_FETCH_QUEUE];
    size_t fetch_queued;

    /* hostapi.c */
    sn_call *calls;            /* in-flight HTTP requests */

    /* announce.c */
    struct sn_announcement *announcements;
};

#endif

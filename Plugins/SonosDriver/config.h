/* The driver's settings (`sonos.json`), read once at create through the host's settings service:
 * unknown keys, wrong types and values out of range are refused with the key named. */
#ifndef SONOS_CONFIG_H
#define SONOS_CONFIG_H

#include <speakerbridge_plugin.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SN_MAX_STATIC 32

typedef struct sn_config {
    bool discovery;             /* SSDP on the interface; false: the static list only */
    char interface[64];         /* "" = the host's network.interface */
    char household[128];        /* Sonos household filter ("" = any) */
    char *static_speakers[SN_MAX_STATIC];
    size_t static_count;
    uint32_t search_interval_ms;  /* M-SEARCH rounds */
    uint32_t probe_interval_ms;   /* offline speakers are probed this often */
    uint32_t offline_after_ms;    /* not seen (SSDP, events, answers) for this long: probe it */
    uint32_t forget_after_ms;     /* offline and unseen this long: its table slot may go to a new device */
    uint32_t subscription_s;      /* GENA TIMEOUT asked for */
    uint32_t soap_timeout_ms;
    uint32_t announce_margin_ms;  /* wait past the clip's duration before giving up on STOPPED */
    bool renderers;               /* also plain MediaRenderer:1 devices */
    bool interrupt_unrestorable;  /* announce over a cloud queue / AirPlay anyway (and say so) */
    bool audio_clip;              /* the local audioClip API on players that list AUDIO_CLIP */
    char api_key[128];            /* X-Sonos-Api-Key for that API */
    uint16_t audio_clip_port;     /* its port: 1443 on every Sonos player (tests use another) */
} sn_config;

/* 0 and `out` filled (free it with sn_config_free), or -1 with the reason in `err`. `config_json`
 * is the same settings as text (create's argument), read only for the names of its keys. */
int sn_config_read(const sb_host *host, const sb_host_settings *settings, const char *config_json, sn_config *out,
                   char *err, size_t err_size);
void sn_config_free(sn_config *c);

#endif

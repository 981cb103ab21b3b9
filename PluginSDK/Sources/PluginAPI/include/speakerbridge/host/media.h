/*
 * Host service: the media store.
 * Part of the speakerbridge plugin ABI; plugins include speakerbridge_plugin.h.
 */
#ifndef SPEAKERBRIDGE_HOST_MEDIA_H
#define SPEAKERBRIDGE_HOST_MEDIA_H

#include "../core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The media store: bytes in, a URL the speakers can fetch out. */
#define SB_HOST_EXT_MEDIA "speakerbridge.host.media/1"
typedef struct sb_host_media {
    uint32_t struct_size;
    /* [any-thread] Stores a clip (copied) and writes its URL into `url`. `mime` e.g. "audio/wav". */
    sb_status (*put)(const sb_host *host, const void *data, size_t size, const char *mime,
                     uint32_t ttl_seconds, char *url, size_t url_size);
} sb_host_media;

#ifdef __cplusplus
}
#endif

#endif /* SPEAKERBRIDGE_HOST_MEDIA_H */

/*
 * The disk cache of synthesised clips (cache.c): SHA-256 keys, atomic writes, LRU eviction by mtime.
 * Internal to the espeak-ng plugin; nothing here crosses the plugin ABI.
 */
#ifndef TTS_ESPEAK_CACHE_H
#define TTS_ESPEAK_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define CACHE_KEY_HEX 64 /* SHA-256 as lowercase hex, without the NUL */

/* Hashes `count` strings into a key. Each string is length-prefixed, so ("ab","c") and ("a","bc")
 * give different keys. `out` receives CACHE_KEY_HEX characters and a NUL. */
void cache_key(const char *const *fields, size_t count, char out[CACHE_KEY_HEX + 1]);

typedef struct tts_cache tts_cache;

/* Creates `dir` if missing (one level) and checks it is a writable directory. */
int cache_open(tts_cache **out, const char *dir, uint64_t max_bytes, char *err, size_t err_size);
void cache_close(tts_cache *cache);

/* Hit: returns 1 with a malloc'd copy of the file in *data (caller frees) and marks the entry as
 * recently used (its mtime becomes now). Miss or unreadable entry: returns 0. */
int cache_get(tts_cache *cache, const char *key, unsigned char **data, size_t *size);

/* Drops an entry (used when a cached file turns out to be damaged). */
void cache_remove(tts_cache *cache, const char *key);

/* Writes the entry atomically (temporary file + rename), then evicts least recently used entries
 * until the cache is within its size. A clip larger than the whole cache is not stored. Returns 0,
 * or -1 with the reason in `err`. */
int cache_put(tts_cache *cache, const char *key, const void *data, size_t size, char *err, size_t err_size);

/* Bytes the cache's entries use on disk right now (a directory scan). */
uint64_t cache_bytes(tts_cache *cache);

#endif

/*
 * speakerbridge plugin ABI 1.1 — the one header speaker and TTS drivers include.
 *
 * It gathers the parts, the way CLAP's clap.h does:
 *   speakerbridge/core.h       versions, the rules every part follows, status codes, the host
 *                              and the plugin descriptor — read its opening comment first
 *   speakerbridge/host/NAME.h  the services the host offers (SB_HOST_EXT_*), one per file: log,
 *                              timers, publish, operations, http, udp, routes, websocket, media,
 *                              settings
 *   speakerbridge/ext/NAME.h   the capabilities a plugin offers (SB_EXT_*): speaker, tts, state,
 *                              commands
 * Including a part alone works too, but plugins include this header only, so a new part needs no
 * change in them. C11 (or C++) with <stdint.h>, <stddef.h> and <stdbool.h> only.
 *
 * Compile against it alone:  cc -shared -fPIC $(pkg-config --cflags speakerbridge-plugin) …
 */
#ifndef SPEAKERBRIDGE_PLUGIN_H
#define SPEAKERBRIDGE_PLUGIN_H

#include "speakerbridge/core.h"

#include "speakerbridge/host/log.h"
#include "speakerbridge/host/timers.h"
#include "speakerbridge/host/publish.h"
#include "speakerbridge/host/operations.h"
#include "speakerbridge/host/http.h"
#include "speakerbridge/host/udp.h"
#include "speakerbridge/host/routes.h"
#include "speakerbridge/host/websocket.h"
#include "speakerbridge/host/media.h"
#include "speakerbridge/host/settings.h"

#include "speakerbridge/ext/speaker.h"
#include "speakerbridge/ext/tts.h"
#include "speakerbridge/ext/state.h"
#include "speakerbridge/ext/commands.h"

#endif /* SPEAKERBRIDGE_PLUGIN_H */

/* Compile-time checks that the public header is plain C11 and that the 1.0 layout holds: a field
 * moved by accident would break every plugin already built. Fields added since (docs/abi.md) sit
 * after the 1.0 ones. */
#include "speakerbridge_plugin.h"

_Static_assert(sizeof(sb_status) == 4, "status is int32_t");
_Static_assert(offsetof(sb_plugin_descriptor, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(sb_host, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(sb_command, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(sb_http_request, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(sb_ws_request, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(sb_host_websocket, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(sb_host_settings, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(sb_speaker_info, struct_size) == 0, "struct_size first");
/* Fields added after 1.0 go at the end: the 1.0 part of a grown struct must not move. */
_Static_assert(offsetof(sb_http_request, flags) == offsetof(sb_http_request, max_response_size) + sizeof(size_t),
               "sb_http_request.flags comes right after the 1.0 fields");
_Static_assert(offsetof(sb_speaker_info, address) == offsetof(sb_speaker_info, group) + sizeof(const char *),
               "sb_speaker_info.address comes right after the 1.0 fields");
#if defined(__x86_64__) || defined(__aarch64__)
_Static_assert(sizeof(sb_plugin_descriptor) == 72, "descriptor 1.0 layout (LP64)");
_Static_assert(sizeof(sb_host) == 40, "host 1.0 layout (LP64)");
_Static_assert(sizeof(sb_command) == 40, "command 1.0 layout (LP64)");
/* 1.0 ended at max_response_size (72 bytes); the host accepts struct_size >= 72 and reads
 * `flags` only from a struct of at least 76. */
_Static_assert(offsetof(sb_http_request, max_response_size) == 64, "http request 1.0 layout (LP64)");
_Static_assert(offsetof(sb_http_request, flags) == 72, "http request: flags after the 1.0 layout (LP64)");
_Static_assert(sizeof(sb_http_request) == 80, "http request layout (LP64)");
_Static_assert(offsetof(sb_ws_request, url) == 8, "websocket request layout (LP64)");
_Static_assert(offsetof(sb_ws_request, subprotocol) == 32, "websocket request layout (LP64)");
_Static_assert(offsetof(sb_ws_request, flags) == 40, "websocket request layout (LP64)");
_Static_assert(offsetof(sb_ws_request, timeout_ms) == 44, "websocket request layout (LP64)");
_Static_assert(offsetof(sb_ws_request, max_message_size) == 48, "websocket request layout (LP64)");
_Static_assert(sizeof(sb_ws_request) == 56, "websocket request layout (LP64)");
_Static_assert(sizeof(sb_host_websocket) == 32, "websocket table layout (LP64)");
/* 1.0 ended at group (40 bytes); 1.1 added address. */
_Static_assert(offsetof(sb_speaker_info, group) == 32, "speaker info 1.0 layout (LP64)");
_Static_assert(sizeof(sb_speaker_info) == 48, "speaker info layout (LP64)");
_Static_assert(sizeof(sb_host_settings) == 48, "settings table layout (LP64)");
#endif

/* The module needs one symbol to be a library. */
unsigned speakerbridge_plugin_abi_version(void) { return (SB_ABI_MAJOR << 16) | SB_ABI_MINOR; }

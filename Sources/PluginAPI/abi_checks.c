/* Compile-time checks that the public header is plain C11 and that the 1.0 layout holds: a field
 * moved by accident would break every plugin already built. */
#include "speakerbridge_plugin.h"

_Static_assert(sizeof(sb_status) == 4, "status is int32_t");
_Static_assert(offsetof(sb_plugin_descriptor, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(sb_host, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(sb_command, struct_size) == 0, "struct_size first");
#if defined(__x86_64__) || defined(__aarch64__)
_Static_assert(sizeof(sb_plugin_descriptor) == 72, "descriptor 1.0 layout (LP64)");
_Static_assert(sizeof(sb_host) == 40, "host 1.0 layout (LP64)");
_Static_assert(sizeof(sb_command) == 40, "command 1.0 layout (LP64)");
#endif

/* The module needs one symbol to be a library. */
unsigned speakerbridge_plugin_abi_version(void) { return (SB_ABI_MAJOR << 16) | SB_ABI_MINOR; }

/* Fixture: a valid shared object that does not export speakerbridge_plugin_entry.
 * The host must refuse it as "missing entry" (PluginRejection.missingEntry), not crash. It does
 * export another symbol, so it is a real library and dlopen succeeds. */
#include <speakerbridge_plugin.h>

SB_EXPORT int speakerbridge_fixture_no_entry(void);
SB_EXPORT int speakerbridge_fixture_no_entry(void) { return 42; }

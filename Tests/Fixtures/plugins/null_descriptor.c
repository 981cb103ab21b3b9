/* Fixture: the entry point exists but returns NULL (PluginRejection.nullDescriptor). */
#include <speakerbridge_plugin.h>

SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void);
SB_EXPORT const sb_plugin_descriptor *speakerbridge_plugin_entry(void) { return NULL; }

# The build rules every C plugin shares. A plugin's Makefile sets what is its own and then
# includes this file, so each plugin still builds alone from its folder (`make -C <folder>`):
#
#   HERE := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))   its folder, before any include
#   OUT ?= name.so                 the library (callers may pass OUT=/elsewhere/x.so)
#   SOURCES := $(HERE)a.c …        compiled into it, in one step
#   HEADERS := $(HERE)a.h …        optional: a change to one rebuilds it
#   PLUGIN_LIBS := -lfoo           optional: link flags after the sources
#   PLUGIN_EXTRA_CFLAGS := …       optional: flags of the plugin's own (a library's include path)
#   CLEAN_EXTRA := …               optional: more for `make clean` to remove
#   include $(HERE)../../PluginSDK/plugin.mk
#
# It gives `all` (the default), `clean`, and ALL_CFLAGS for rules the plugin adds after the include
# (unit tests). Callers may set CFLAGS (default -O2 -g), CFLAGS_EXTRA (last, so it overrides
# anything before it: the test suite passes -D options for variants) and LDFLAGS.

# This file's folder: the SDK, whose helpers/ and fallback header the plugin may use.
SDK := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))

PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g
CFLAGS_EXTRA ?=

# The header comes from pkg-config (installed with `scripts/plugin-dev.sh install`). Inside the
# speakerbridge source tree we can fall back to the SDK's own copy; a plugin in its own repository
# should require pkg-config instead.
ifeq ($(shell $(PKG_CONFIG) --exists speakerbridge-plugin 2>/dev/null && echo yes),yes)
PLUGIN_CFLAGS := $(shell $(PKG_CONFIG) --cflags speakerbridge-plugin)
FALLBACK :=
else
PLUGIN_CFLAGS := -I$(SDK)Sources/PluginAPI/include
FALLBACK := yes
endif

# The header-only helpers (not part of the ABI) live next to this file.
HELPERS_CFLAGS := -I$(SDK)helpers
HELPERS := $(wildcard $(SDK)helpers/speakerbridge/helpers/*.h)

# -fvisibility=hidden: only what is marked SB_EXPORT (the entry point) leaves the library.
ALL_CFLAGS = -std=c11 -Wall -Wextra -pedantic -fPIC -shared -fvisibility=hidden \
             $(PLUGIN_CFLAGS) $(HELPERS_CFLAGS) $(PLUGIN_EXTRA_CFLAGS) $(CFLAGS) $(CFLAGS_EXTRA)
ALL_LIBS = $(PLUGIN_LIBS)

.PHONY: all clean FORCE
all: $(OUT)

# Tests build several variants of one source in a row with different -D options, so the library
# also depends on a file holding the command line; it is rewritten only when that changes.
FLAGS_FILE = $(OUT).flags
ifneq ($(file <$(FLAGS_FILE)),$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(ALL_LIBS))
$(FLAGS_FILE): FORCE
endif
$(FLAGS_FILE):
	$(file >$@,$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(ALL_LIBS))

$(OUT): $(SOURCES) $(HEADERS) $(HELPERS) $(FLAGS_FILE)
ifeq ($(FALLBACK),yes)
	@echo "note: pkg-config cannot find speakerbridge-plugin; using the header in this source tree" \
	      "($(PLUGIN_CFLAGS)). Run scripts/plugin-dev.sh install, or set PKG_CONFIG_PATH."
endif
	$(CC) $(ALL_CFLAGS) -o $@ $(SOURCES) $(LDFLAGS) $(ALL_LIBS)

clean:
	rm -rf $(OUT) $(FLAGS_FILE) $(CLEAN_EXTRA)

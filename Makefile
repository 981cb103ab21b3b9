# speakerbridge: `make run` starts the daemon, `make test` runs the whole suite; both install what
# they need first (apt-get when root).
SWIFT ?= swift
ARGS ?=
BENCH_ARGS ?=
SOAK_ARGS ?= --chaos

PLUGINS_DIR := $(CURDIR)/out/plugins
SOAK_PLUGINS_DIR := $(CURDIR)/out/soak-plugins
HA_VENV ?= $(CURDIR)/out/ha-venv

.PHONY: deps test-deps ha-env build plugins run test test-brokers test-browser screenshots bench soak demo clean install

# make install: where things go. PREFIX=/usr for a distribution package; DESTDIR stages the tree.
PREFIX ?= /usr/local
DESTDIR ?=
UNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL_PLUGINS := $(PREFIX)/lib/speakerbridge/plugins
# The binary to install; empty: the release build (made first). The tests pass their debug build.
INSTALL_BIN ?=

deps:
	@scripts/install-deps.sh

test-deps:
	@scripts/install-deps.sh test

## The pinned Home Assistant the integration tests run against (a Python 3.13 venv; reused while
## Tests/HomeAssistant/requirements.txt is unchanged). Elsewhere: make test HA_VENV=~/.cache/sb-ha
ha-env:
	@scripts/ha-env.sh $(HA_VENV)

build: deps
	$(SWIFT) build -c release --product speakerbridge

## The bundled plugins (the espeak-ng TTS engine and the Sonos/UPnP driver), built into out/plugins
## with their settings (kept when they exist: edit out/plugins/sonos.json to set an interface or
## static speakers).
plugins: deps
	@mkdir -p $(PLUGINS_DIR) && chmod 755 $(CURDIR)/out $(PLUGINS_DIR)
	$(MAKE) -s -C Plugins/TTSDriver OUT=$(PLUGINS_DIR)/tts-espeak.so
	@test -f $(PLUGINS_DIR)/tts-espeak.json || printf '{"cache_dir": "%s"}\n' "$(CURDIR)/out/tts-cache" > $(PLUGINS_DIR)/tts-espeak.json
	$(MAKE) -s -C Plugins/SonosDriver OUT=$(PLUGINS_DIR)/sonos.so
	@test -f $(PLUGINS_DIR)/sonos.json || printf '{}\n' > $(PLUGINS_DIR)/sonos.json

## Run the daemon in the foreground, with the bundled plugins and whatever else is in PLUGINS_DIR.
## Extra arguments: make run ARGS="--config /etc/speakerbridge.yaml"
run: build plugins
	.build/release/speakerbridge run --set plugins.path=$(PLUGINS_DIR) $(ARGS)

## The plugin suites run a second time with every test daemon's plugins in the other isolation mode
## (the one that is not the default of plugins.isolation): flip PLUGIN_SECOND_PASS with the default.
## Suites that set plugins.isolation themselves (IsolationTests, PluginStopTests) are not repeated.
PLUGIN_SECOND_PASS ?= inline
## The Sonos suites (5 min) run in the default mode only: the driver's code is the same in both modes,
## and the host services it uses are covered inline by the Plugin* suites. Add them for a full check:
## make test PLUGIN_SUITES='IntegrationTests\.(Plugin[A-Za-z]*Tests|ReloadUnderLoadTests|ABICompatibilityTests|Sonos[A-Za-z]*Tests)/'
PLUGIN_SUITES ?= IntegrationTests\.(Plugin(Network|Settings|SettingsService|WebSocket)?Tests|ReloadUnderLoadTests|ABICompatibilityTests)/

## The whole suite: the host folders' layering (no cycles, none used from below), the C plugins' unit
## tests (ASan/UBSan), then the Swift unit and integration tests against real mosquitto brokers and,
## as root, real gmediarender speakers and headless Chromium (the status page) in network namespaces;
## then the plugin suites once more in the other plugin isolation mode (PLUGIN_SECOND_PASS).
test: test-deps ha-env
	python3 scripts/folder-deps.py --depth 2 --quiet
	$(MAKE) -s -C Plugins/SonosDriver check
	$(MAKE) -s -C Plugins/TTSDriver check
	$(SWIFT) build --build-tests
	SB_TEST_HA_VENV=$(HA_VENV) SPEAKERBRIDGE_BIN=$(CURDIR)/.build/debug/speakerbridge $(SWIFT) test --skip-build \
		--skip BrokerClusterTests
	SB_TEST_PLUGIN_ISOLATION=$(PLUGIN_SECOND_PASS) SPEAKERBRIDGE_BIN=$(CURDIR)/.build/debug/speakerbridge \
		$(SWIFT) test --skip-build --filter '$(PLUGIN_SUITES)'

## The daemon against other brokers (not part of `make test` or CI: RabbitMQ alone needs ~25 s to
## form its cluster): 3-node RabbitMQ (quorum queues) and NATS (JetStream) clusters, each node
## killed with -9 under the daemon during 1,000 QoS 1 requests (failover, nothing lost or doubled),
## and amqtt and mosquitto single nodes with protocol auto. All on 127.0.0.1, free ports, temp dirs.
AMQTT_VENV ?= $(CURDIR)/out/amqtt-venv
test-brokers: test-deps
	@scripts/install-deps.sh brokers $(AMQTT_VENV)
	$(SWIFT) build --build-tests
	SB_TEST_AMQTT_VENV=$(AMQTT_VENV) SPEAKERBRIDGE_BIN=$(CURDIR)/.build/debug/speakerbridge \
		$(SWIFT) test --skip-build --filter BrokerClusterTests

## The status page in a real browser alone (WebPageTests, root; also part of `make test`): headless
## Chromium driven over WebDriver, both inside a network namespace of their own that reaches only the
## daemon's admin listener. The screenshots go to out/screenshots; `make screenshots` writes them into
## docs/screenshots, which the README shows.
SB_SCREENSHOTS_DIR ?=
test-browser: test-deps
	$(SWIFT) build --build-tests
	SB_SCREENSHOTS_DIR=$(SB_SCREENSHOTS_DIR) SPEAKERBRIDGE_BIN=$(CURDIR)/.build/debug/speakerbridge \
		$(SWIFT) test --skip-build --filter WebPageTests

screenshots:
	$(MAKE) test-browser SB_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots

## Benchmarks of the session issue and the Sonos driver: prints the numbers the README quotes
## (the driver's SSDP/UPnP parts need root: they run in network namespaces of their own).
## One part only: make bench BENCH_ARGS="--only sonos"
bench: test-deps
	$(SWIFT) build -c release --product speakerbridge
	$(SWIFT) build -c release --product speakerbridge-bench
	.build/release/speakerbridge-bench --daemon $(CURDIR)/.build/release/speakerbridge $(BENCH_ARGS)

## The 5-minute stability test on a private broker and daemon (loopback only): announcements to four
## log speakers through random broker restarts and daemon kills; exit 1 if one was lost or duplicated.
## Other settings: make soak SOAK_ARGS="--duration 30s --rate 10/s --restart-broker-every 10"
soak: build
	@mkdir -p $(SOAK_PLUGINS_DIR) && chmod 755 $(CURDIR)/out $(SOAK_PLUGINS_DIR)
	$(MAKE) -s -C Plugins/TTSDriver OUT=$(SOAK_PLUGINS_DIR)/tts-espeak.so
	@test -f $(SOAK_PLUGINS_DIR)/tts-espeak.json || printf '{"cache_dir": "%s"}\n' "$(CURDIR)/out/soak-tts-cache" > $(SOAK_PLUGINS_DIR)/tts-espeak.json
	$(MAKE) -s -C Examples/log-speaker OUT=$(SOAK_PLUGINS_DIR)/log-speaker.so
	@printf '{"log": "%s", "speakers": ["A", "B", "C", "D"]}\n' "$(CURDIR)/out/soak-played.log" > $(SOAK_PLUGINS_DIR)/log-speaker.json
	.build/release/speakerbridge soak --start-daemon --plugins $(SOAK_PLUGINS_DIR) $(SOAK_ARGS)

## End to end on a private network of namespaces (root): the daemon, a broker and two real UPnP
## speakers (gmediarender "Kitchen" and "Office"); each says a sentence, recorded in out/demo/*.wav.
demo:
	@SWIFT=$(SWIFT) scripts/demo.sh

## The release binary, the bundled plugins (with settings for the service: the TTS cache in
## /var/cache/speakerbridge), the systemd unit and an example configuration. Settings files that
## exist already (plugin NAME.json, /etc/speakerbridge/speakerbridge.yaml) are kept.
## make install PREFIX=/usr DESTDIR=/tmp/stage
install: plugins
ifeq ($(INSTALL_BIN),)
	$(MAKE) build
endif
	install -D -m 755 $(or $(INSTALL_BIN),.build/release/speakerbridge) $(DESTDIR)$(PREFIX)/bin/speakerbridge
	install -d -m 755 $(DESTDIR)$(INSTALL_PLUGINS)
	install -m 644 $(PLUGINS_DIR)/tts-espeak.so $(PLUGINS_DIR)/sonos.so $(DESTDIR)$(INSTALL_PLUGINS)/
	@test -f $(DESTDIR)$(INSTALL_PLUGINS)/tts-espeak.json || printf '{"cache_dir": "/var/cache/speakerbridge/tts"}\n' > $(DESTDIR)$(INSTALL_PLUGINS)/tts-espeak.json
	@test -f $(DESTDIR)$(INSTALL_PLUGINS)/sonos.json || printf '{}\n' > $(DESTDIR)$(INSTALL_PLUGINS)/sonos.json
	chmod 644 $(DESTDIR)$(INSTALL_PLUGINS)/*.json
	install -d -m 755 $(DESTDIR)$(UNITDIR)
	sed 's|/usr/local/|$(PREFIX)/|g' packaging/speakerbridge.service > $(DESTDIR)$(UNITDIR)/speakerbridge.service
	chmod 644 $(DESTDIR)$(UNITDIR)/speakerbridge.service
	install -d -m 755 $(DESTDIR)/etc/speakerbridge
	@if test -f $(DESTDIR)/etc/speakerbridge/speakerbridge.yaml; then \
	    echo "kept $(DESTDIR)/etc/speakerbridge/speakerbridge.yaml (the new example is packaging/speakerbridge.yaml)"; \
	else \
	    sed 's|/usr/local/|$(PREFIX)/|g' packaging/speakerbridge.yaml > $(DESTDIR)/etc/speakerbridge/speakerbridge.yaml && \
	    chmod 644 $(DESTDIR)/etc/speakerbridge/speakerbridge.yaml; \
	fi

## The container image (root, podman): `make image` builds it without a registry (a Debian base made
## from the mirror, this machine's Swift toolchain bound into the build); `make image-test` (builds it
## if missing) runs it with its embedded broker and no network: healthy, speaks, stops cleanly.
.PHONY: image-deps image image-test
image-deps:
	@scripts/install-deps.sh image

image: image-deps
	@scripts/image-build.sh

image-test: image-deps
	@scripts/image-test.sh

clean:
	rm -rf .build out

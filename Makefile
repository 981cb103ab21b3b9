# speakerbridge: `make run` starts the daemon, `make test` runs the whole suite; both install what
# they need first (apt-get when root).
SWIFT ?= swift
ARGS ?=

.PHONY: deps test-deps build run test bench clean

deps:
	@scripts/install-deps.sh

test-deps:
	@scripts/install-deps.sh test

build: deps
	$(SWIFT) build -c release --product speakerbridge

## Run the daemon in the foreground. Extra arguments: make run ARGS="--config /etc/speakerbridge.yaml"
run: build
	.build/release/speakerbridge run $(ARGS)

## The whole suite: unit tests and integration tests against real mosquitto brokers (netns tests need root).
test: test-deps
	$(SWIFT) build --build-tests
	SPEAKERBRIDGE_BIN=$(CURDIR)/.build/debug/speakerbridge $(SWIFT) test --skip-build

## Benchmarks of the session issue: prints the numbers the README quotes.
bench: test-deps
	$(SWIFT) build -c release --product speakerbridge
	$(SWIFT) build -c release --product speakerbridge-bench
	.build/release/speakerbridge-bench --daemon $(CURDIR)/.build/release/speakerbridge

clean:
	rm -rf .build

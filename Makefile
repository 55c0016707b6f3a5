# Two set-up commands (README): `make run` and `make test`. Both install what
# they need on a fresh Debian 12 + Swift machine (as root) and then work.
SHELL := /bin/bash
SWIFT ?= swift
APT_RUN  := libsystemd-dev
APT_TEST := libsystemd-dev systemd systemd-container debootstrap ngircd dpkg-dev lintian iproute2 procps zsh fish strace
PIP_TEST := websockets pytest prometheus_client
PYTHON ?= python3
FUZZ_SECONDS ?= 30

.PHONY: run test deps-run deps-test build build-release unit e2e autobahn fuzz bench soak deb test-system clean

deps-run:
	@dpkg -s $(APT_RUN) >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_RUN); }

deps-test:
	@dpkg -s $(APT_TEST) >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_TEST); }
	@$(PYTHON) -c 'import websockets, pytest, prometheus_client, sys; sys.exit(int(websockets.__version__.split(".")[0]) < 12)' 2>/dev/null \
		|| $(PYTHON) -m pip install -q --root-user-action=ignore $(PIP_TEST)

build: deps-run
	$(SWIFT) build --product openclaw

build-release: deps-run
	$(SWIFT) build -c release --static-swift-stdlib --product openclaw

## Run the gateway in the foreground on 127.0.0.1:18789 with its embedded defaults.
run: build
	$$($(SWIFT) build --show-bin-path)/openclaw gateway

## The whole suite: unit tests, fuzzing (bounded), end-to-end, Autobahn, and the booted-systemd suite.
test: deps-test
	$(MAKE) unit
	$(MAKE) fuzz
	$(MAKE) e2e
	$(MAKE) autobahn
	$(MAKE) test-system

unit: deps-run
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

e2e: build
	OPENCLAW_BIN=$$($(SWIFT) build --show-bin-path)/openclaw $(PYTHON) -m pytest -q Tests/e2e

## The Autobahn TestSuite (cases 1-10, about a minute) against an echo server on the codec and reactor.
## The first run installs wstest (Python 2.7) under /var/cache/openclaw-gateway-tests/autobahn (OPENCLAW_TEST_CACHE).
autobahn: deps-run
	$(SWIFT) build --product AutobahnEcho
	AUTOBAHN_ECHO=$$($(SWIFT) build --show-bin-path)/AutobahnEcho $(PYTHON) -m pytest -q -s Tests/autobahn

fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)

bench: deps-test
	scripts/bench.sh

## The chaos soak (about 10 minutes; not part of `test`): table in docs/RELIABILITY.md.
soak: deps-test
	scripts/soak.sh

clean:
	rm -rf .build out

-include Tests/system/system.mk

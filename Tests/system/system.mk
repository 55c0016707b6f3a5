# Targets `deb` and `test-system`; the top-level Makefile includes this file,
# and `make -f Tests/system/system.mk test-system` works on its own too.
# Both install what they need first (a fresh machine of this kind has none of
# debootstrap, systemd-nspawn, lintian or the libsystemd headers).

OPENCLAW_SYS_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
OPENCLAW_REPO := $(abspath $(OPENCLAW_SYS_DIR)/../..)
OPENCLAW_SYS_APT := debootstrap systemd-container dpkg-dev lintian libsystemd-dev pkg-config strace
PYTEST_ARGS ?= -v

.PHONY: deb test-system system-test-deps

system-test-deps:
	@missing=$$(for p in $(OPENCLAW_SYS_APT); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	    | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing $$missing"; apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; fi
	@python3 -c 'import pytest' 2>/dev/null || python3 -m pip install -q pytest

deb: system-test-deps
	$(OPENCLAW_REPO)/packaging/build-deb.sh

test-system: deb
	cd $(OPENCLAW_SYS_DIR) && \
	OPENCLAW_TEST_DEB=$$(ls -t $(OPENCLAW_REPO)/out/openclaw_*_$$(dpkg --print-architecture).deb | head -1) \
	python3 -m pytest -p no:cacheprovider $(PYTEST_ARGS) .

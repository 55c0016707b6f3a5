#!/usr/bin/env bash
# The chaos soak (about 10 minutes plus the .deb build and a container boot; not
# part of `make test`): see scripts/soak/soak.py and docs/RELIABILITY.md.
#   scripts/soak.sh                     # 600 s, 1,000 clients, 20 slow consumers
#   SOAK_DURATION=180 scripts/soak.sh   # a shorter run
#   OPENCLAW_TEST_DEB=out/openclaw_…deb scripts/soak.sh
# Needs root (systemd-nspawn) and what `make test` installs (debootstrap, ngircd).
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/soak/soak.py

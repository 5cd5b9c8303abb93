#!/usr/bin/env bash
# System packages the test suite needs that pip can't provide: Debian's Chromium for the
# browser tests (Playwright drives it through executable_path; it never downloads one).
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x /usr/bin/chromium ]; then
  echo "system-deps: installing Chromium from Debian's packages"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
echo "system-deps: $(/usr/bin/chromium --version 2>/dev/null || echo 'chromium missing')"

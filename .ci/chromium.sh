#!/usr/bin/env bash
# Headless Chromium for the dashboard's browser test: installs Debian's chromium and
# chromium-driver when either is missing (from the distribution's package registry only).
# Selenium itself comes from pip with the project's dev extra.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
SUDO=""
if [[ "$(id -u)" != 0 ]]; then SUDO="sudo -n"; fi
echo "chromium.sh: installing chromium and chromium-driver with apt-get" >&2
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >&2
command -v chromium >/dev/null && command -v chromedriver >/dev/null

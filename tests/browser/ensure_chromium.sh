#!/bin/sh
# Installs the Debian Chromium and its WebDriver for the browser tests (tests/browser) when they are missing.
# Only as root (CI and the project's machines); elsewhere it says what to install and leaves the choice to you:
# the tests then skip loudly, or fail under CI=true.
set -eu
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "Chromium is missing: install the Debian packages chromium and chromium-driver for the browser tests." >&2
    exit 0
fi
echo "installing chromium and chromium-driver for the browser tests"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null

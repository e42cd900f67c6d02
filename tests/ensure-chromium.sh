#!/bin/sh
# The browser test drives Debian's Chromium through Playwright (never a downloaded browser).
# Install it when we can (root with apt-get); otherwise say so: that test then skips, visibly.
[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser test..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "Could not install chromium: the browser test will skip." >&2
else
  echo "No /usr/bin/chromium and no root to install it: the browser test will skip (apt-get install chromium)." >&2
fi
exit 0

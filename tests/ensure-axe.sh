#!/bin/sh
# The accessibility check (tests/e2e/chromium/test_accessibility.py) runs axe-core in the page. It comes
# from the npm registry, pinned in tests/axe/package-lock.json; never served by the app.
[ -f tests/axe/node_modules/axe-core/axe.min.js ] && exit 0
if command -v npm >/dev/null 2>&1; then
  echo "Installing axe-core for the accessibility check..."
  npm ci --prefix tests/axe --no-audit --no-fund --loglevel=error >/dev/null \
    || echo "Could not install axe-core: the accessibility check will skip." >&2
else
  echo "No npm: the accessibility check will skip (install Node.js and npm)." >&2
fi
exit 0

#!/bin/sh
# Print the path of a Python >= 3.12 (Django 6 needs it), or explain and fail.
# Looks at $PYTHON, then python3.14/3.13/3.12 and python3 on PATH, then pyenv's versions.
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; }
for candidate in "${PYTHON:-}" python3.14 python3.13 python3.12 python3; do
  [ -n "$candidate" ] || continue
  path=$(command -v "$candidate" 2>/dev/null) || continue
  if ok "$path"; then echo "$path"; exit 0; fi
done
root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for path in $(ls -d "$root"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do
  if ok "$path"; then echo "$path"; exit 0; fi
done
echo "No Python 3.12 or newer found (Django 6 needs it)." >&2
echo "Install one (e.g. 'pyenv install 3.13' or your system's python3.13 package)," >&2
echo "or point PYTHON at it: make run PYTHON=/path/to/python3.13" >&2
exit 1

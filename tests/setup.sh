#!/usr/bin/env bash
# Everything the tests need, from a fresh clone: a virtualenv with slugprof and its test tools (gunicorn,
# pytest, ruff, mypy, ...), and Debian's Chromium for the test that opens the HTML report in a browser.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install -q -e '.[test]'

if ! command -v chromium >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        as_root=()
        [ "$(id -u)" = 0 ] || as_root=(sudo)
        "${as_root[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq chromium >/dev/null
    else
        echo "tests/setup.sh: install Chromium (the 'chromium' command) for the HTML report's browser test" >&2
    fi
fi

#!/usr/bin/env bash
# Regenerate the example reports in this folder from the sample apps, the one documented way:
#   bash reports/generate.sh            (from anywhere; needs Python 3.13 and the package index;
#                                        PYTHON313=/path/to/python3.13 to name another one)
# Each app gets its own .venv (Python 3.13, its requirements and memray). `slugprof analyze` (all four)
# and `slugprof profile` (two) save a JSON report; the text report is rendered from that saved JSON, so
# both show the same run. slugprof runs with HOME set to the repository, so the app roots the reports
# save read `~/sample_apps/<app>` on every machine.
set -euo pipefail
repository="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repository"
python="$repository/.venv/bin/python"
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-$HOME/.cache}"

for app in flask_basic django_whitenoise fastapi_gunicorn bloated; do
    venv="sample_apps/$app/.venv"
    if [ ! -x "$venv/bin/python" ]; then
        "${PYTHON313:-python3.13}" -m venv "$venv"
        "$venv/bin/python" -m pip install -q -r "sample_apps/$app/requirements.txt" memray
    fi
    HOME="$repository" "$python" -m slugprof analyze "sample_apps/$app" -q -o "reports/$app.analyze.json"
done
for app in flask_basic bloated; do
    HOME="$repository" "$python" -m slugprof profile "sample_apps/$app" -q --requests 30 \
        -o "reports/$app.profile.json"
done

HOME="$repository" "$python" - <<'PYTHON'
from pathlib import Path

from slugprof.cli.output import render
from slugprof.model.saved import load_report

for saved in sorted(Path("reports").glob("*.json")):
    text = render(load_report(saved), "terminal", to_terminal=False)
    saved.with_suffix(".txt").write_text(text, encoding="utf-8")
PYTHON

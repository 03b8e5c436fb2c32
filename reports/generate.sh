#!/usr/bin/env bash
# Regenerate the example reports in this folder from the sample apps, the one documented way:
#   bash reports/generate.sh            (from anywhere; needs Python 3.13 and the package index;
#                                        PYTHON313=/path/to/python3.13 to name another one)
# Each pip app gets its own .venv (Python 3.13, its requirements and memray); the uv, Poetry and Pipenv
# apps are resolved for the dyno from their locks. `slugprof analyze` (all seven) and `slugprof profile`
# (two) save a JSON report; the text, Markdown and HTML reports are rendered from that saved JSON, so all
# show the same run. slugprof runs with HOME set to the repository, so the app roots the reports
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
# The lock-file apps have no .venv: their dependencies are resolved for the dyno from their locks.
for app in uv_app poetry_app pipenv_app; do
    HOME="$repository" "$python" -m slugprof analyze "sample_apps/$app" -q -o "reports/$app.analyze.json"
done
for app in flask_basic bloated; do
    HOME="$repository" "$python" -m slugprof profile "sample_apps/$app" -q --requests 30 \
        -o "reports/$app.profile.json"
done

HOME="$repository" "$python" - <<'PYTHON'
from pathlib import Path

from slugprof.cli.output import render, render_pair
from slugprof.model import AnalyzeReport
from slugprof.model.saved import load_report

for saved in sorted(Path("reports").glob("*.json")):
    text = render(load_report(saved), "terminal", to_terminal=False)
    saved.with_suffix(".txt").write_text(text, encoding="utf-8")
# Markdown and HTML: one per app, its analysis and (where there is one) its profile together.
for analysis in sorted(Path("reports").glob("*.analyze.json")):
    app = analysis.name.removesuffix(".analyze.json")
    report = load_report(analysis)
    assert isinstance(report, AnalyzeReport)
    profile_path = analysis.with_name(f"{app}.profile.json")
    profile = load_report(profile_path) if profile_path.exists() else None
    for output_format, extension in (("markdown", "md"), ("html", "html")):
        text = render_pair(report, profile, output_format, to_terminal=False)
        Path("reports", f"{app}.{extension}").write_text(text, encoding="utf-8")
PYTHON

# The README's picture of the HTML report: bloated's page in headless Chromium (Playwright, from the
# test extra, driving Debian's chromium).
"$python" - <<'PYTHON'
import shutil
from pathlib import Path

from playwright.sync_api import sync_playwright

page_file = Path("reports/bloated.html").resolve()
with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path=shutil.which("chromium"))
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(page_file.as_uri())
    page.screenshot(path="reports/bloated.png")
    browser.close()
print("wrote reports/bloated.png")
PYTHON

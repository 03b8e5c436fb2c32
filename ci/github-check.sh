#!/usr/bin/env bash
# The check step of the slugprof GitHub Action (action.yml). Inputs arrive as CHECK_* environment variables
# (never interpolated into this script), the report files go to $RUNNER_TEMP, the outputs to
# $GITHUB_OUTPUT. It exits with check's code after writing everything, so the upload step (which runs
# always) still has the HTML report of a failing check.
set -uo pipefail

app="${CHECK_APP:-.}"
out="${RUNNER_TEMP:?RUNNER_TEMP is set by the runner}"
arguments=(check "$app" -q --write-baseline "$out/slugprof-results.json"
    --format json -o "$out/slugprof-verdicts.json")
[ -n "${CHECK_MAX_SLUG:-}" ] && arguments+=(--max-slug "$CHECK_MAX_SLUG")
[ -n "${CHECK_MAX_SLUG_GROWTH:-}" ] && arguments+=(--max-slug-growth "$CHECK_MAX_SLUG_GROWTH")
[ -n "${CHECK_MAX_MEMORY:-}" ] && arguments+=(--max-memory "$CHECK_MAX_MEMORY" --profile)
[ -n "${CHECK_DYNO:-}" ] && arguments+=(--dyno "$CHECK_DYNO")
[ -n "${CHECK_FAIL_ON:-}" ] && arguments+=(--fail-on "$CHECK_FAIL_ON")
[ -n "${CHECK_BASELINE:-}" ] && arguments+=(--baseline "$CHECK_BASELINE")
[ -n "${CHECK_BASELINE_REF:-}" ] && arguments+=(--baseline-ref "$CHECK_BASELINE_REF")
[ "${CHECK_COMMENT:-false}" = "true" ] && arguments+=(--github-comment)

slugprof "${arguments[@]}"
code=$?

if [ -f "$out/slugprof-results.json" ]; then
    slugprof report "$out/slugprof-results.json" -o "$out/slugprof-report.html" || true
fi
if [ -f "$out/slugprof-verdicts.json" ]; then
    python - "$out/slugprof-verdicts.json" >> "${GITHUB_OUTPUT:-/dev/null}" <<'PYTHON'
import json
import sys

document = json.load(open(sys.argv[1], encoding="utf-8"))
words = {0: "pass", 1: "fail", 3: "not-measured"}
print(f"verdict={words.get(document['exit_code'], 'error')}")
print(f"compressed-slug={document['slug_compressed_bytes'] or ''}")
print(f"growth={document['slug_growth_bytes'] if document['slug_growth_bytes'] is not None else ''}")
PYTHON
fi
exit "$code"

"""The findings as CI systems show them: GitHub's workflow-command annotations, and GitLab's Code Quality
report. Each returns a string; the CLI decides where it goes."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence

from slugprof.model import Finding, Severity

# GitHub shows at most ten annotations of each level per step (its "workflow commands" documentation);
# the most important ten per severity are written, worst first as the findings come.
ANNOTATIONS_PER_SEVERITY = 10
_GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
# GitLab's Code Quality severities: info, minor, major, critical, blocker.
_GITLAB_SEVERITY = {Severity.ERROR: "critical", Severity.WARNING: "major", Severity.INFO: "info"}
# A finding without a file is shown on the Procfile, the one file every Heroku app has.
WITHOUT_A_FILE = "Procfile"
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(findings: Sequence[Finding]) -> str:
    """`::error file=requirements.txt,line=4,title=DEP313::...` lines, ten per severity at most."""
    lines = []
    for severity in Severity:
        for finding in [f for f in findings if f.severity == severity][:ANNOTATIONS_PER_SEVERITY]:
            properties = [f"title={_escape_property(finding.id)}"]
            if finding.location is not None:
                properties.insert(0, f"file={_escape_property(finding.location.path)}")
                if finding.location.line is not None:
                    properties.insert(1, f"line={finding.location.line}")
            message = finding.title
            if finding.fix is not None:
                message += f"\nfix: {finding.fix.summary}"
            lines.append(f"::{_GITHUB_LEVEL[severity]} {','.join(properties)}::{_escape_data(message)}")
    return "".join(line + "\n" for line in lines)


def fingerprint(finding: Finding) -> str:
    """Stable across runs: the rule, the place, and the title without its figures (sizes change)."""
    path = finding.location.path if finding.location else ""
    line = str(finding.location.line) if finding.location and finding.location.line else ""
    text = "\0".join((finding.id, path, line, _DIGITS.sub("#", finding.title)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def gitlab_code_quality(findings: Sequence[Finding]) -> str:
    """GitLab's Code Quality report: a JSON array of issues (description, check_name, fingerprint,
    severity, location.path, location.lines.begin), for `artifacts: reports: codequality`."""
    issues = []
    seen: set[str] = set()
    for finding in findings:
        key = fingerprint(finding)
        if key in seen:
            continue  # GitLab keeps one issue per fingerprint
        seen.add(key)
        location = finding.location
        issues.append(
            {
                "description": f"{finding.id}: {finding.title}",
                "check_name": finding.id,
                "fingerprint": key,
                "severity": _GITLAB_SEVERITY[finding.severity],
                "location": {
                    "path": location.path if location else WITHOUT_A_FILE,
                    "lines": {"begin": location.line if location and location.line else 1},
                },
            }
        )
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"

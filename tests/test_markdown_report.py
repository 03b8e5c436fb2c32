"""The Markdown report (escaping, the comment-size limit) and `slugprof report` on saved results."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from clirun import run_slugprof as slugprof
from conftest import GitRunner

from slugprof.model import AnalyzeReport, Finding, Fix, Location, Severity
from slugprof.model.saved import load_report
from slugprof.render.markdown import LIMIT_CHARACTERS, MARKER, code, escape, render_markdown

REPORTS = Path(__file__).resolve().parent.parent / "reports"
HOSTILE = "<script>alert(1)</script>|`x`*y*_[z](http://e)"


def example(name: str) -> AnalyzeReport:
    report = load_report(REPORTS / name)
    assert isinstance(report, AnalyzeReport)
    return report


def test_names_from_the_tree_cannot_open_a_tag_break_a_table_or_start_a_code_span() -> None:
    shown = escape(HOSTILE)
    assert "<" not in shown and ">" not in shown
    assert shown.startswith("&lt;script&gt;alert(1)&lt;/script&gt;\\|")
    for special in "|`*_[]":
        assert special not in shown.replace(f"\\{special}", ""), special


@pytest.mark.parametrize(
    ("command", "span"),
    [
        ("git rm uv.lock", "`git rm uv.lock`"),
        ("echo `date`", "`` echo `date` ``"),  # a fence longer than the longest run, padded at the ends
        ("rm `x` && echo ``y``", "``` rm `x` && echo ``y`` ```"),
    ],
)
def test_a_command_keeps_its_backticks_in_a_longer_fence(command: str, span: str) -> None:
    assert code(command) == span


def test_a_hostile_finding_is_escaped_in_every_part_of_the_report() -> None:
    finding = Finding(
        id="BUILD121",
        severity=Severity.ERROR,
        title=f"several files: {HOSTILE}",
        evidence=(f"{HOSTILE} is committed",),
        fix=Fix(summary=HOSTILE, command="git rm '<b>'"),
        location=Location(HOSTILE, 3),
    )
    report = dataclasses.replace(example("flask_basic.analyze.json"), findings=(finding,))
    text = render_markdown(report)
    assert text.startswith(MARKER + "\n")
    assert "`git rm '<b>'`" in text  # a code span shows its text as it is: no tag is made
    outside_code = text.replace("`git rm '<b>'`", "")
    tags = {tag for tag in re.findall(r"</?([a-z]+)", outside_code)}
    assert tags <= {"details", "summary"}, tags
    table_rows = [line for line in text.splitlines() if line.startswith("| error |")]
    assert len(table_rows) == 1 and table_rows[0].count(" | ") == 4  # the title's "|" did not add a cell


def test_the_report_stays_under_a_comments_limit_and_says_it_was_cut() -> None:
    findings = tuple(
        Finding(
            id="BUILD110",
            severity=Severity.WARNING,
            title=f"finding {n} " + "x" * 200,
            evidence=("e" * 300,) * 3,
        )
        for n in range(2_000)
    )
    report = dataclasses.replace(example("bloated.analyze.json"), findings=findings)
    text = render_markdown(report)
    assert len(text) <= LIMIT_CHARACTERS
    assert text.startswith(MARKER)
    assert "report cut to fit a comment" in text
    assert text.count("| warning | BUILD110 |") >= 10  # the first table is always there


@pytest.mark.slow
def test_report_renders_saved_results_together_and_alone(tmp_path: Path) -> None:
    analyze, profile = REPORTS / "flask_basic.analyze.json", REPORTS / "flask_basic.profile.json"
    both = slugprof("report", analyze, profile, "-o", tmp_path / "r.md")
    assert both.returncode == 0, both.stderr
    text = (tmp_path / "r.md").read_text()
    assert text.startswith(MARKER) and "**Slug " in text and "**memory " in text
    alone = slugprof("report", analyze)
    assert alone.returncode == 0 and alone.stdout.startswith("Slug ")
    as_json = slugprof("report", analyze, "--format", "json")
    assert json.loads(as_json.stdout) == json.loads(analyze.read_text())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (
            ["flask_basic.analyze.json", "bloated.analyze.json"],
            "are both analyze reports: give one of each kind",
        ),
        (["flask_basic.analyze.json", "bloated.profile.json"], "give the reports of one app"),
        (
            ["flask_basic.analyze.json", "flask_basic.profile.json", "--format", "json"],
            "--format json writes one",
        ),
        (["flask_basic.analyze.txt"], "not a slugprof report"),
    ],
)
def test_report_refuses_what_it_cannot_render(arguments: list[str], words: str) -> None:
    result = slugprof("report", *[REPORTS / a if a.endswith((".json", ".txt")) else a for a in arguments])
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and len(result.stderr.splitlines()) == 1


@pytest.mark.slow
def test_a_report_saved_before_the_rules_gets_them_when_its_app_is_here(
    tmp_path: Path, git: GitRunner
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("flask\n")
    (app / "uv.lock").write_text("version = 1\n")
    git(app, "init", "-q")
    git(app, "add", ".")
    git(app, "commit", "-q", "-m", "app")
    saved = json.loads((Path(__file__).parent / "data" / "schema1" / "bloated.analyze.json").read_text())
    saved["app"]["root"] = str(app)
    old = tmp_path / "old.json"
    old.write_text(json.dumps(saved))
    result = slugprof("report", old, "--format", "markdown")
    assert result.returncode == 0, result.stderr
    assert "**THE BUILD WOULD FAIL**" in result.stdout and "BUILD121" in result.stdout

"""The saved contract: reports written as JSON read back identical, old schemas load, bad files say so."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from slugprof.analysis import AnalyzeOptions, analyze
from slugprof.config import Settings
from slugprof.errors import EXIT_USAGE
from slugprof.model import AnalyzeReport, DependencySource, MemoryMeasure, MemrayMode, ProfileReport
from slugprof.model.saved import ReportError, load_report, read_report, write_report
from slugprof.render.profile_terminal import render_profile_terminal
from slugprof.render.terminal import render_terminal

REPOSITORY = Path(__file__).resolve().parent.parent
SAMPLE_APPS = sorted(path for path in (REPOSITORY / "sample_apps").iterdir() if (path / "Procfile").is_file())
EXAMPLE_REPORTS = sorted((REPOSITORY / "reports").glob("*.json"))
SCHEMA_1 = Path(__file__).parent / "data" / "schema1"


def analyzed(app: Path, cache: Path) -> AnalyzeReport:
    """The app analyzed offline with an empty cache: its files measured, its dependencies not."""
    options = AnalyzeOptions(app_root=app, settings=Settings(), resolve=True, offline=True, cache_dir=cache)
    return analyze(options, {})


@pytest.mark.parametrize("app", SAMPLE_APPS, ids=lambda path: path.name)
def test_a_sample_apps_report_round_trips(app: Path, tmp_path: Path) -> None:
    report = analyzed(app, tmp_path / "cache")
    text = write_report(report)
    loaded = read_report(text)
    assert loaded == report
    assert write_report(loaded) == text
    assert loaded.app.bytes == report.app.bytes > 0


@pytest.mark.parametrize("path", EXAMPLE_REPORTS, ids=lambda path: path.name)
def test_every_example_report_reads_back_and_writes_the_same_text(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert write_report(load_report(path)) == text


def test_example_reports_exist_for_both_kinds() -> None:
    kinds = {json.loads(path.read_text())["kind"] for path in EXAMPLE_REPORTS}
    assert kinds == {"analyze", "profile"}


def test_a_report_reads_the_same_from_another_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = REPOSITORY / "sample_apps" / "bloated"
    monkeypatch.chdir(app)
    report = analyzed(Path("."), tmp_path / "cache")
    saved = tmp_path / "report.json"
    saved.write_text(write_report(report))
    here = render_terminal(load_report(saved))  # type: ignore[arg-type]
    monkeypatch.chdir(tmp_path)
    elsewhere = render_terminal(load_report(saved))  # type: ignore[arg-type]
    assert here == elsewhere == render_terminal(report)
    assert report.app.root in (str(app), "~" + str(app).removeprefix(os.path.expanduser("~")))
    assert all(not file.path.startswith(("/", "..")) for file in report.app.files)


def test_a_schema_1_analyze_report_loads_with_its_choices_as_fields() -> None:
    report = load_report(SCHEMA_1 / "bloated.analyze.json")
    assert isinstance(report, AnalyzeReport)
    original = json.loads((SCHEMA_1 / "bloated.analyze.json").read_text())
    assert report.dependencies.source == DependencySource.ENVIRONMENT
    assert report.dependencies.environment == original["dependencies"]["source"].removeprefix("environment:")
    assert report.slug.compressed_bytes == original["slug"]["compressed_bytes"]
    assert [p.file_count for p in report.dependencies.packages] == [
        p["files"] for p in original["dependencies"]["packages"]
    ]
    assert report.dependencies.compressed_bytes == original["dependencies"]["compressed_bytes"]
    assert report.app.bytes == original["app"]["bytes"]
    assert "Slug " in render_terminal(report)


def test_a_schema_1_profile_report_loads() -> None:
    report = load_report(SCHEMA_1 / "flask_basic.profile.json")
    assert isinstance(report, ProfileReport)
    original = json.loads((SCHEMA_1 / "flask_basic.profile.json").read_text())
    assert report.memray.mode == MemrayMode(original["memray"].split(":")[0])
    assert report.memory.peak_total_bytes == original["memory"]["peak_total_bytes"]
    assert "Peak dyno memory" in render_profile_terminal(report)


def test_a_schema_3_profile_says_its_headline_was_summed_pss() -> None:
    # Until schema 3 the headline was the sum of PSS; from 4 it is the anonymous memory. An older profile
    # keeps its figure, and says which it is, so a comparison or a gate does not mistake one for the other.
    path = Path(__file__).parent / "data" / "schema3" / "flask_basic.profile.json"
    original = json.loads(path.read_text())
    assert original["schema_version"] == 3
    report = load_report(path)
    assert isinstance(report, ProfileReport)
    assert report.memory.measure == MemoryMeasure.PSS
    assert (
        report.memory.peak_total_bytes
        == report.memory.peak_total_pss_bytes
        == original["memory"]["peak_total_bytes"]
    )
    assert "(summed PSS)" in render_profile_terminal(report)


def _error_for(tmp_path: Path, text: str) -> ReportError:
    path = tmp_path / "report.json"
    path.write_text(text)
    with pytest.raises(ReportError) as caught:
        load_report(path)
    error = caught.value
    assert error.exit_code == EXIT_USAGE
    assert "\n" not in str(error)
    assert str(error).startswith(str(path))
    return error


def test_a_file_that_is_not_json_is_not_a_report(tmp_path: Path) -> None:
    assert "not valid JSON" in str(_error_for(tmp_path, "Slug 26 MB\n"))


def test_a_truncated_report_says_it_was_cut_short(tmp_path: Path) -> None:
    text = (SCHEMA_1 / "bloated.analyze.json").read_text()
    assert "cut short" in str(_error_for(tmp_path, text[: len(text) // 2]))


def test_json_from_another_tool_is_not_a_report(tmp_path: Path) -> None:
    assert "not a slugprof report" in str(_error_for(tmp_path, '{"name": "dive", "layers": []}'))


def test_a_newer_schema_asks_for_an_upgrade(tmp_path: Path) -> None:
    data = json.loads((SCHEMA_1 / "bloated.analyze.json").read_text())
    data["schema_version"] = 99
    assert "upgrade slugprof" in str(_error_for(tmp_path, json.dumps(data)))


def test_a_field_of_the_wrong_type_is_named(tmp_path: Path) -> None:
    data = json.loads((SCHEMA_1 / "bloated.analyze.json").read_text())
    data["dependencies"]["packages"][2]["bytes"] = "12 MB"
    message = str(_error_for(tmp_path, json.dumps(data)))
    assert "analyze.dependencies.packages[2].bytes" in message and "whole number" in message


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    data = json.loads((SCHEMA_1 / "bloated.analyze.json").read_text())
    del data["slug"]["limit_bytes"]
    assert "'limit_bytes' is missing" in str(_error_for(tmp_path, json.dumps(data)))


def test_a_missing_file_and_a_folder_are_one_line_errors(tmp_path: Path) -> None:
    for path, words in ((tmp_path / "none.json", "no such file"), (tmp_path, "is a folder")):
        with pytest.raises(ReportError, match=words):
            load_report(path)

"""`slugprof profile` as a Fir dyno runs the app: real gunicorn, no WEB_CONCURRENCY from the platform."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from clirun import HELLO_WSGI
from clirun import run_slugprof as slugprof

from slugprof.heroku import FIR_DYNO_NAMES
from slugprof.model.saved import read_report, write_report

pytestmark = pytest.mark.slow

GIB = 1024**3


def app_with(root: Path, procfile: str) -> Path:
    root.mkdir(parents=True)
    (root / "Procfile").write_text(procfile)
    (root / "app.py").write_text(HELLO_WSGI)
    return root


def fir_profile(app: Path, *extra: str, **environment: str) -> dict[str, Any]:
    # The shell's own WEB_CONCURRENCY must not reach the process: a Fir dyno's platform sets none.
    result = slugprof(
        "profile", app, "--env", sys.executable, "--no-memray", "--format", "json", "-q", *extra,
        variables={"WEB_CONCURRENCY": "5", **environment},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert write_report(read_report(result.stdout)) == result.stdout
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def workers_of(report: dict[str, Any]) -> int:
    return sum(1 for process in report["processes"] if process["role"] == "worker")


def test_a_fir_profile_runs_gunicorns_one_worker_and_fits_the_fir_sizes(tmp_path: Path) -> None:
    report = fir_profile(app_with(tmp_path / "app", "web: gunicorn app:app\n"), "--generation", "fir")
    assert report["generation"] == "fir"
    assert report["dyno"] == "dyno-1c-0.5gb"
    assert report["web_concurrency"] is None
    assert workers_of(report) == 1  # gunicorn's default when nothing sets WEB_CONCURRENCY
    fits = report["dyno_fit"]
    assert [fit["dyno"] for fit in fits] == list(FIR_DYNO_NAMES)
    assert {fit["workers"] for fit in fits} == {1}
    # Fir restarts at 100% of the quota: the R15 line is the quota itself.
    assert all(fit["r15_bytes"] == fit["quota_bytes"] for fit in fits)
    small = next(fit for fit in fits if fit["dyno"] == "dyno-1c-0.5gb")
    assert small["quota_bytes"] == GIB // 2
    assert (
        small["predicted_bytes"] == report["memory"]["base_bytes"] + report["memory"]["worker_marginal_bytes"]
    )
    assert small["status"] == "ok"
    # The worker advice: set WEB_CONCURRENCY on Fir, to the count that fits.
    advice = next(finding for finding in report["findings"] if finding["id"] == "MEM504")
    assert advice["fix"]["command"] == f"heroku config:set WEB_CONCURRENCY={small['max_workers']}"
    assert small["max_workers"] > 1


def test_a_fir_dyno_name_chooses_fir_and_its_gb_follows_the_unit_setting(tmp_path: Path) -> None:
    app = app_with(tmp_path / "app", "web: gunicorn --workers 3 app:app\n")
    report = fir_profile(app, "--dyno", "dyno-2c-1gb")
    assert (report["generation"], report["dyno"]) == ("fir", "dyno-2c-1gb")
    assert workers_of(report) == 3
    fit = {row["dyno"]: row for row in report["dyno_fit"]}
    assert fit["dyno-2c-1gb"]["quota_bytes"] == GIB
    assert {row["workers"] for row in fit.values()} == {3}  # the app's own count, on every size
    assert "MEM504" not in {finding["id"] for finding in report["findings"]}
    in_gb = fir_profile(app, "--dyno", "dyno-2c-1gb", SLUGPROF_FIR_MEMORY_UNIT="GB")
    assert next(row for row in in_gb["dyno_fit"] if row["dyno"] == "dyno-2c-1gb")["quota_bytes"] == 1000**3
    # check reads the quota of a Fir size in the same unit.
    saved = tmp_path / "profile.json"
    saved.write_text(json.dumps(in_gb))
    checked = slugprof("check", saved, "--dyno", "dyno-2c-1gb", SLUGPROF_FIR_MEMORY_UNIT="GB")
    assert checked.returncode == 0, checked.stderr
    assert "the dyno-2c-1gb quota 953.7 MiB" in checked.stderr


def test_a_cedar_dyno_with_generation_fir_is_a_usage_error(tmp_path: Path) -> None:
    app = app_with(tmp_path / "app", "web: gunicorn app:app\n")
    result = slugprof("profile", app, "--generation", "fir", "--dyno", "standard-1x", "--no-memray")
    assert result.returncode == 2
    assert "standard-1x is a Cedar dyno size, not a Fir one" in result.stderr

"""Whether the app's interpreter runs memray: its own, slugprof's lent to it, or none."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from slugprof.measure.memray_availability import (
    InterpreterProbe,
    availability_from_probe,
    memray_status,
)
from slugprof.measure.memray_captures import read_captures
from slugprof.measure.memray_command import wrap_command
from slugprof.measure.memray_lending import LENT_FOLDER_NAME, lent_distributions

MIB = 1024 * 1024


def within_ten_percent(measured: int, expected: int) -> bool:
    return abs(measured - expected) <= expected / 10


# --- lending slugprof's memray to an app environment without it ---------------------------------------


def make_venv(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=60)
    return folder / "bin" / "python"


@pytest.mark.slow
def test_the_test_environment_has_memray() -> None:
    availability = memray_status(sys.executable)
    assert availability.status == "app"
    assert availability.memray_version and availability.lent_paths == ()


@pytest.mark.slow
def test_a_fresh_venv_borrows_memray_and_runs_under_it(tmp_path: Path) -> None:
    python = make_venv(tmp_path / "venv")
    availability = memray_status(str(python))
    assert availability.status == "borrowed", availability.reason
    lent_names = {Path(path).name.split("-")[0].split(".")[0] for path in availability.lent_paths}
    assert {"memray", "rich", "jinja2", "textual"} <= lent_names
    assert not lent_names & {"gunicorn", "psutil", "pytest", "slugprof", "packaging", "mypy"}

    app_dir, captures = tmp_path / "app", tmp_path / "captures"
    app_dir.mkdir()
    captures.mkdir()
    (app_dir / "heavy.py").write_text(f"BLOB = bytearray({10 * MIB})\n")
    (app_dir / "main.py").write_text("import sys\nimport heavy\nprint(sys.modules['memray'].__file__)\n")
    wrapped = wrap_command(
        "python main.py",
        interpreter=str(python),
        output_dir=captures,
        availability=availability,
        environment={"PYTHONPATH": "/elsewhere"},
    )
    lent_folder = captures / LENT_FOLDER_NAME
    assert wrapped.env == {"PYTHONPATH": f"{lent_folder}{os.pathsep}/elsewhere"}
    assert sorted(entry.name for entry in lent_folder.iterdir()) == sorted(
        Path(path).name for path in availability.lent_paths
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    completed = subprocess.run(
        wrapped.command, shell=True, cwd=app_dir, env={**env, **wrapped.env}, capture_output=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr.decode()
    assert completed.stdout.decode().strip().startswith(str(lent_folder / "memray"))
    summary = read_captures(captures, app_dir=app_dir)
    (process,) = summary.processes
    assert process.role == "other"
    heavy = {cost.module: cost.bytes for cost in process.imports}["heavy"]
    assert within_ten_percent(heavy, 10 * MIB)


def fake_distribution(venv: Path, name: str, version: str) -> None:
    (site_packages,) = (venv / "lib").glob("python*/site-packages")
    info = site_packages / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


@pytest.mark.slow
def test_the_apps_own_dependencies_are_kept_when_memray_accepts_them(tmp_path: Path) -> None:
    python = make_venv(tmp_path / "venv")
    fake_distribution(tmp_path / "venv", "rich", "99.0")  # recent enough for memray and textual
    fake_distribution(tmp_path / "venv", "Jinja2", "2.0")  # older than memray's jinja2>=2.9
    availability = memray_status(str(python))
    assert availability.status == "borrowed"
    lent_names = {Path(path).name for path in availability.lent_paths}
    assert "rich" not in lent_names and "jinja2" in lent_names
    assert "Jinja2" in availability.reason and "in place of the app's own" in availability.reason


def test_lent_are_memray_and_what_the_app_lacks_or_has_in_a_version_memray_refuses() -> None:
    def names(paths: tuple[str, ...]) -> set[str]:
        return {Path(path).name.split("-")[0].split(".")[0].lower() for path in paths}

    lent, shadowed = lent_distributions({})
    assert {"memray", "rich", "jinja2"} <= names(lent) and shadowed == []
    # memray itself is always lent, whatever the app has; a dependency in a version memray accepts is not.
    lent, shadowed = lent_distributions({"memray": "1.20.0", "rich": "99.0", "jinja2": "2.0"})
    assert "memray" in names(lent) and "rich" not in names(lent) and "jinja2" in names(lent)
    assert [entry.split()[0] for entry in shadowed] == ["Jinja2"]


def probe(version: tuple[int, int], memray_version: str | None = None) -> InterpreterProbe:
    return InterpreterProbe(
        "cpython", version, ".cpython-311-x86_64-linux-gnu.so", "x86_64", memray_version, None, {}
    )


def test_an_interpreter_that_cannot_borrow_is_told_how_to_install_memray(tmp_path: Path) -> None:
    interpreter = str(tmp_path / "venv" / "bin" / "python")
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "pip").touch()
    availability = availability_from_probe(interpreter, probe((3, 12)), probe((3, 11), "1.20.0"))
    assert availability.status == "unavailable"
    assert "Python is 3.12 (slugprof runs 3.11)" in availability.reason
    assert f"`{tmp_path / 'venv' / 'bin' / 'pip'} install memray`" in availability.reason
    assert availability.reason.endswith("profiling continues with the sampler alone")
    app_memray = availability_from_probe(interpreter, probe((3, 12), "1.19.0"), probe((3, 11), "1.20.0"))
    assert app_memray.status == "app" and "slugprof reads captures with memray 1.20.0" in app_memray.reason


def test_memray_does_not_run_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    availability = memray_status("python")
    assert availability.status == "unavailable"
    assert availability.reason == "memray does not run on Windows: profiling continues with the sampler alone"


def test_an_interpreter_that_does_not_exist() -> None:
    availability = memray_status("/no/such/python")
    assert availability.status == "unavailable" and "program not found" in availability.reason

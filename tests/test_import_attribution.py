"""Allocations attributed to the import that caused them, from their Python stack."""

from __future__ import annotations

from pathlib import Path

from slugprof.measure.import_attribution import SourceFiles, attribute_import

# --- attributing allocations to imports -------------------------------------------------------------

BOOTSTRAP = [
    ("_find_and_load", "<frozen importlib._bootstrap>", 1176),
    ("_load_unlocked", "<frozen importlib._bootstrap>", 690),
    ("exec_module", "<frozen importlib._bootstrap_external>", 940),
    ("_call_with_frames_removed", "<frozen importlib._bootstrap>", 241),
]
SITE = "/venv/lib/python3.11/site-packages"
GUNICORN = [
    ("<module>", f"{SITE}/gunicorn/__main__.py", 10),
    ("import_app", f"{SITE}/gunicorn/util.py", 420),
    ("import_module", "/usr/lib/python3.11/importlib/__init__.py", 126),
]


def imported(file_name: str, line: int = 1) -> list[tuple[str, str, int]]:
    return [*BOOTSTRAP, ("<module>", file_name, line)]


def test_import_attribution(tmp_path: Path) -> None:
    app = str(tmp_path / "app.py")
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").touch()
    models = str(tmp_path / "mypkg" / "models.py")
    files = SourceFiles(tmp_path)
    pandas_in_app = [*GUNICORN, *imported(app), *imported(f"{SITE}/pandas/__init__.py")]
    numpy_in_pandas = [
        *pandas_in_app,
        *imported(f"{SITE}/numpy/core/multiarray.py"),
        ("f", f"{SITE}/numpy/x.py", 3),
    ]
    assert attribute_import(numpy_in_pandas, files) == "pandas"
    assert (
        attribute_import([*GUNICORN, *imported(app), *imported(str(tmp_path / "heavy.py"))], files) == "heavy"
    )
    assert attribute_import([*GUNICORN, *imported(app), *imported(models)], files) == "mypkg"
    assert attribute_import([*GUNICORN, *imported(app), ("load", models, 5)], files) == "app"
    django_setup = [("setup", f"{SITE}/django/__init__.py", 24), ("import_module", f"{SITE}/x.py", 1)]
    assert (
        attribute_import(
            [*GUNICORN, *imported(app), *django_setup, *imported(f"{SITE}/rest_framework/a.py")], files
        )
        == "rest_framework"
    )
    assert attribute_import([*GUNICORN, *imported(f"{SITE}/gunicorn/workers/sync.py")], files) == "gunicorn"
    assert attribute_import([*imported("<frozen os>")], files) == "os"
    assert attribute_import([*GUNICORN, ("handle", app, 9)], files) is None  # a request, not an import
    lazy = [*GUNICORN, ("handle", app, 9), *imported(f"{SITE}/yaml/__init__.py")]
    assert attribute_import(lazy, files) == "yaml"

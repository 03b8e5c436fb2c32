"""Procfile commands rewritten to run under `memray run --follow-fork`, or left alone with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from slugprof.measure.memray_availability import MemrayAvailability
from slugprof.measure.memray_command import wrap_command
from slugprof.shell import command_list
from slugprof.sources.launch import python_program_index

# --- wrapping Procfile commands ---------------------------------------------------------------------

APP_MEMRAY = MemrayAvailability("app", "/app/.venv/bin/python", "memray 1.20.0 from the app's environment")
OUT = Path("/captures")
MEMRAY_RUN = "-m memray run --follow-fork -q --force --no-compress -o /captures/capture.bin"
MEMRAY = f"/app/.venv/bin/python {MEMRAY_RUN}"


def wrap(command: str, **environment: str) -> tuple[str, str]:
    wrapped = wrap_command(
        command,
        interpreter="/app/.venv/bin/python",
        output_dir=OUT,
        availability=APP_MEMRAY,
        environment=environment,
    )
    assert wrapped.env == {}
    assert wrapped.wrapped == (wrapped.command != command)
    return wrapped.command, wrapped.note


@pytest.mark.parametrize(
    ("procfile", "expected"),
    [
        (
            "gunicorn app:app --workers 3 --bind 0.0.0.0:$PORT --log-file -",
            f"{MEMRAY} -m gunicorn app:app --workers 3 --bind 0.0.0.0:$PORT --log-file -",
        ),
        (
            "WEB_CONCURRENCY=2 ALLOW='*' exec .venv/bin/gunicorn -c 'conf/g unicorn.py' app:app",
            f"WEB_CONCURRENCY=2 ALLOW='*' exec {MEMRAY} -m gunicorn -c 'conf/g unicorn.py' app:app",
        ),
        ("python -m gunicorn app:app", f"{MEMRAY} -m gunicorn app:app"),
        ("python3 -u app.py --port $PORT", f"/app/.venv/bin/python -u {MEMRAY_RUN} app.py --port $PORT"),
        ("python -X dev -m mysite.server", f"/app/.venv/bin/python -X dev {MEMRAY_RUN} -m mysite.server"),
        (
            "uvicorn main:app --host 0.0.0.0 --port $PORT",
            f"{MEMRAY} -m uvicorn main:app --host 0.0.0.0 --port $PORT",
        ),
        ("waitress-serve --port=$PORT app:app", f"{MEMRAY} -m waitress --port=$PORT app:app"),
        ("hypercorn main:app -b 0.0.0.0:$PORT", f"{MEMRAY} -m hypercorn main:app -b 0.0.0.0:$PORT"),
        ("flask --app hello run --port $PORT", f"{MEMRAY} -m flask --app hello run --port $PORT"),
        (
            "cd backend && python manage.py migrate; gunicorn p.wsgi",
            f"cd backend && python manage.py migrate; {MEMRAY} -m gunicorn p.wsgi",
        ),
        (
            "newrelic-admin run-program gunicorn app:app",
            f"newrelic-admin run-program {MEMRAY} -m gunicorn app:app",
        ),
        ("gunicorn app:app 2>&1", f"{MEMRAY} -m gunicorn app:app 2>&1"),
    ],
)
def test_commands_memray_can_follow(procfile: str, expected: str) -> None:
    assert wrap(procfile) == (expected, "")


@pytest.mark.parametrize(
    ("procfile", "environment", "reason"),
    [
        ("uvicorn main:app --workers 4", {}, "uvicorn starts its 4 workers with spawn"),
        (
            "uvicorn main:app --port $PORT",
            {"WEB_CONCURRENCY": "2"},
            "uvicorn starts its 2 workers with spawn",
        ),
        ("python -m uvicorn main:app --workers=3", {}, "uvicorn starts its 3 workers with spawn"),
        ("hypercorn -w 2 main:app", {}, "hypercorn starts its 2 workers with spawn"),
        ("flask run --debug", {}, "flask's reloader"),
        ("python manage.py runserver 0.0.0.0:$PORT", {}, "Django's runserver reloads"),
        ("bin/start-server --port $PORT", {}, "start-server is not a Python program"),
        ("node server.js", {}, "node is not a Python program"),
        ("gunicorn app:app | tee log.txt", {}, "not a pipeline or background job"),
        ("gunicorn 'app:app", {}, "cannot parse the command"),
        ("FOO=1", {}, "the command runs no program"),
    ],
)
def test_commands_memray_cannot_follow_are_left_alone(
    procfile: str, environment: dict[str, str], reason: str
) -> None:
    command, note = wrap(procfile, **environment)
    assert command == procfile
    assert reason in note and note.endswith("profiling continues with the sampler alone")


def test_without_memray_the_command_is_unchanged() -> None:
    unavailable = MemrayAvailability("unavailable", "python", "memray does not run on Windows: ...")
    wrapped = wrap_command("gunicorn app:app", interpreter="python", output_dir=OUT, availability=unavailable)
    assert (wrapped.command, wrapped.wrapped, wrapped.note) == ("gunicorn app:app", False, unavailable.reason)


@pytest.mark.parametrize(
    ("arguments", "program"),
    [
        ("app.py --port 5000", "app.py"),
        ("-u -X importtime -W ignore app.py", "app.py"),
        ("-X dev -m mysite.server", "-m"),
        ("-B -c 'print(1)'", "-c"),
        ("-W", None),  # a flag waiting for its value, and no program
        ("-u -E", None),
    ],
)
def test_pythons_own_flags_end_where_the_program_starts(arguments: str, program: str | None) -> None:
    (words,) = command_list(arguments) or [()]
    index = python_program_index(words)
    assert (words[index].value if index < len(words) else None) == program

"""The one reader of which program a command runs: its server, arguments, variables and folder."""

from __future__ import annotations

import pytest

from slugprof.shell import ShellSyntaxError
from slugprof.sources.launch import (
    Launch,
    NoProgram,
    NotOneProgram,
    flag_indexes,
    launch_of_command,
    launch_of_line,
    options,
    read_launch,
)
from slugprof.sources.procfile import procfile_lines


def launch(command: str) -> Launch:
    found = launch_of_command(command)
    assert found is not None, command
    return found


def test_gunicorn_behind_cd_assignments_exec_and_a_wrapper() -> None:
    command = "cd sub && OMP_NUM_THREADS=1 exec ddtrace-run python -m gunicorn -w 3 app:app"
    found = launch(command)
    assert found.server == "gunicorn"
    assert found.folder == "sub"
    assert found.assigned == {"OMP_NUM_THREADS": "1"}
    assert found.values == ["-w", "3", "app:app"]
    assert found.program_name == "python" and found.runs_python
    # The words' positions are in the command text: a fix can rewrite the program's word in place.
    program = found.words[found.program]
    assert command[program.start : program.end] == "python"
    assert found.in_folder("gunicorn.conf.py") == "sub/gunicorn.conf.py"


def test_django_through_manage_py() -> None:
    found = launch("python manage.py runserver")
    assert (found.server, found.script, found.values) == ("django", "manage.py", ["runserver"])
    assert found.python_flags == ()


def test_a_quoting_error_gives_no_launch() -> None:
    assert launch_of_command("gunicorn 'app:app") is None
    with pytest.raises(ShellSyntaxError):
        read_launch("gunicorn 'app:app")


@pytest.mark.parametrize(
    ("command", "error"),
    [
        ("gunicorn app:app | tee log.txt", NotOneProgram),
        ("gunicorn app:app &", NotOneProgram),
        ("FOO=1", NoProgram),
        ("cd sub && exec", NoProgram),
        ("", NoProgram),
    ],
)
def test_commands_that_run_no_one_program(command: str, error: type[ValueError]) -> None:
    with pytest.raises(error):
        read_launch(command)
    assert launch_of_command(command) is None


@pytest.mark.parametrize(
    ("command", "server", "values"),
    [
        ("gunicorn app:app --bind 0.0.0.0:$PORT", "gunicorn", ["app:app", "--bind", "0.0.0.0:$PORT"]),
        (".venv/bin/waitress-serve --port=$PORT app:app", "waitress", ["--port=$PORT", "app:app"]),
        ("newrelic-admin run-program uvicorn main:app", "uvicorn", ["main:app"]),
        ("python3.12 -X dev -m celery -A proj worker", "celery", ["-A", "proj", "worker"]),
        ("python -m mysite.server --port 5000", "", ["--port", "5000"]),
        ("python -u app.py --port $PORT", "script", ["--port", "$PORT"]),
        ("node server.js", "", ["server.js"]),
        ("python manage.py migrate; gunicorn p.wsgi", "gunicorn", ["p.wsgi"]),
    ],
)
def test_the_server_and_its_arguments(command: str, server: str, values: list[str]) -> None:
    found = launch(command)
    assert (found.server, found.values) == (server, values)


def test_variables_exported_before_and_assigned_after_a_wrapper() -> None:
    found = launch("export FLASK_APP=hello WEB_CONCURRENCY=2 && ddtrace-run FLASK_DEBUG=1 flask run")
    assert found.server == "flask"
    assert found.assigned == {"FLASK_APP": "hello", "WEB_CONCURRENCY": "2", "FLASK_DEBUG": "1"}


@pytest.mark.parametrize(
    ("command", "folder"),
    [
        ("cd /app/site && gunicorn app:app", "site"),
        ("cd site && cd .. && cd api && gunicorn app:app", "api"),
        ("cd $APP_DIR && gunicorn app:app", ""),  # a folder from a variable is not known here
        ("cd site; cd /app && gunicorn app:app", ""),
    ],
)
def test_the_folder_the_program_runs_in(command: str, folder: str) -> None:
    assert launch(command).folder == folder


def test_pythons_own_flags() -> None:
    found = launch("python -u -W ignore -m gunicorn app:app")
    assert [word.value for word in found.python_flags] == ["-u", "-W", "ignore"]
    assert launch("gunicorn -w 2 app:app").python_flags == ()
    waiting = launch("python -W")  # a flag waiting for its value, and no program
    assert (waiting.server, [word.value for word in waiting.python_flags]) == ("", ["-W"])


def test_a_procfile_line_keeps_the_line() -> None:
    (line,) = procfile_lines(b"web:   cd site && gunicorn app:app\n")
    found = launch_of_line(line)
    assert found is not None
    assert (found.line.number, found.line.prefix, found.command) == (
        1,
        "web:   ",
        "cd site && gunicorn app:app",
    )
    assert (found.server, found.folder) == ("gunicorn", "site")
    assert found.names() == "`web:   cd site && gunicorn app:app` (Procfile line 1)"
    (broken,) = procfile_lines(b"web: gunicorn 'app:app\n")
    assert launch_of_line(broken) is None


def test_options_in_every_spelling_and_flags() -> None:
    args = launch("gunicorn -w4 --workers 5 --bind=0.0.0.0:$PORT -b :8000 --reload app:app").values
    found = options(args, ("-w", "--workers"))
    assert [(option.indexes, option.value) for option in found] == [((0,), "4"), ((1, 2), "5")]
    assert [option.value for option in options(args, ("-b", "--bind"))] == ["0.0.0.0:$PORT", ":8000"]
    assert flag_indexes(args, ("--reload",)) == [6]
    assert options(["--workers"], ("--workers",)) == []  # no value after it

"""Whose worker count each dyno runs, read from the command and what the run started."""

from __future__ import annotations

import pytest

from slugprof.model import WorkersFrom
from slugprof.sources.gunicorn_config import GunicornConfig
from slugprof.sources.launch import launch_of_command
from slugprof.sources.worker_count import WorkerCount, celery_worker, worker_count

CORES_HERE = 2


@pytest.mark.parametrize(
    ("command", "observed", "expected"),
    [
        ("celery -A tasks worker", CORES_HERE, WorkerCount(WorkersFrom.CORES)),
        ("celery -A tasks worker", 5, WorkerCount(WorkersFrom.APP, 5)),  # its config's worker_concurrency
        ("celery -A tasks worker -c 3", 3, WorkerCount(WorkersFrom.APP, 3)),
        ("celery -A tasks worker --autoscale=10,2", 2, WorkerCount(WorkersFrom.APP, 10)),
        ("celery -A tasks worker --concurrency $CELERY_CONCURRENCY", 4, WorkerCount(WorkersFrom.APP, 4)),
        ("celery -A tasks worker --concurrency auto", CORES_HERE, WorkerCount(WorkersFrom.CORES)),
        ("gunicorn app:app", 2, WorkerCount(WorkersFrom.PLATFORM)),
        ("gunicorn app:app", 3, WorkerCount(WorkersFrom.APP, 3)),  # not what WEB_CONCURRENCY says
        ("gunicorn app:app", 0, None),  # no workers: judged whole
    ],
)
def test_whose_count_each_dyno_runs(command: str, observed: int, expected: WorkerCount | None) -> None:
    assert worker_count(command, observed, {"WEB_CONCURRENCY": "2"}, None, local_cores=CORES_HERE) == expected


def test_a_gunicorn_config_that_names_the_count_it_ran_fixes_it() -> None:
    config = GunicornConfig(workers=2)
    assert worker_count("gunicorn app:app", 2, {"WEB_CONCURRENCY": "2"}, config) == WorkerCount(
        WorkersFrom.APP, 2
    )


def test_celery_pools_that_run_in_one_process_and_other_commands() -> None:
    solo = celery_worker(launch_of_command("celery -A tasks worker -P solo"))
    assert solo is not None and solo.one_process
    assert celery_worker(launch_of_command("celery -A tasks beat")) is None
    assert celery_worker(launch_of_command("gunicorn app:app")) is None

"""Whose worker count a dyno runs: the platform's WEB_CONCURRENCY, the app's own, or one per core.

The run shows how many workers started here; the dyno fit needs how many start on each size, which
depends on the server:
- gunicorn (and the servers that read WEB_CONCURRENCY) runs the buildpack's WEB_CONCURRENCY for the
  size (heroku-facts 4.4; none on Fir, where gunicorn's default is one worker), unless the app fixes
  a count: a `-w` flag or a config file's `workers`, seen as a count that differs from
  WEB_CONCURRENCY or one the config names.
- A Celery worker's prefork pool runs `--concurrency N` (or `--autoscale MAX,MIN`: MAX) when the
  command says so; else Celery's default, the core count the machine reports (celery 5.7
  `worker --help`: "The default is the number of CPUs available on your system"), which is `nproc`
  on the dyno: 8 on Cedar's shared dynos (heroku-facts 4.1, 9.3). A pool that started another count
  than this machine's cores was set by the app's own config (`worker_concurrency`), and that count
  runs on every size.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from slugprof.model import WorkersFrom
from slugprof.sources.gunicorn_config import GunicornConfig
from slugprof.sources.launch import Launch, last_option, launch_of_command

_CONCURRENCY = ("-c", "--concurrency")
_AUTOSCALE = ("--autoscale",)
_POOL = ("-P", "--pool")
# The pools that run the tasks in the worker's own process (threads or green threads): no pool
# processes to count (celery 5.7 `worker --help`: prefork, eventlet, gevent, solo, processes, threads).
ONE_PROCESS_POOLS = frozenset({"solo", "threads", "eventlet", "gevent"})


@dataclass(frozen=True)
class WorkerCount:
    """The count each dyno runs, by `source`; `fixed` is the app's own count (source APP)."""

    source: WorkersFrom
    fixed: int | None = None


@dataclass(frozen=True)
class CeleryWorker:
    """What a `celery worker` command asks of its pool."""

    concurrency: int | None  # --concurrency N, or --autoscale's maximum; None: none written as a number
    count_given: bool  # the command gives a count, as a number or otherwise (`$CELERY_CONCURRENCY`, auto)
    count_text: str | None  # the count as written
    pool: str  # prefork unless -P says

    @property
    def sized_by_host(self) -> bool:
        """`--concurrency auto`: sized from the host's CPU quota, as the default is from its cores; what a
        dyno's quota gives is unverified, so its cores stand in."""
        return self.count_text == "auto"

    @property
    def one_process(self) -> bool:
        """The tasks run in the worker's own process: no pool processes."""
        return self.pool in ONE_PROCESS_POOLS


def celery_worker(launch: Launch | None) -> CeleryWorker | None:
    """The pool a `celery ... worker` command runs; None for another command."""
    if launch is None or launch.server != "celery" or "worker" not in launch.values:
        return None
    values = launch.values
    autoscale = last_option(values, _AUTOSCALE)
    count = last_option(values, _CONCURRENCY) or (autoscale.split(",", 1)[0] if autoscale else None)
    pool = last_option(values, _POOL) or "prefork"
    return CeleryWorker(int(count) if count and count.isdigit() else None, count is not None, count, pool)


def worker_count(
    command: str,
    observed_workers: int,
    environment: Mapping[str, str],
    gunicorn: GunicornConfig | None,
    local_cores: int | None = None,
) -> WorkerCount | None:
    """Whose count each dyno runs, for a run that started `observed_workers` workers; None when the
    run had no workers (an app without a worker model)."""
    if not observed_workers:
        return None
    celery = celery_worker(launch_of_command(command))
    if celery is not None:
        if (
            celery.count_given and not celery.sized_by_host
        ):  # a number, or $VAR read at its start: what it ran
            return WorkerCount(WorkersFrom.APP, celery.concurrency or observed_workers)
        cores = local_cores if local_cores is not None else os.cpu_count()
        if cores is not None and observed_workers != cores:
            return WorkerCount(WorkersFrom.APP, observed_workers)  # its config's worker_concurrency
        return WorkerCount(WorkersFrom.CORES)
    web_concurrency = environment.get("WEB_CONCURRENCY")
    if web_concurrency is not None and web_concurrency.isdigit() and observed_workers != int(web_concurrency):
        return WorkerCount(WorkersFrom.APP, observed_workers)
    if gunicorn is not None and gunicorn.workers == observed_workers:
        return WorkerCount(WorkersFrom.APP, observed_workers)
    return WorkerCount(WorkersFrom.PLATFORM)

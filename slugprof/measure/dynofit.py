"""Which dyno sizes the measured app fits, and with how many workers.

A gunicorn dyno costs a base (the master, and whatever the workers share with it) plus a marginal
cost per worker: the memory only that worker wrote, at its peak (its USS where the system does not
say). The prediction for N workers is base + N x marginal, checked against the quota (R14 above it:
swapping) and the restart threshold (R15 at quota x the dyno's multiplier: 1 on Fir, which restarts a
dyno at 100% of its quota).

An app without a worker model (Streamlit, a plain `python app.py`, a single uvicorn process) has no
master and no workers: each dyno is judged on the whole process tree's peak, and the fit gives no
worker count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from slugprof.model import DynoFit, DynoSize

MIB = 1024 * 1024


@dataclass(frozen=True)
class WorkerCost:
    base_bytes: int  # the dyno's total at its peak, less the workers' marginal costs
    marginal_bytes: int  # one more worker: the mean of the workers' peak private memory
    observed_workers: int

    @property
    def worker_model(self) -> bool:
        """Whether the run had a master and its workers; False: one process tree, judged whole."""
        return self.observed_workers > 0


def worker_cost(peak_total_bytes: int, worker_peak_uss: Sequence[int]) -> WorkerCost:
    """Split the measured peak total (the headline) into a base and a per-worker marginal cost."""
    if not worker_peak_uss:
        return WorkerCost(peak_total_bytes, 0, 0)
    marginal = round(sum(worker_peak_uss) / len(worker_peak_uss))
    base = max(0, peak_total_bytes - marginal * len(worker_peak_uss))
    return WorkerCost(base, marginal, len(worker_peak_uss))


def fit_dynos(
    cost: WorkerCost,
    dynos: Sequence[DynoSize],
    *,
    headroom: float = 0.10,
    fixed_workers: int | None = None,
    per_core: bool = False,
) -> list[DynoFit]:
    """For each dyno: the prediction at its worker count, its status, and the most workers that fit.

    `fixed_workers` is the app's own worker count when it overrides WEB_CONCURRENCY (a `-w` flag, a
    config file); otherwise each dyno runs the buildpack's WEB_CONCURRENCY for its size, or where the
    platform sets none (Fir), gunicorn's default of one worker. `per_core`: one worker per core the
    dyno reports (a Celery worker's prefork pool without --concurrency). `dynos` is the table of one
    generation.
    Without a worker model the prediction is the measured peak on every dyno, at 0 workers, 0 fitting.
    """
    fits = []
    for dyno in dynos:
        workers = _workers_on(dyno, cost, fixed_workers, per_core)
        predicted = cost.base_bytes + workers * cost.marginal_bytes
        status: Literal["ok", "r14", "r15"] = "ok"
        if predicted > dyno.memory_bytes * dyno.r15_multiplier:
            status = "r15"
        elif predicted > dyno.memory_bytes:
            status = "r14"
        fits.append(
            DynoFit(
                dyno=dyno.name,
                quota_bytes=dyno.memory_bytes,
                workers=workers,
                predicted_bytes=predicted,
                status=status,
                max_workers=max_workers(cost, dyno.memory_bytes, headroom),
                r15_bytes=round(dyno.memory_bytes * dyno.r15_multiplier),
            )
        )
    return fits


def _workers_on(dyno: DynoSize, cost: WorkerCost, fixed_workers: int | None, per_core: bool) -> int:
    if not cost.worker_model:
        return 0
    if fixed_workers is not None:
        return fixed_workers
    return dyno.cores if per_core else dyno.workers


def max_workers(cost: WorkerCost, quota_bytes: int, headroom: float) -> int:
    if not cost.worker_model:
        return 0
    budget = quota_bytes * (1.0 - headroom) - cost.base_bytes
    if budget < cost.marginal_bytes:
        return 0
    if cost.marginal_bytes <= 0:
        return cost.observed_workers
    return int(budget // cost.marginal_bytes)

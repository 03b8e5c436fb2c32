from slugprof.measure.dynofit import MIB, WorkerCost, fit_dynos, max_workers, worker_cost
from slugprof.model import DynoSize
from slugprof.sources.dyno import dyno_sizes

STANDARD_1X = DynoSize("standard-1x", 512 * MIB, 2.0, 8, 2)
PRIVATE_S = DynoSize("private-s", 1024 * MIB, 1.0, 8, 4)


def test_worker_cost_splits_base_and_marginal() -> None:
    cost = worker_cost(300 * MIB, [80 * MIB, 100 * MIB])
    assert cost == WorkerCost(base_bytes=120 * MIB, marginal_bytes=90 * MIB, observed_workers=2)


def test_statuses_follow_quota_and_restart_threshold() -> None:
    # base 100 MiB + 2 x 150 MiB = 400 MiB: fits 512 MiB.
    fine = fit_dynos(WorkerCost(100 * MIB, 150 * MIB, 2), [STANDARD_1X])[0]
    assert (fine.workers, fine.predicted_bytes, fine.status) == (2, 400 * MIB, "ok")
    # 100 + 2 x 300 = 700 MiB: above the quota (swap, R14), below 2x (no restart).
    swapping = fit_dynos(WorkerCost(100 * MIB, 300 * MIB, 2), [STANDARD_1X])[0]
    assert swapping.status == "r14"
    # 100 + 2 x 500 = 1100 MiB: above 2 x 512 MiB: R15.
    assert fit_dynos(WorkerCost(100 * MIB, 500 * MIB, 2), [STANDARD_1X])[0].status == "r15"
    # Private dynos restart at their quota: 100 + 4 x 240 = 1060 MiB > 1024 MiB.
    assert fit_dynos(WorkerCost(100 * MIB, 240 * MIB, 2), [PRIVATE_S])[0].status == "r15"
    # Each row says where R15 restarts its dyno, so that no renderer works it out again.
    assert fine.r15_bytes == 1024 * MIB
    assert fit_dynos(WorkerCost(100 * MIB, 240 * MIB, 2), [PRIVATE_S])[0].r15_bytes == 1024 * MIB


def test_fixed_workers_override_web_concurrency() -> None:
    fit = fit_dynos(WorkerCost(100 * MIB, 100 * MIB, 3), [STANDARD_1X], fixed_workers=3)[0]
    assert (fit.workers, fit.predicted_bytes) == (3, 400 * MIB)


def test_max_workers_keeps_the_headroom() -> None:
    # 512 MiB x 0.9 = 460.8 MiB; minus 100 base = 360.8 MiB; / 100 = 3 workers.
    assert max_workers(WorkerCost(100 * MIB, 100 * MIB, 2), 512 * MIB, 0.10) == 3
    assert max_workers(WorkerCost(100 * MIB, 100 * MIB, 2), 512 * MIB, 0.0) == 4
    assert max_workers(WorkerCost(500 * MIB, 100 * MIB, 2), 512 * MIB, 0.10) == 0


def test_fir_sizes_restart_above_their_quota_with_no_r14_between() -> None:
    fir = dyno_sizes("fir")
    small = next(size for size in fir if size.name == "dyno-1c-0.5gb")
    just_over = fit_dynos(WorkerCost(100 * MIB, small.memory_bytes - 100 * MIB + 1, 1), [small])[0]
    assert (just_over.status, just_over.workers, just_over.r15_bytes) == ("r15", 1, small.memory_bytes)
    at_quota = fit_dynos(WorkerCost(100 * MIB, small.memory_bytes - 100 * MIB, 1), [small])[0]
    assert at_quota.status == "ok"
    # Without a count of its own, each Fir size runs gunicorn's default: one worker.
    assert {fit.workers for fit in fit_dynos(WorkerCost(10 * MIB, 10 * MIB, 1), fir)} == {1}


def test_without_workers_each_size_is_judged_on_the_whole_peak_with_no_count() -> None:
    cost = worker_cost(300 * MIB, [])
    assert not cost.worker_model and worker_cost(300 * MIB, [10 * MIB]).worker_model
    fits = {
        peak: fit_dynos(worker_cost(peak * MIB, []), [STANDARD_1X, PRIVATE_S]) for peak in (300, 700, 1100)
    }
    # 300 MiB fits 512 MiB; 700 MiB swaps on it (R14 below 2 x 512) and fits 1 GiB; 1,100 MiB
    # restarts both (R15: over 2 x 512 MiB, and over 1 GiB where Private restarts at its quota).
    assert [[fit.status for fit in rows] for rows in fits.values()] == [
        ["ok", "ok"],
        ["r14", "ok"],
        ["r15", "r15"],
    ]
    for peak, rows in fits.items():
        for fit in rows:
            assert (fit.workers, fit.max_workers, fit.predicted_bytes) == (0, 0, peak * MIB)
    # Whatever count the app would fix, a process without workers runs none.
    fixed = fit_dynos(cost, [STANDARD_1X], fixed_workers=3)[0]
    assert (fixed.workers, fixed.predicted_bytes) == (0, 300 * MIB)

"""Dyno sizes and the environment a web dyno's process starts with."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from slugprof.errors import UsageError
from slugprof.heroku import (
    DEFAULT_DYNOS,
    DEFAULT_FIR_MEMORY_UNIT,
    DYNO_PLANS,
    FIR_MEMORY_UNITS,
    GENERATIONS,
    MIB,
    WEB_PROCESS,
    DynoPlan,
)
from slugprof.model import DynoSize


def _size(plan: DynoPlan, fir_unit_bytes: int) -> DynoSize:
    return DynoSize(
        name=plan.name,
        memory_bytes=plan.memory_bytes(fir_unit_bytes),
        r15_multiplier=plan.r15_multiplier,
        cores=plan.cores,
        web_concurrency=plan.web_concurrency,
        generation=plan.generation,
    )


def fir_unit_bytes(unit: str) -> int:
    """The bytes of a Fir size's "gb" for the fir-memory-unit setting ("GiB" or "GB")."""
    try:
        return FIR_MEMORY_UNITS[unit]
    except KeyError:
        raise UsageError(f"fir-memory-unit {unit!r} is not one of: {', '.join(FIR_MEMORY_UNITS)}") from None


_DEFAULT_UNIT_BYTES = FIR_MEMORY_UNITS[DEFAULT_FIR_MEMORY_UNIT]
# Heroku's table of dyno sizes (slugprof.heroku) as the model's DynoSize, in the same order; Fir's "gb" read
# as the default unit.
DYNO_SIZES: tuple[DynoSize, ...] = tuple(_size(plan, _DEFAULT_UNIT_BYTES) for plan in DYNO_PLANS)


def dyno_sizes(generation: str, fir_unit: str = DEFAULT_FIR_MEMORY_UNIT) -> tuple[DynoSize, ...]:
    """The sizes of one generation ("cedar" or "fir"), Fir's memory in `fir_unit`: the dyno-fit table."""
    if generation not in GENERATIONS:
        raise UsageError(f"unknown generation {generation!r}: choose one of {', '.join(GENERATIONS)}")
    unit_bytes = fir_unit_bytes(fir_unit)
    return tuple(_size(plan, unit_bytes) for plan in DYNO_PLANS if plan.generation == generation)


def dyno_by_name(name: str, fir_unit: str = DEFAULT_FIR_MEMORY_UNIT) -> DynoSize:
    """The dyno size called `name` (any case), Fir's memory in `fir_unit`, or a UsageError listing the
    valid names."""
    wanted = name.strip().lower()
    for plan in DYNO_PLANS:
        if plan.name == wanted:
            return _size(plan, fir_unit_bytes(fir_unit))
    names = ", ".join(plan.name for plan in DYNO_PLANS)
    raise UsageError(f"unknown dyno size {name!r}; choose one of: {names}")


def generation_of(dyno: str | None, generation: str | None) -> str:
    """The generation a run is for: `--generation`, else the one `--dyno` belongs to, else Cedar. A dyno
    of the other generation is a UsageError."""
    if generation is not None and generation not in GENERATIONS:
        raise UsageError(f"unknown generation {generation!r}: choose one of {', '.join(GENERATIONS)}")
    if dyno is None:
        return generation or "cedar"
    named = dyno_by_name(dyno).generation
    if generation is not None and named != generation:
        raise UsageError(
            f"{dyno} is a {named.capitalize()} dyno size, not a {generation.capitalize()} one: choose one of "
            f"{', '.join(size.name for size in dyno_sizes(generation))}"
        )
    return named


def default_dyno(generation: str) -> str:
    """The --dyno default for a generation: standard-1x on Cedar, dyno-1c-0.5gb on Fir."""
    return DEFAULT_DYNOS[generation]


def dyno_environment(
    app_root: Path,
    dyno: DynoSize,
    *,
    port: int,
    dotenv: Mapping[str, str],
    base_env: Mapping[str, str],
    env_bin: str | None,
    process_type: str = WEB_PROCESS,
) -> dict[str, str]:
    """The environment of a `process_type` process on `dyno`, in the order the dyno builds it.

    base_env, then what the buildpack's .profile.d scripts export, then the app's config vars (from
    .env: they win), then PORT and DYNO, which Heroku sets last. PYTHONHOME is left alone: the local
    interpreter does not live where a dyno's does.
    """
    env = dict(base_env)
    # The dyno's HOME is the app (/app): what an app writes under ~ lands in the slug's folder there,
    # and here in slugprof's copy of it, never in the user's home.
    env["HOME"] = str(app_root)

    # .profile.d/python.sh
    if env_bin:
        env["PATH"] = os.pathsep.join(part for part in (env_bin, env.get("PATH", "")) if part)
    env["PYTHONUNBUFFERED"] = "true"
    env["LANG"] = env.get("LANG") or "en_US.UTF-8"
    env["PYTHONPATH"] = env.get("PYTHONPATH") or str(app_root)  # $HOME, the app, on a dyno

    # .profile.d/WEB_CONCURRENCY.sh: skipped when the app's config vars set WEB_CONCURRENCY. Fir's buildpack
    # has no such script: nothing sets it there but the app (heroku-facts 3.11).
    env.pop("WEB_CONCURRENCY_SET_BY", None)
    if dyno.web_concurrency is None:
        env.pop("WEB_CONCURRENCY", None)
        env.pop("DYNO_RAM", None)
    else:
        env["DYNO_RAM"] = str(dyno.memory_bytes // MIB)
        if "WEB_CONCURRENCY" not in dotenv:
            env["WEB_CONCURRENCY"] = str(dyno.web_concurrency)
            env["WEB_CONCURRENCY_SET_BY"] = "heroku/python"

    # .profile.d/python.gunicorn.sh
    env["FORWARDED_ALLOW_IPS"] = "*"
    env["GUNICORN_CMD_ARGS"] = env.get("GUNICORN_CMD_ARGS") or "--access-logfile -"

    env.update(dotenv)
    env["PORT"] = str(port)
    env["DYNO"] = f"{process_type}.1"
    return env

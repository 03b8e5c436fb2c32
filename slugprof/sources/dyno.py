"""Dyno sizes and the environment a web dyno's process starts with."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from slugprof.errors import UsageError
from slugprof.heroku import DYNO_PLANS, MIB, DynoPlan
from slugprof.model import DynoSize


def _size(plan: DynoPlan) -> DynoSize:
    return DynoSize(
        name=plan.name,
        memory_bytes=plan.memory_mib * MIB,
        r15_multiplier=plan.r15_multiplier,
        cores=plan.cores,
        web_concurrency=plan.web_concurrency,
    )


# Heroku's table of dyno sizes (slugprof.heroku) as the model's DynoSize, in the same order.
DYNO_SIZES: tuple[DynoSize, ...] = tuple(_size(plan) for plan in DYNO_PLANS)


def dyno_by_name(name: str) -> DynoSize:
    """The dyno size called `name` (any case), or a UsageError listing the valid names."""
    wanted = name.strip().lower()
    for size in DYNO_SIZES:
        if size.name == wanted:
            return size
    names = ", ".join(size.name for size in DYNO_SIZES)
    raise UsageError(f"unknown dyno size {name!r}; choose one of: {names}")


def dyno_environment(
    app_root: Path,
    dyno: DynoSize,
    *,
    port: int,
    dotenv: Mapping[str, str],
    base_env: Mapping[str, str],
    env_bin: str | None,
) -> dict[str, str]:
    """The environment of the web process on `dyno`, in the order the dyno builds it.

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

    # .profile.d/WEB_CONCURRENCY.sh: skipped when the app's config vars set WEB_CONCURRENCY.
    env["DYNO_RAM"] = str(dyno.memory_bytes // MIB)
    env.pop("WEB_CONCURRENCY_SET_BY", None)
    if "WEB_CONCURRENCY" not in dotenv:
        env["WEB_CONCURRENCY"] = str(dyno.web_concurrency)
        env["WEB_CONCURRENCY_SET_BY"] = "heroku/python"

    # .profile.d/python.gunicorn.sh
    env["FORWARDED_ALLOW_IPS"] = "*"
    env["GUNICORN_CMD_ARGS"] = env.get("GUNICORN_CMD_ARGS") or "--access-logfile -"

    env.update(dotenv)
    env["PORT"] = str(port)
    env["DYNO"] = "web.1"
    return env

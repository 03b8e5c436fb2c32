"""Dyno sizes and the environment a web dyno's process starts with."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from slugprof.errors import UsageError
from slugprof.model import DynoSize

MIB = 1024 * 1024


def web_concurrency_for(memory_mib: int, cores: int) -> int:
    """The classic Python buildpack's WEB_CONCURRENCY: 256 MiB per process, at most 2 per core + 1."""
    return min(cores * 2 + 1, max(1, memory_mib // 256))


def _size(name: str, memory_mib: int, r15_multiplier: float, cores: int) -> DynoSize:
    return DynoSize(
        name=name,
        memory_bytes=memory_mib * MIB,
        r15_multiplier=r15_multiplier,
        cores=cores,
        web_concurrency=web_concurrency_for(memory_mib, cores),
    )


# Memory: the cgroup limit observed on each dyno (Heroku's "GB" is GiB). Cores: `nproc` there.
# R15: the dyno is restarted at quota x multiplier; Private and Shield dynos at the quota itself.
# Private-S / Shield-S have no published nproc; any value >= 2 gives the published WEB_CONCURRENCY 4.
_PERFORMANCE = (
    ("m", 2560, 2.0, 2),
    ("l", 14336, 2.0, 8),
    ("l-ram", 30720, 1.2, 4),
    ("xl", 63488, 1.2, 8),
    ("2xl", 129024, 1.2, 16),
)

DYNO_SIZES: tuple[DynoSize, ...] = (
    _size("eco", 512, 2.0, 8),
    _size("basic", 512, 2.0, 8),
    _size("standard-1x", 512, 2.0, 8),
    _size("standard-2x", 1024, 2.0, 8),
    *(_size(f"performance-{suffix}", mib, r15, cores) for suffix, mib, r15, cores in _PERFORMANCE),
    *(
        _size(f"{space}-{suffix}", mib, 1.0, cores)
        for space in ("private", "shield")
        for suffix, mib, _, cores in (("s", 1024, 1.0, 2), *_PERFORMANCE)
    ),
)

DEFAULT_DYNO = "standard-1x"


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

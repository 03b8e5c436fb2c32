"""Settings: `[tool.slugprof]` in the app's pyproject.toml, then SLUGPROF_* variables, then flags; and
the cache root.

Numbers the platform does not publish (marked unverified in the project's Heroku notes) live here as
settings with their source, never as constants buried in the code.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from slugprof import heroku
from slugprof.errors import UsageError
from slugprof.units import parse_growth, parse_size

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

MB = 1000**2


@dataclass(frozen=True)
class Settings:
    # 500 MB, the limit apps and CI built against for years, though Heroku's is 1000 MB since March 2026.
    slug_limit: int = heroku.SLUG_BUDGET_BYTES
    # 300 MB, where Heroku's build warns that the slug "may affect boot time".
    soft_limit: int = heroku.SOFT_LIMIT_BYTES
    # 1000 MB, where builds now fail: "Compiled slug size: 3.1G is too large (max is 1000M)" (heroku-facts
    # 9.1); a setting, since Heroku has moved it before.
    slug_hard_limit: int = heroku.SLUG_HARD_LIMIT_BYTES
    # The buildpack's Python runtime is a pre-stripped archive we cannot measure offline. Derived: a
    # CPython 3.11 standard library without tests and optimised bytecode (46 MB as tar, 17.8 MB as
    # tar.gz) plus a stripped libpython.
    python_runtime_size: int = 52 * MB
    python_runtime_compressed_size: int = 20 * MB
    # Where the runtime archives are downloaded from, to measure the runtime instead (a mirror, or a
    # file:// folder, may stand in for the buildpack's store).
    python_runtime_url: str = heroku.PYTHON_RUNTIME_URL
    # Measured: pip 26.2.1 installed with its bytecode (Python 3.11), tar + gzip -6 of its files.
    pip_size: int = 11_700_000
    pip_compressed_size: int = 3_800_000
    # Measured: setuptools 70.3.0 (with pkg_resources, _distutils_hack), installed with bytecode.
    setuptools_size: int = 7_400_000
    setuptools_compressed_size: int = 2_400_000
    # Measured: pipenv 2026.7.1 and its dependencies installed with bytecode (the buildpack keeps
    # Pipenv's virtualenv in the slug).
    pipenv_size: int = 30_600_000
    pipenv_compressed_size: int = 13_100_000
    # The buildpack's default Python when the app names none.
    default_python: str = heroku.DEFAULT_PYTHON
    # Heroku-26's glibc is unverified: it caps which manylinux wheels install, so it is a setting.
    heroku_26_glibc: str = heroku.HEROKU_26_GLIBC_DEFAULT
    # Where CPU-only torch builds come from, for the swap that drops the CUDA wheels (heroku-facts 7).
    torch_cpu_index: str = heroku.TORCH_CPU_INDEX
    # `slugprof check`'s limits. The compressed slug's (None: the slug limit above) and the dyno's peak
    # memory (None: the quota of `dyno`); findings of `fail_on` severity or worse fail it ("never": none).
    max_slug: int | None = None
    max_memory: int | None = None
    dyno: str = heroku.DEFAULT_DYNO
    fail_on: str = "error"
    # What "gb" means in a Fir dyno size's name (`dyno-2c-1gb`): "GiB" as Cedar's "GB" is, or "GB". Unverified
    # (heroku-facts 9.4), hence a setting.
    fir_memory_unit: str = heroku.DEFAULT_FIR_MEMORY_UNIT
    # How much the compressed slug may grow against a baseline: "5%" or "2 MB" (None: any growth).
    max_slug_growth: str | None = None
    # Rule ids whose findings are silenced (`ignore = ["BUILD110"]`); the report counts them.
    ignore: tuple[str, ...] = ()


# Keys accepted in [tool.slugprof] and as SLUGPROF_<KEY> (upper case, '-' -> '_').
_SIZE_KEYS = {field.name.replace("_", "-"): field.name for field in fields(Settings) if field.type == "int"}
_TEXT_KEYS = {
    "default-python": "default_python",
    "python-runtime-url": "python_runtime_url",
    "heroku-26-glibc": "heroku_26_glibc",
    "torch-cpu-index": "torch_cpu_index",
}
_LIST_KEYS = {"ignore": "ignore"}
# Limits that may be unset (None: the default the check derives), sizes all the same.
_OPTIONAL_SIZE_KEYS = {"max-slug": "max_slug", "max-memory": "max_memory"}
# Names with a fixed set of values, each checked where it is read.
_CHOICE_KEYS = {"fail-on": "fail_on", "dyno": "dyno", "fir-memory-unit": "fir_memory_unit"}
# A size or a share ("5%"), checked when read; `max-growth` is the short spelling.
_GROWTH_KEYS = {"max-slug-growth": "max_slug_growth", "max-growth": "max_slug_growth"}
FAIL_ON = ("error", "warning", "info", "never")
_KNOWN_KEYS = (*_SIZE_KEYS, *_TEXT_KEYS, *_LIST_KEYS, *_OPTIONAL_SIZE_KEYS, *_CHOICE_KEYS, *_GROWTH_KEYS)


def load_settings(
    app_root: Path,
    environ: Mapping[str, str],
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Defaults, then the app's pyproject.toml, then SLUGPROF_* variables, then command-line flags."""
    settings = Settings()
    settings = _apply(settings, _read_pyproject(app_root), source="pyproject.toml [tool.slugprof]")
    from_env = {
        key: environ[f"SLUGPROF_{key.upper().replace('-', '_')}"]
        for key in _KNOWN_KEYS
        if f"SLUGPROF_{key.upper().replace('-', '_')}" in environ
    }
    settings = _apply(settings, from_env, source="environment")
    return _apply(settings, dict(overrides or {}), source="command line")


def _read_pyproject(app_root: Path) -> dict[str, Any]:
    path = app_root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"{path.name}: not valid TOML ({error}); fix the file or remove it") from error
    except OSError as error:
        raise UsageError(f"{path.name}: cannot read it ({error.strerror})") from error
    tool = document.get("tool", {})
    section = tool.get("slugprof", {}) if isinstance(tool, dict) else {}
    if not isinstance(section, dict):
        raise UsageError("pyproject.toml: [tool.slugprof] must be a table")
    return section


def _apply(settings: Settings, values: Mapping[str, Any], *, source: str) -> Settings:
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        normalised = key.replace("_", "-")
        if normalised in _SIZE_KEYS:
            changes[_SIZE_KEYS[normalised]] = parse_size(value, what=f"{source}: {normalised}")
        elif normalised in _OPTIONAL_SIZE_KEYS:
            changes[_OPTIONAL_SIZE_KEYS[normalised]] = parse_size(value, what=f"{source}: {normalised}")
        elif normalised in _CHOICE_KEYS:
            changes[_CHOICE_KEYS[normalised]] = _choice(normalised, value, source)
        elif normalised in _GROWTH_KEYS:
            parse_growth(value, what=f"{source}: {normalised}")  # checked here, kept as written
            changes[_GROWTH_KEYS[normalised]] = str(value)
        elif normalised in _TEXT_KEYS:
            changes[_TEXT_KEYS[normalised]] = str(value)
        elif normalised in _LIST_KEYS:
            changes[_LIST_KEYS[normalised]] = _words(value, what=f"{source}: {normalised}")
        else:
            known = ", ".join(sorted(_KNOWN_KEYS))
            raise UsageError(f"{source}: unknown setting {key!r}; known settings: {known}")
    return replace(settings, **changes)


def _choice(key: str, value: object, source: str) -> str:
    """A `fail-on`, `dyno` or `fir-memory-unit` value, checked: a UsageError naming the key, where it came
    from, and the values it takes."""
    if key == "fir-memory-unit":
        units = {unit.lower(): unit for unit in heroku.FIR_MEMORY_UNITS}
        unit = units.get(str(value).strip().lower())
        if unit is None:
            raise UsageError(f"{source}: {key} = {value!r} is not one of: {', '.join(units.values())}")
        return unit
    text = str(value).strip().lower()
    choices = FAIL_ON if key == "fail-on" else tuple(plan.name for plan in heroku.DYNO_PLANS)
    if text not in choices:
        raise UsageError(f"{source}: {key} = {value!r} is not one of: {', '.join(choices)}")
    return text


def _words(value: object, *, what: str) -> tuple[str, ...]:
    """A list setting: a TOML array of strings, or a comma-separated string (variables, flags)."""
    if isinstance(value, str):
        items: list[object] = [item for item in value.split(",")]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise UsageError(f'{what}: give a list of rule ids, like ["BUILD110"]')
    words = []
    for item in items:
        if not isinstance(item, str):
            raise UsageError(f'{what}: {item!r} is not a rule id; give strings, like "BUILD110"')
        if item.strip():
            words.append(item.strip().upper())
    return tuple(words)


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    """The folder every cache of slugprof lives under: `$XDG_CACHE_HOME/slugprof` when that variable is
    set (on any system, as on Linux), else the platform's user cache folder."""
    xdg = (os.environ if environ is None else environ).get("XDG_CACHE_HOME", "")
    if xdg.strip():  # as platformdirs reads it on Linux
        return Path(xdg) / "slugprof"
    return platformdirs.user_cache_path("slugprof")

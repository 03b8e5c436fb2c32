"""The top-level modules a distribution installs (its import names), from the paths it installs.

`python-dateutil` installs `dateutil/...`, `PyYAML` installs `yaml/...` and `_yaml/...`, `six` installs
`six.py`: the first part of each path under site-packages that Python can import. Paths are relative to
site-packages (a RECORD's rows, a wheel's members); a wheel's `X.data/purelib/` and `X.data/platlib/`
land there too, its other schemes (scripts, headers, data) do not.
"""

from __future__ import annotations

from collections.abc import Iterable

_IMPORTABLE_SUFFIXES = (".py", ".so", ".pyd")  # a module file; `.so`/`.pyd` with an ABI tag before it
_SITE_SCHEMES = ("purelib", "platlib")


def top_level_modules(paths: Iterable[str]) -> tuple[str, ...]:
    """The sorted import names at the top of `paths` (POSIX, relative to site-packages)."""
    modules: set[str] = set()
    for path in paths:
        parts = path.split("/")
        if len(parts) >= 3 and parts[0].endswith(".data") and parts[1] in _SITE_SCHEMES:
            parts = parts[2:]
        name = _module_of(parts)
        if name is not None:
            modules.add(name)
    return tuple(sorted(modules))


def _module_of(parts: list[str]) -> str | None:
    first = parts[0]
    if len(parts) > 1:  # a package folder (or a namespace package's)
        candidate = first
    elif first.endswith(_IMPORTABLE_SUFFIXES):
        candidate = first.split(".", 1)[0]  # "six.py", "_cffi_backend.cpython-313-x86_64-linux-gnu.so"
    else:
        return None  # a .pth, a stray file at the top
    if (
        not candidate.isidentifier()
        or candidate == "__pycache__"
        or candidate.endswith((".dist-info", ".egg-info"))
    ):
        return None
    return candidate

"""What every resolver run takes: the request, and the environment its tools run in."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from slugprof.model import Target
from slugprof.progress import Progress
from slugprof.sources.requirements import REQUIREMENTS_TXT, read_requirements_txt
from slugprof.sources.target import target_marker_environment

RESOLVE_TIMEOUT = 600.0  # seconds for one resolver run (a cold resolution of a large set on a slow link)
# seconds for the resolver's `--version`: pip imports itself in about a second; a loaded CI runner with a
# cold disk takes many times that.
VERSION_TIMEOUT = 60.0
# uv settings from the user's environment that only say how to connect; the rest would change the result.
_KEEP_UV_VARIABLES = {
    "UV_CACHE_DIR",
    "UV_CONCURRENT_DOWNLOADS",
    "UV_HTTP_RETRIES",
    "UV_HTTP_TIMEOUT",
    "UV_INSECURE_HOST",
    "UV_KEYRING_PROVIDER",
    "UV_NATIVE_TLS",
    "UV_REQUEST_TIMEOUT",
    "UV_SYSTEM_CERTS",
}
_UV_INDEX_CREDENTIALS = re.compile(r"^UV_INDEX_\w+_(USERNAME|PASSWORD)$")


@dataclass(frozen=True)
class Context:
    """One resolution's request: the app, the dyno it targets, and how to reach the indexes."""

    app_root: Path
    target: Target
    environ: Mapping[str, str]
    cache_dir: Path | None
    offline: bool
    index_url: str | None  # replaces the default index (a mirror), unless the app names its own
    extra_indexes: tuple[str, ...]  # PIP_EXTRA_INDEX_URL from the app's .env
    progress: Progress
    build_sdists: bool = False  # resolving may run a package's build code to read its metadata
    # requirement files as a fix would leave them (relative path -> text), read instead of the disk's
    edited: Mapping[str, str] = field(default_factory=dict)


def tool_environment(context: Context) -> dict[str, str]:
    """The resolver's environment: the caller's, less settings that would resolve differently than the
    buildpack's pip does, plus slugprof's cache."""
    environment = {
        name: value
        for name, value in context.environ.items()
        if not name.startswith("PIP_")
        and (not name.startswith("UV_") or name in _KEEP_UV_VARIABLES or _UV_INDEX_CREDENTIALS.match(name))
    }
    if context.cache_dir is not None:
        environment["UV_CACHE_DIR"] = str(context.cache_dir / "uv")
        environment["PIP_CACHE_DIR"] = str(context.cache_dir / "pip")
    environment.update(
        {"UV_NO_PROGRESS": "1", "NO_COLOR": "1", "UV_PYTHON_DOWNLOADS": "never", "PIP_NO_INPUT": "1"}
    )
    return environment


def index_arguments(context: Context, own_index: bool) -> list[str]:
    """The resolver's index options: the mirror given (unless the app names its own) and .env's extras."""
    arguments: list[str] = []
    if context.index_url and not own_index:
        arguments += ["--index-url", context.index_url]
    for url in context.extra_indexes:
        arguments += ["--extra-index-url", url]
    return arguments


def names_own_index(app_root: Path, files: Sequence[str]) -> bool:
    """True when the requirements files set the index themselves (-i, --index-url, --no-index)."""
    pattern = re.compile(r"^\s*(-i\b|--index-url\b|--no-index\b)", re.MULTILINE)
    for relative in files:
        try:
            if pattern.search((app_root / relative).read_text(encoding="utf-8", errors="replace")):
                return True
        except OSError:
            continue
    return False


def requirements_files(
    app_root: Path, target: Target, edited: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """requirements.txt and every file it includes (-r, -c), as the app's manager files."""
    read = read_requirements_txt(app_root, target_marker_environment(target), edited)
    return read.files or (REQUIREMENTS_TXT,)

"""Resolve the app's dependencies for the dyno's platform, from any machine, without installing them.

- requirements.txt (pip): uv resolves for the dyno (`uv pip compile --python-platform ...`) from the
  packages' metadata alone: once in the pylock.toml format, which names each package's file for the
  target, and once in the annotated format, whose `# via` lines give the dependency edges. Without uv,
  pip's `install --dry-run --report` is the fallback (it evaluates markers on this machine: said in notes).
- uv.lock, poetry.lock, Pipfile.lock: the lock is the resolution. Where it names no URL, the file is found
  in the index's PEP 503 page (JSON when served, else the HTML anchors).

Resolutions are cached as JSON under `<cache>/resolve-v1/`, keyed by every manager file's bytes, the
target, the indexes and the resolver's version: a changed requirement re-resolves.
"""

from __future__ import annotations

import dataclasses
import email.parser
import hashlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from slugprof.cache import JsonStore, digest_key, versioned
from slugprof.errors import ToolFailure, UsageError
from slugprof.model import Resolution, ResolvedFile, ResolvedPackage, Target
from slugprof.net import Client, NetError, NotFound, local_path, redact
from slugprof.processes import run_command
from slugprof.progress import NoProgress, Progress
from slugprof.sources.buildpack import choose_package_manager
from slugprof.sources.lockfiles import (
    DEFAULT_INDEX,
    LockedPackage,
    LockedSet,
    read_pipfile_lock,
    read_poetry_lock,
    read_uv_lock,
)
from slugprof.sources.requirements import REQUIREMENTS_TXT, name_from_filename, read_requirements_txt
from slugprof.sources.target import (
    choose_filename,
    describe,
    platform_tags,
    python_full_version,
    tag_ranks,
    target_marker_environment,
    target_tags,
    uv_python_platform,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

CACHE_FORMAT = versioned("resolve", 1)  # bump when a Resolution is stored differently
LOCK_READER_VERSION = "1"  # bump when lockfiles.py reads a lock differently: old cached resolutions go
RESOLVE_TIMEOUT = 600.0  # seconds for one resolver run (a cold resolution of a large set on a slow link)
LOOKUP_WORKERS = 8
_SIMPLE_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
)
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


# --- finding the resolver --------------------------------------------------------------------------


def find_uv() -> str | None:
    """The uv executable of slugprof's own environment: the `uv` package's, else next to the interpreter."""
    try:
        import uv  # type: ignore[import-untyped,unused-ignore]

        found = uv.find_uv_bin()
        if found and os.path.isfile(found):
            return str(found)
    except (ImportError, FileNotFoundError, AttributeError):
        pass
    for name in ("uv", "uv.exe"):
        candidate = Path(sys.executable).parent / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


# --- the entry point -------------------------------------------------------------------------------


def resolve(
    app_root: Path,
    target: Target,
    *,
    environ: Mapping[str, str],
    dotenv: Mapping[str, str],
    cache_dir: Path | None,
    offline: bool,
    index_url: str | None = None,
    progress: Progress = NoProgress(),  # noqa: B008 (stateless)
) -> Resolution:
    """The packages the buildpack installs on `target`, each with the file it installs.

    UsageError: the app's manager files fail the build (several of them, a Pipfile without its lock,
    none), or a lock file is garbage. ToolFailure: a requirement cannot be resolved, or the index
    cannot be reached.
    """
    choice = choose_package_manager(app_root)
    if choice.build_errors or choice.file is None:
        raise UsageError(f"the Heroku build would fail: {choice.build_errors[0]}")
    notes: list[str] = []
    if choice.name != target.manager:
        notes.append(f"the app's {choice.file} selects {choice.name}, not {target.manager}")
        target = dataclasses.replace(target, manager=choice.name)
    extra_indexes = tuple(dotenv.get("PIP_EXTRA_INDEX_URL", "").split())
    context = _Context(
        app_root=app_root,
        target=target,
        environ=environ,
        cache_dir=cache_dir,
        offline=offline,
        index_url=index_url,
        extra_indexes=extra_indexes,
        progress=progress,
    )

    uv = find_uv() if choice.name == "pip" else None
    if choice.name == "pip":
        resolver = _uv_version(uv, context) if uv else _pip_version(context)
        manager_files = _requirements_files(app_root, target)
    else:
        resolver = f"{choice.file} (lock reader {LOCK_READER_VERSION})"
        manager_files = _lock_inputs(app_root, choice.file)
    key = _cache_key(app_root, manager_files, target, index_url, extra_indexes, resolver)
    store = JsonStore(cache_dir, CACHE_FORMAT)
    cached = _read_cache(store, key)
    if cached is not None:
        return cached

    if choice.name == "pip":
        if uv:
            resolution = _resolve_requirements_with_uv(context, uv, resolver)
        else:
            resolution = _resolve_requirements_with_pip(context, resolver)
    else:
        if choice.name == "uv":
            locked = read_uv_lock(app_root, target)
        elif choice.name == "poetry":
            locked = read_poetry_lock(app_root, target)
        else:
            locked = read_pipfile_lock(app_root, target, environ={**environ, **dotenv})
        resolution = _resolution_from_lock(context, locked, resolver)
    if notes:
        resolution = dataclasses.replace(resolution, notes=(*notes, *resolution.notes))
    # A lock read offline is not kept: its files were not looked up yet.
    if not any(package.file is not None and not package.file.url for package in resolution.packages):
        store.put(key, resolution_to_json(dataclasses.replace(resolution, from_cache=False)))
    return resolution


@dataclass(frozen=True)
class _Context:
    app_root: Path
    target: Target
    environ: Mapping[str, str]
    cache_dir: Path | None
    offline: bool
    index_url: str | None  # replaces the default index (a mirror), unless the app names its own
    extra_indexes: tuple[str, ...]  # PIP_EXTRA_INDEX_URL from the app's .env
    progress: Progress


# --- requirements.txt with uv ----------------------------------------------------------------------


def _tool_environment(context: _Context) -> dict[str, str]:
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


def _uv_version(uv: str, context: _Context) -> str:
    result = run_command([uv, "--version"], env=_tool_environment(context), timeout=30)
    words = result.stdout.decode("utf-8", "replace").split()
    if result.returncode != 0 or len(words) < 2:
        raise ToolFailure(f"{uv} --version failed: is the uv package installed correctly?")
    return f"{words[0]} {words[1]}"


def _index_arguments(context: _Context, own_index: bool) -> list[str]:
    arguments: list[str] = []
    if context.index_url and not own_index:
        arguments += ["--index-url", context.index_url]
    for url in context.extra_indexes:
        arguments += ["--extra-index-url", url]
    return arguments


def _names_own_index(app_root: Path, files: Sequence[str]) -> bool:
    """True when the requirements files set the index themselves (-i, --index-url, --no-index)."""
    pattern = re.compile(r"^\s*(-i\b|--index-url\b|--no-index\b)", re.MULTILINE)
    for relative in files:
        try:
            if pattern.search((app_root / relative).read_text(encoding="utf-8", errors="replace")):
                return True
        except OSError:
            continue
    return False


def _resolve_requirements_with_uv(context: _Context, uv: str, resolver: str) -> Resolution:
    target = context.target
    files = _requirements_files(context.app_root, target)
    base = [
        uv,
        "pip",
        "compile",
        REQUIREMENTS_TXT,
        "--python-platform",
        uv_python_platform(target),
        "--python-version",
        python_full_version(target),
        # slugprof's own interpreter builds an sdist when its metadata needs building; never download one
        "--python",
        sys.executable,
        "--no-python-downloads",
        "--no-config",
        # pip looks at every index and takes the best version: uv's default stops at the first index
        "--index-strategy",
        "unsafe-best-match",
        "--color",
        "never",
        "--no-progress",
        *_index_arguments(context, _names_own_index(context.app_root, files)),
    ]
    if context.offline:
        base.append("--offline")
    environment = _tool_environment(context)
    context.progress.stage(f"Resolving dependencies for {describe(target)} with {resolver}")
    with tempfile.TemporaryDirectory(prefix="slugprof-resolve-") as scratch:
        lock_path = Path(scratch) / "pylock.toml"
        argv = [*base, "--format", "pylock.toml", "--output-file", str(lock_path), "--quiet"]
        result = run_command(argv, cwd=str(context.app_root), env=environment, timeout=RESOLVE_TIMEOUT)
        if result.returncode != 0 or not lock_path.is_file():
            raise _uv_failure(result.stderr, target)
        pylock = tomllib.loads(lock_path.read_text(encoding="utf-8"))
        files_by_name = _pylock_files(pylock, Path(scratch), target)
    annotated = run_command(
        [*base, "--annotation-style", "split", "--no-header"],
        cwd=str(context.app_root),
        env=environment,
        timeout=RESOLVE_TIMEOUT,
    )
    if annotated.returncode != 0:
        raise _uv_failure(annotated.stderr, target)
    parents = _parse_annotations(annotated.stdout.decode("utf-8", "replace"))
    context.progress.advance()

    notes = [f"resolved by {resolver} for {uv_python_platform(target)}, Python {python_full_version(target)}"]
    platform = uv_python_platform(target)
    if not platform.endswith(f"_{target.glibc.split('.')[1]}"):
        notes.append(
            f"uv knows manylinux tags up to {platform.split('-')[1]}: wheels needing a newer glibc "
            f"(the stack has {target.glibc}) were not considered"
        )
    packages = []
    for name, (version, file, note) in sorted(files_by_name.items()):
        via = parents.get(name, _Via())
        if note:
            notes.append(f"{name}: {note}")
        packages.append((name, version, file, via))
    return _assemble(target, resolver, tuple(files), packages, notes)


@dataclass
class _Via:
    packages: set[str] = dataclasses.field(default_factory=set)  # canonical names of its parents
    files: set[str] = dataclasses.field(default_factory=set)  # requirements files naming it (-r ...)


def _assemble(
    target: Target,
    resolver: str,
    manager_files: tuple[str, ...],
    packages: Iterable[tuple[str, str, ResolvedFile | None, _Via]],
    notes: list[str],
) -> Resolution:
    rows = list(packages)
    names = {name for name, *_ in rows}
    children: dict[str, set[str]] = {name: set() for name in names}
    for name, _, _, via in rows:
        for parent in via.packages & names:
            children[parent].add(name)
    resolved = []
    top_level = []
    for name, version, file, via in rows:
        if file is not None and file.size is None and file.url.startswith("file:"):
            file = dataclasses.replace(file, size=_local_size(file.url))
        is_top = bool(via.files)
        if is_top:
            top_level.append(name)
        resolved.append(
            ResolvedPackage(
                name=name,
                version=version,
                file=file,
                requires=tuple(sorted(children[name])),
                top_level=is_top,
                requested_by=tuple(sorted(via.packages & names)) + tuple(sorted(via.files)),
            )
        )
    return Resolution(
        target=target,
        resolver=resolver,
        manager_files=manager_files,
        top_level=tuple(sorted(top_level)),
        packages=tuple(resolved),
        notes=tuple(notes),
    )


def _local_size(url: str) -> int | None:
    """The size of a file:// URL's file (a wheel in the app or a -f folder on this machine)."""
    path = local_path(url)
    try:
        return path.stat().st_size if path is not None else None
    except OSError:
        return None


_REQUIREMENT_LINE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(==|@)")


def _name_of_line(line: str) -> str | None:
    """The package a line of uv's output pins: `name==1.0`, `name @ url`, or a path/URL to a file."""
    line = line.removeprefix("-e ").strip()
    match = _REQUIREMENT_LINE.match(line)
    if match:
        return canonicalize_name(match.group("name"))
    location = line.split(";", 1)[0].strip()
    fragment = urlsplit(location).fragment
    for part in fragment.split("&"):
        key, _, value = part.partition("=")
        if key == "egg" and value:
            return canonicalize_name(re.split(r"[\[]", value, maxsplit=1)[0])
    return name_from_filename(unquote(urlsplit(location).path).rstrip("/").rsplit("/", 1)[-1])


def _parse_annotations(text: str) -> dict[str, _Via]:
    """`# via` lines of uv's split annotations: package -> its parents and the files that name it."""
    found: dict[str, _Via] = {}
    current: _Via | None = None
    for raw in text.splitlines():
        if not raw.strip():
            continue
        if not raw[0].isspace() and not raw.startswith("#"):
            name = _name_of_line(raw.strip())
            current = found.setdefault(name, _Via()) if name else None
            continue
        comment = raw.strip()
        if current is None or not comment.startswith("#"):
            continue
        entry = comment.lstrip("#").strip()
        if entry.startswith("via"):
            entry = entry[3:].strip()
        if not entry:
            continue
        if entry.startswith("-r "):
            current.files.add(entry[3:].strip())
        elif entry.startswith(("-c ", "--override", "--constraint")):
            continue
        else:
            current.packages.add(canonicalize_name(entry.split()[0]))
    return found


def _pylock_files(
    pylock: Mapping[str, Any], folder: Path, target: Target
) -> dict[str, tuple[str, ResolvedFile | None, str | None]]:
    """name -> (version, the file the dyno installs, a note) from uv's pylock.toml."""
    ranks = tag_ranks(target_tags(target))
    found: dict[str, tuple[str, ResolvedFile | None, str | None]] = {}

    def located(entry: Mapping[str, Any], kind: str) -> ResolvedFile | None:
        if "url" in entry:
            url = str(entry["url"])
        elif "path" in entry:
            url = (folder / str(entry["path"])).resolve().as_uri()
        else:
            return None
        filename = str(entry.get("name") or unquote(urlsplit(url).path).rsplit("/", 1)[-1])
        hashes = entry.get("hashes", {})
        size = entry.get("size")
        return ResolvedFile(
            filename=filename,
            url=url,
            kind="wheel" if kind == "wheel" or filename.endswith(".whl") else "sdist",
            size=size if isinstance(size, int) else None,
            sha256=hashes.get("sha256") if isinstance(hashes, dict) else None,
        )

    for package in pylock.get("packages", []):
        name = canonicalize_name(str(package.get("name", "")))
        version = str(package.get("version", ""))
        note: str | None = None
        wheels = [w for w in (located(entry, "wheel") for entry in package.get("wheels", []) or []) if w]
        by_name = {wheel.filename: wheel for wheel in wheels}
        chosen_name = choose_filename(by_name, ranks)
        file = by_name.get(chosen_name) if chosen_name else None
        if file is None and isinstance(package.get("sdist"), dict):
            file = located(package["sdist"], "sdist")
        if file is None and isinstance(package.get("archive"), dict):
            file = located(package["archive"], "archive")
        if file is None and isinstance(package.get("vcs"), dict):
            vcs = package["vcs"]
            url = f"{vcs.get('type', 'git')}+{vcs.get('url', '')}@{vcs.get('commit-id', '')}"
            file = ResolvedFile(filename=f"{name} ({vcs.get('type', 'git')})", url=url, kind="sdist")
            note = "built from a VCS checkout on the dyno"
        if file is None and isinstance(package.get("directory"), dict):
            note = "installed from a folder of the app: its files are counted with the app"
        elif file is None:
            note = "no file for the dyno in uv's resolution"
        found[name] = (version, file, note)
    return found


def _uv_failure(stderr: bytes, target: Target) -> ToolFailure:
    """One line: the requirement that cannot be resolved and uv's own last word on why."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    start = max((i for i, line in enumerate(lines) if line.startswith("error:")), default=0)
    block = [line for line in lines[start:] if line]
    # uv's last sentence, not the echo of a bad line and its caret under it
    meaningful = [line for line in block if len(re.findall(r"[A-Za-z]{2,}", line)) >= 3]
    reason = (meaningful or block or ["uv failed without saying why"])[-1]
    for prefix in ("error:", "cause:", "\u00d7", "\u2570\u2500\u25b6"):  # uv's fancy report marks
        reason = reason.removeprefix(prefix).strip()
    text = " ".join(block)
    fetched = re.search(r"Failed to fetch: `?(\S+?)`?(\s|$)", text)
    if fetched:  # the network, not the requirements: name the URL (it comes from the configured index)
        reason = f"{reason} (fetching {redact(fetched.group(1))})"
    requirement = None
    for pattern in (r"you require ([^\s,]+)", r"Because ([^\s]+) was not found", r"`([^`\s]+)`"):
        match = re.search(pattern, text)
        if match and not match.group(1).endswith(".txt"):
            requirement = match.group(1).rstrip(".")
            break
    what = f"{requirement} ({REQUIREMENTS_TXT})" if requirement else REQUIREMENTS_TXT
    return ToolFailure(f"cannot resolve {what} for {describe(target)}: {reason}")


# --- requirements.txt with pip (fallback) ----------------------------------------------------------


def _pip_version(context: _Context) -> str:
    result = run_command(
        [sys.executable, "-m", "pip", "--version"], env=_tool_environment(context), timeout=60
    )
    words = result.stdout.decode("utf-8", "replace").split()
    if result.returncode != 0 or len(words) < 2:
        raise ToolFailure(
            "neither uv nor pip is available to resolve requirements.txt: install slugprof with uv"
        )
    return f"{words[0]} {words[1]}"


def _resolve_requirements_with_pip(context: _Context, resolver: str) -> Resolution:
    target = context.target
    if context.offline:
        raise ToolFailure(
            "offline: pip cannot resolve requirements.txt without the network (uv can, from its cache)"
        )
    files = _requirements_files(context.app_root, target)
    minor = target.python_minor.replace(".", "")
    argv = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--ignore-installed",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--report",
        "-",
        "--only-binary=:all:",
        "--python-version",
        python_full_version(target),
        "--implementation",
        "cp",
        "--abi",
        f"cp{minor}",
        "--abi",
        "abi3",
        "--abi",
        "none",
    ]
    for platform in platform_tags(target):
        argv += ["--platform", platform]
    argv += _index_arguments(context, _names_own_index(context.app_root, files))
    context.progress.stage(f"Resolving dependencies for {describe(target)} with {resolver}")
    with tempfile.TemporaryDirectory(prefix="slugprof-resolve-") as scratch:
        argv += ["--target", scratch, "-r", REQUIREMENTS_TXT]
        result = run_command(
            argv, cwd=str(context.app_root), env=_tool_environment(context), timeout=RESOLVE_TIMEOUT
        )
    if result.returncode != 0:
        lines = [
            line.strip() for line in result.stderr.decode("utf-8", "replace").splitlines() if line.strip()
        ]
        text = " ".join(lines)
        match = re.search(r"(?:for|satisfies the requirement) ([^\s(]+)", text)
        what = f"{match.group(1)} ({REQUIREMENTS_TXT})" if match else REQUIREMENTS_TXT
        reason = next(
            (line for line in reversed(lines) if line.startswith("ERROR:")), lines[-1] if lines else ""
        )
        raise ToolFailure(
            f"cannot resolve {what} for {describe(target)}: {reason.removeprefix('ERROR:').strip()}"
        )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise ToolFailure(f"{resolver} wrote no readable report ({error})") from error

    environment = target_marker_environment(target)
    installs = report.get("install", [])
    names = {str(canonicalize_name(str(item["metadata"]["name"]))) for item in installs}
    rows: list[tuple[str, str, ResolvedFile, set[str], bool]] = []
    for item in installs:
        metadata = item["metadata"]
        name = str(canonicalize_name(str(metadata["name"])))
        info = item.get("download_info", {})
        url = str(info.get("url", ""))
        filename = unquote(urlsplit(url).path).rsplit("/", 1)[-1]
        hashes = info.get("archive_info", {}).get("hashes", {})
        file = ResolvedFile(
            filename=filename,
            url=url,
            kind="wheel" if filename.endswith(".whl") else "sdist",
            sha256=hashes.get("sha256"),
        )
        extras = [str(extra) for extra in item.get("requested_extras", []) or []]
        requires = (
            _requires_from_metadata(metadata.get("requires_dist", []) or [], extras, environment) & names
        )
        rows.append((name, str(metadata["version"]), file, requires, bool(item.get("requested"))))
    # pip evaluated markers for this machine: keep what the dyno reaches from the requirements that
    # apply on it, by the dyno's markers; say what pip added or left out for this machine's sake.
    read = read_requirements_txt(context.app_root, environment)
    applies = {line.name for line in read.requirements if line.name and line.applies}
    named = {line.name for line in read.requirements if line.name}
    requested = {name for name, *_, was_requested in rows if was_requested}
    roots = {name for name in requested if name in applies or name not in named}
    children = {name: requires for name, _, _, requires, _ in rows}
    reachable: set[str] = set()
    queue: list[str] = list(roots)
    while queue:
        current = queue.pop()
        if current not in reachable:
            reachable.add(current)
            queue.extend(children.get(current, set()))
    notes = [
        f"resolved by {resolver} (uv was not found): wheels only; pip followed this machine's markers, "
        "so packages only this machine needs were dropped, and any the dyno alone needs may be missing"
    ]
    dropped = sorted(names - reachable)
    if dropped:
        notes.append(f"not installed on the dyno (pulled in by this machine's markers): {', '.join(dropped)}")
    missing = sorted(applies - names)
    if missing:
        notes.append(f"required on the dyno but skipped by pip on this machine: {', '.join(missing)}")
    parents: dict[str, _Via] = {name: _Via() for name in reachable}
    for name, _, _, requires, _ in rows:
        if name not in reachable:
            continue
        for child in requires & reachable:
            parents[child].packages.add(name)
    for name in roots:
        parents[name].files.add(REQUIREMENTS_TXT)
    kept = [(n, v, f, parents[n]) for n, v, f, _, _ in sorted(rows) if n in reachable]
    return _assemble(target, resolver, tuple(files), kept, notes)


def _requires_from_metadata(
    requires_dist: Iterable[str], extras: Sequence[str], environment: Mapping[str, str]
) -> set[str]:
    found: set[str] = set()
    for text in requires_dist:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is not None:
            try:
                if not any(requirement.marker.evaluate({**environment, "extra": e}) for e in ("", *extras)):
                    continue
            except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
                pass
        found.add(canonicalize_name(requirement.name))
    return found


# --- lock files --------------------------------------------------------------------------------------


# A locked package's file found in the index, its dependencies from the index's metadata, a note.
_Found = tuple[ResolvedFile | None, frozenset[str] | None, str | None]


def _resolution_from_lock(context: _Context, locked: LockedSet, resolver: str) -> Resolution:
    target = context.target
    notes = [f"read from {locked.lock_file} for {describe(target)}", *locked.notes]
    to_find = [p for p in locked.packages if (p.chosen is None or p.chosen.url is None) and p.direct is None]
    found: dict[str, _Found] = {}
    if to_find and context.offline:
        notes.append(
            f"offline: {len(to_find)} package file(s) not looked up in the index: URLs and sizes unknown"
        )
        for package in to_find:
            chosen = package.chosen
            file = (
                ResolvedFile(filename=chosen.filename, url="", kind=chosen.kind, sha256=chosen.sha256)
                if chosen
                else None
            )
            found[package.name] = (file, None, None if chosen else "offline: its file is unknown")
    elif to_find:
        context.progress.stage("Looking up locked files in the package index", total=len(to_find))
        wants_edges = not locked.edges_known
        with Client() as client:
            indexes = _IndexReader(client)

            def look_up(package: LockedPackage) -> tuple[str, _Found]:
                result = _find_in_indexes(context, indexes, package, wants_edges)
                context.progress.advance()
                return package.name, result

            with ThreadPoolExecutor(max_workers=LOOKUP_WORKERS) as pool:
                found.update(pool.map(look_up, to_find))

    names = {package.name for package in locked.packages}
    rows = []
    for package in locked.packages:
        requires = set(package.requires)
        if package.name in found:
            file, metadata_requires, note = found[package.name]
            if metadata_requires is not None:
                requires |= set(metadata_requires) & names
        else:
            chosen = package.chosen
            file = (
                ResolvedFile(
                    filename=chosen.filename,
                    url=chosen.url or "",
                    kind=chosen.kind,
                    size=chosen.size,
                    sha256=chosen.sha256,
                )
                if chosen is not None
                else None
            )
            note = package.note
        if note:
            notes.append(f"{package.name}: {note}")
        rows.append((package, file, requires))
    if not locked.edges_known and not any(found.get(p.name, (None, None, None))[1] for p in locked.packages):
        notes.append(f"{locked.lock_file} records no dependency edges: who requires what is unknown")
    parents: dict[str, _Via] = {package.name: _Via() for package in locked.packages}
    for package, _, requires in rows:
        for child in requires:
            if child in parents and child != package.name:
                parents[child].packages.add(package.name)
    for name in locked.top_level:
        if name in parents:
            parents[name].files.add(locked.lock_file)
    return _assemble(
        target,
        resolver,
        locked.files_read,
        ((package.name, package.version, file, parents[package.name]) for package, file, _ in rows),
        notes,
    )


def _find_in_indexes(
    context: _Context, indexes: _IndexReader, package: LockedPackage, wants_edges: bool
) -> _Found:
    """(file, its dependencies from the index's metadata when wanted, a note) for a locked package."""
    primary = package.index_url or DEFAULT_INDEX
    if context.index_url and primary.rstrip("/") == DEFAULT_INDEX:
        primary = context.index_url
    candidates = [primary]
    if context.target.manager == "pipenv":
        candidates += [url for url in context.extra_indexes if url not in candidates]
    ranks = tag_ranks(target_tags(context.target))
    wanted_names = {file.filename for file in package.files}
    wanted_hashes = set(package.hashes)
    try:
        version = Version(package.version)
    except InvalidVersion:
        return None, None, f"version {package.version!r} is not a valid version"
    for index in candidates:
        page = indexes.files(index, package.name)
        if page is None:
            continue
        matching = {
            file.filename: file
            for file in page
            if _version_of(file.filename) == version
            and (not wanted_names or file.filename in wanted_names)
            and (not wanted_hashes or file.sha256 is None or file.sha256 in wanted_hashes)
        }
        chosen_name = choose_filename(matching, ranks)
        if chosen_name is None:
            continue
        chosen = matching[chosen_name]
        file = ResolvedFile(
            filename=chosen.filename,
            url=chosen.url,
            kind="wheel" if chosen.filename.endswith(".whl") else "sdist",
            size=chosen.size,
            sha256=chosen.sha256,
        )
        requires = None
        if wants_edges and chosen.core_metadata and chosen.filename.endswith(".whl"):
            requires = frozenset(
                _metadata_requires(
                    indexes.client, chosen.url, package.extras, target_marker_environment(context.target)
                )
            )
        return file, requires, None
    shown = ", ".join(redact(url) for url in candidates)
    return None, None, f"no file of {package.name} {package.version} for the dyno found in {shown}"


def _version_of(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        if filename.endswith((".tar.gz", ".zip")):
            return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


def _metadata_requires(
    client: Client, url: str, extras: Sequence[str], environment: Mapping[str, str]
) -> set[str]:
    """Requires-Dist of a wheel from the index's PEP 658 metadata file, markers evaluated."""
    try:
        body = client.get(url + ".metadata", shown=url).body
    except NetError:
        return set()
    message = email.parser.BytesParser().parsebytes(body, headersonly=True)
    return _requires_from_metadata(message.get_all("Requires-Dist") or [], extras, environment)


# --- the package index --------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexFile:
    filename: str
    url: str
    sha256: str | None = None
    size: int | None = None
    core_metadata: bool = False  # the index serves `<url>.metadata` (PEP 658/714)


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str | None]] = []
        self._current: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._current = dict(attrs)
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._current is not None:
            self._current["#text"] = "".join(self._text).strip()
            self.anchors.append(self._current)
            self._current = None


def parse_simple_page(body: bytes, content_type: str, page_url: str) -> list[IndexFile]:
    """The files of a PEP 503 project page (HTML) or its PEP 691 JSON form."""
    if "json" in content_type:
        document = json.loads(body)
        files = []
        for entry in document.get("files", []):
            hashes = entry.get("hashes", {}) or {}
            size = entry.get("size")
            metadata = entry.get("core-metadata", entry.get("dist-info-metadata", False))
            files.append(
                IndexFile(
                    filename=str(entry["filename"]),
                    url=urljoin(page_url, str(entry["url"])),
                    sha256=hashes.get("sha256"),
                    size=size if isinstance(size, int) else None,
                    core_metadata=bool(metadata),
                )
            )
        return files
    parser = _AnchorParser()
    parser.feed(body.decode("utf-8", "replace"))
    files = []
    for anchor in parser.anchors:
        href = anchor.get("href")
        if not href:
            continue
        url = urljoin(page_url, href)
        parts = urlsplit(url)
        fragment = dict(part.partition("=")[::2] for part in parts.fragment.split("&") if part)
        filename = unquote(parts.path).rsplit("/", 1)[-1] or str(anchor.get("#text") or "")
        metadata = anchor.get("data-core-metadata") or anchor.get("data-dist-info-metadata")
        files.append(
            IndexFile(
                filename=filename,
                url=urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, "")),
                sha256=fragment.get("sha256"),
                core_metadata=metadata is not None and metadata != "false",
            )
        )
    return files


class _IndexReader:
    """Fetches project pages, each once (lookups run in threads; a page read twice costs only time)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._pages: dict[tuple[str, str], list[IndexFile] | None] = {}

    def files(self, index: str, name: str) -> list[IndexFile] | None:
        """The files of project `name` on `index`; None when the index has no such project.
        ToolFailure when the index cannot be read."""
        key = (index, name)
        if key not in self._pages:
            page_url = f"{index.rstrip('/')}/{name}/"
            try:
                response = self.client.get(page_url, shown=index, accept=_SIMPLE_ACCEPT)
            except NotFound:
                self._pages[key] = None
                return None
            except NetError as error:
                raise ToolFailure(str(error)) from error
            try:
                self._pages[key] = parse_simple_page(response.body, response.content_type, response.url)
            except (ValueError, KeyError, TypeError) as error:
                raise ToolFailure(
                    f"{redact(index)}: the page of {name} is not a package index page ({error})"
                ) from error
        return self._pages[key]


# --- manager files and the cache -------------------------------------------------------------------------


def _requirements_files(app_root: Path, target: Target) -> tuple[str, ...]:
    read = read_requirements_txt(app_root, target_marker_environment(target))
    return read.files or (REQUIREMENTS_TXT,)


def _lock_inputs(app_root: Path, lock_file: str) -> tuple[str, ...]:
    companions = {
        "Pipfile.lock": ("Pipfile",),
        "poetry.lock": ("pyproject.toml",),
        "uv.lock": ("pyproject.toml",),
    }
    return (lock_file, *(name for name in companions.get(lock_file, ()) if (app_root / name).is_file()))


def _cache_key(
    app_root: Path,
    manager_files: Sequence[str],
    target: Target,
    index_url: str | None,
    extra_indexes: Sequence[str],
    resolver: str,
) -> str:
    parts: dict[str, Any] = {
        "format": CACHE_FORMAT,
        "target": dataclasses.asdict(target),
        "index_url": index_url,
        "extra_indexes": list(extra_indexes),
        "resolver": resolver,
        "files": {},
    }
    for relative in manager_files:
        try:
            parts["files"][relative] = hashlib.sha256((app_root / relative).read_bytes()).hexdigest()
        except OSError:
            parts["files"][relative] = None
    return digest_key(parts)


def resolution_to_json(resolution: Resolution) -> dict[str, Any]:
    return dataclasses.asdict(resolution)


def resolution_from_json(data: Mapping[str, Any]) -> Resolution:
    """The inverse of resolution_to_json; KeyError/TypeError/ValueError on a document of another shape."""
    packages = []
    for raw in data["packages"]:
        file = raw["file"]
        packages.append(
            ResolvedPackage(
                name=str(raw["name"]),
                version=str(raw["version"]),
                file=ResolvedFile(**file) if file is not None else None,
                requires=tuple(raw["requires"]),
                top_level=bool(raw["top_level"]),
                requested_by=tuple(raw["requested_by"]),
            )
        )
    return Resolution(
        target=Target(**data["target"]),
        resolver=str(data["resolver"]),
        manager_files=tuple(data["manager_files"]),
        top_level=tuple(data["top_level"]),
        packages=tuple(packages),
        notes=tuple(data["notes"]),
        from_cache=bool(data.get("from_cache", False)),
    )


def _read_cache(store: JsonStore, key: str) -> Resolution | None:
    data = store.get(key)
    if data is None:
        return None
    try:
        return dataclasses.replace(resolution_from_json(data), from_cache=True)
    except (ValueError, KeyError, TypeError):
        return None  # written by another version: resolve again

"""requirements.txt resolved by pip's `install --dry-run --report` when uv is missing.

pip evaluates markers on this machine, not the dyno: the notes say what that added or left out.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.utils import canonicalize_name

from slugprof.errors import ToolFailure
from slugprof.model import Resolution, ResolvedFile, Target
from slugprof.processes import run_command
from slugprof.resolve.assemble import Via, assemble
from slugprof.resolve.context import (
    RESOLVE_TIMEOUT,
    VERSION_TIMEOUT,
    Context,
    index_arguments,
    names_own_index,
    requirements_files,
    tool_environment,
)
from slugprof.resolve.requires import requires_from_metadata
from slugprof.resolve.uv_request import Installer, UvRequest
from slugprof.sources.requirements import REQUIREMENTS_TXT, read_requirements_txt
from slugprof.sources.target import describe, platform_tags, python_full_version, target_marker_environment


def pip_version(context: Context) -> str:
    result = run_command(
        [sys.executable, "-m", "pip", "--version"], env=tool_environment(context), timeout=VERSION_TIMEOUT
    )
    words = result.stdout.decode("utf-8", "replace").split()
    if result.returncode != 0 or len(words) < 2:
        raise ToolFailure(
            "neither uv nor pip is available to resolve requirements.txt: install slugprof with uv"
        )
    return f"{words[0]} {words[1]}"


def resolve_with_pip(context: Context, resolver: str) -> Resolution:
    target = context.target
    if context.offline:
        raise ToolFailure(
            "offline: pip cannot resolve requirements.txt without the network (uv can, from its cache)"
        )
    files = requirements_files(context.app_root, target, context.edited)
    argv = _pip_argv(target)
    argv += index_arguments(context, names_own_index(context.app_root, files))
    context.progress.stage(f"Resolving dependencies for {describe(target)} with {resolver}")
    with tempfile.TemporaryDirectory(prefix="slugprof-resolve-") as scratch:
        request = UvRequest.of(context, Path(scratch), target, installer=Installer.PIP)
        read = request.read
        argv += ["--target", str(Path(scratch) / "target"), "-r", request.source()]
        result = run_command(
            argv, cwd=str(context.app_root), env=tool_environment(context), timeout=RESOLVE_TIMEOUT
        )
    if result.returncode != 0:
        raise _pip_failure(result.stderr, target)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise ToolFailure(f"{resolver} wrote no readable report ({error})") from error

    environment = target_marker_environment(target)
    installs = report.get("install", [])
    rows = _report_rows(installs, environment)
    names = {name for name, *_ in rows}
    # pip evaluated markers for this machine: keep what the dyno reaches from the requirements that
    # apply on it, by the dyno's markers; say what pip added or left out for this machine's sake.
    read = read_requirements_txt(context.app_root, environment, context.edited)
    applies = {line.name for line in read.requirements if line.name and line.applies}
    named = {line.name for line in read.requirements if line.name}
    requested = {name for name, *_, was_requested in rows if was_requested}
    roots = {name for name in requested if name in applies or name not in named}
    children = {name: requires for name, _, _, requires, _ in rows}
    reachable = _reachable_from(roots, children)
    notes = [
        f"resolved by {resolver} (uv was not found): wheels only; pip followed this machine's markers, "
        "so packages only this machine needs were dropped, and any the dyno alone needs may be missing",
        *request.notes,
    ]
    dropped = sorted(names - reachable)
    if dropped:
        notes.append(f"not installed on the dyno (pulled in by this machine's markers): {', '.join(dropped)}")
    missing = sorted(applies - names)
    if missing:
        notes.append(f"required on the dyno but skipped by pip on this machine: {', '.join(missing)}")
    parents: dict[str, Via] = {name: Via() for name in reachable}
    for name, _, _, requires, _ in rows:
        if name not in reachable:
            continue
        for child in requires & reachable:
            parents[child].packages.add(name)
    for name in roots:
        parents[name].files.add(REQUIREMENTS_TXT)
    kept = [(n, v, f, parents[n]) for n, v, f, _, _ in sorted(rows) if n in reachable]
    return assemble(target, resolver, tuple(files), kept, notes)


def _pip_argv(target: Target) -> list[str]:
    """pip's dry run for the dyno's interpreter and platform, wheels only, its report on stdout."""
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
    return argv


def _pip_failure(stderr: bytes, target: Target) -> ToolFailure:
    """The package pip could not resolve, named with pip's last ERROR line as the reason."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    text = " ".join(lines)
    match = re.search(r"(?:for|satisfies the requirement) ([^\s(]+)", text)
    what = f"{match.group(1)} ({REQUIREMENTS_TXT})" if match else REQUIREMENTS_TXT
    reason = next((line for line in reversed(lines) if line.startswith("ERROR:")), lines[-1] if lines else "")
    return ToolFailure(
        f"cannot resolve {what} for {describe(target)}: {reason.removeprefix('ERROR:').strip()}"
    )


PipRow = tuple[str, str, ResolvedFile, set[str], bool]
"""A package pip would install: name, version, file, the names it requires, whether it was asked for."""


def _report_rows(installs: list[Any], environment: Mapping[str, str]) -> list[PipRow]:
    """pip's report as rows; requirements by the dyno's markers, kept to the packages pip installs."""
    names = {str(canonicalize_name(str(item["metadata"]["name"]))) for item in installs}
    rows: list[PipRow] = []
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
            requires_from_metadata(metadata.get("requires_dist", []) or [], extras, environment) & names
        )
        rows.append((name, str(metadata["version"]), file, requires, bool(item.get("requested"))))
    return rows


def _reachable_from(roots: set[str], children: Mapping[str, set[str]]) -> set[str]:
    """Every package reached from the roots through what each requires."""
    reachable: set[str] = set()
    queue: list[str] = list(roots)
    while queue:
        current = queue.pop()
        if current not in reachable:
            reachable.add(current)
            queue.extend(children.get(current, set()))
    return reachable

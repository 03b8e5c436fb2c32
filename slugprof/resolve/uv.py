"""requirements.txt resolved by uv for the dyno's platform, from the packages' metadata alone.

Twice: in the pylock.toml format, which names each package's file for the target, and in the annotated
format, whose `# via` lines give the dependency edges.
"""

from __future__ import annotations

import dataclasses
import os
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
from slugprof.net import redact
from slugprof.processes import CommandResult, run_command
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
from slugprof.resolve.uv_request import Installer, UvRequest, resolve_refusing_builds
from slugprof.sources.requirements import (
    REQUIREMENTS_TXT,
    RequirementsFile,
    name_from_filename,
)
from slugprof.sources.target import (
    choose_filename,
    describe,
    python_full_version,
    tag_ranks,
    target_tags,
    uv_python_platform,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


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


def uv_version(uv: str, context: Context) -> str:
    result = run_command([uv, "--version"], env=tool_environment(context), timeout=VERSION_TIMEOUT)
    words = result.stdout.decode("utf-8", "replace").split()
    if result.returncode != 0 or len(words) < 2:
        raise ToolFailure(f"{uv} --version failed: is the uv package installed correctly?")
    return f"{words[0]} {words[1]}"


def resolve_with_uv(context: Context, uv: str, resolver: str) -> Resolution:
    target = context.target
    files = requirements_files(context.app_root, target, context.edited)
    environment = tool_environment(context)
    context.progress.stage(f"Resolving dependencies for {describe(target)} with {resolver}")
    with tempfile.TemporaryDirectory(prefix="slugprof-resolve-") as scratch:
        request = UvRequest.of(context, Path(scratch), target, installer=Installer.UV)
        read = request.read
        options = _uv_options(context, files)
        environment = request.environment(environment)
        lock_path = Path(scratch) / "pylock.toml"

        def run(argv: list[str]) -> CommandResult:
            # the requirements written again each run: a refused build may have left a line out
            command = [uv, "pip", "compile", request.source(), *options, *argv]
            return run_command(command, cwd=str(context.app_root), env=environment, timeout=RESOLVE_TIMEOUT)

        def locked(metadata: list[str]) -> CommandResult:
            result = run([*metadata, "--format", "pylock.toml", "--output-file", str(lock_path), "--quiet"])
            if result.returncode == 0 and not lock_path.is_file():
                return CommandResult(1, result.stdout, result.stderr)
            return result

        def failure(result: CommandResult) -> Exception:
            return _uv_failure(result.stderr, target, read)

        resolve_refusing_builds(request, locked, failure)
        pylock = tomllib.loads(lock_path.read_text(encoding="utf-8"))
        files_by_name = _pylock_files(pylock, Path(scratch), target)
        annotated = run([*request.arguments(), "--annotation-style", "split", "--no-header"])
        if annotated.returncode != 0:
            raise _uv_failure(annotated.stderr, target, read)
        parents = _parse_annotations(annotated.stdout.decode("utf-8", "replace"))
    for via in parents.values():
        via.files = {request.shown_file(file) for file in via.files}
    context.progress.advance()

    return _assembled(target, resolver, files, request, files_by_name, parents)


def _assembled(
    target: Target,
    resolver: str,
    files: tuple[str, ...],
    request: UvRequest,
    files_by_name: Mapping[str, tuple[str, ResolvedFile | None, str | None]],
    parents: Mapping[str, Via],
) -> Resolution:
    notes = [f"resolved by {resolver} for {uv_python_platform(target)}, Python {python_full_version(target)}"]
    platform = uv_python_platform(target)
    if not platform.endswith(f"_{target.glibc.split('.')[1]}"):
        notes.append(
            f"uv knows manylinux tags up to {platform.split('-')[1]}: wheels needing a newer glibc "
            f"(the stack has {target.glibc}) were not considered"
        )
    notes += request.notes
    packages = []
    for name, (version, file, note) in sorted(files_by_name.items()):
        via = parents.get(name, Via())
        if file is not None and name in request.editable:
            note = "installed editable: pip clones the repository into the slug"
            file = dataclasses.replace(file, editable=True)
        if note:
            notes.append(f"{name}: {note}")
        packages.append((name, "unknown" if name in request.url_packages else version, file, via))
    return assemble(target, resolver, files, packages, notes)


def _uv_options(context: Context, files: tuple[str, ...]) -> list[str]:
    """uv's options for the dyno: its platform and Python, the app's indexes, nothing from this machine."""
    target = context.target
    options = [
        "--python-platform",
        uv_python_platform(target),
        "--python-version",
        python_full_version(target),
        # slugprof's own interpreter: the only one allowed to start (see uv_request); never download one
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
        *index_arguments(context, names_own_index(context.app_root, files)),
    ]
    if context.offline:
        options.append("--offline")
    return options


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


def _parse_annotations(text: str) -> dict[str, Via]:
    """`# via` lines of uv's split annotations: package -> its parents and the files that name it."""
    found: dict[str, Via] = {}
    current: Via | None = None
    for raw in text.splitlines():
        if not raw.strip():
            continue
        if not raw[0].isspace() and not raw.startswith("#"):
            name = _name_of_line(raw.strip())
            current = found.setdefault(name, Via()) if name else None
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


def _uv_failure(stderr: bytes, target: Target, read: RequirementsFile | None = None) -> ToolFailure:
    """One line: the requirement that cannot be resolved (and the line that asks for it), and uv's own
    reason: its sentence on the conflict, or for a failed build the package's own last error line."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    start = max((i for i, line in enumerate(lines) if line.startswith("error:")), default=0)
    block = [line for line in lines[start:] if line]
    text = " ".join(block)
    build = _BUILD_FAILED.search(text)
    if build is not None:
        requirement: str | None = build.group("spec")
        reason = f"its build failed: {_build_error(lines[start:])}"
    else:
        requirement = _failed_requirement(text)
        reason = _uv_reason(block)
    fetched = re.search(r"Failed to fetch: `?(\S+?)`?(\s|$)", text)
    if fetched:  # the network, not the requirements: name the URL (it comes from the configured index)
        reason = f"{reason} (fetching {redact(fetched.group(1))})"
    if requirement is None:
        return ToolFailure(f"cannot resolve {REQUIREMENTS_TXT} for {describe(target)}: {reason}")
    return ToolFailure(
        f"cannot resolve {requirement} ({_asked_by(requirement, read)}) for {describe(target)}: {reason}"
    )


_BUILD_FAILED = re.compile(r"Failed to (?:download and )?build `(?P<spec>[^`]+)`")
_MARKS = ("error:", "cause:", "\u00d7", "\u2570\u2500\u25b6")  # uv's report marks, plain and fancy


def _unmarked(line: str) -> str:
    for prefix in _MARKS:
        line = line.removeprefix(prefix).strip()
    return line


def _failed_requirement(text: str) -> str | None:
    for pattern in (r"you require ([^\s,]+)", r"Because ([^\s]+) was not found", r"`([^`\s]+)`"):
        match = re.search(pattern, text)
        if match and not match.group(1).endswith(".txt"):
            return match.group(1).rstrip(".")
    return None


def _uv_reason(block: list[str]) -> str:
    """uv's sentence on why: from its first "Because" to the end of that paragraph; else its last cause
    (never a hint, nor the echo of a line with a caret under it)."""
    lines = [line for line in block if not line.startswith("hint:")]
    # a hint that names something (`win_amd64`) says more; "usually indicates a problem" does not
    hints = [line.removeprefix("hint:").strip() for line in block if line.startswith("hint:") and "`" in line]
    suffix = f" ({hints[0]})" if hints else ""
    for index, line in enumerate(lines):
        if "Because " in line:
            sentence = [_unmarked(line)]
            for follow in lines[index + 1 :]:
                if follow.startswith(_MARKS):
                    break
                sentence.append(follow)
            return " ".join(sentence) + suffix
    meaningful = [line for line in lines if len(re.findall(r"[A-Za-z]{2,}", line)) >= 3]
    return _unmarked((meaningful or lines or ["uv failed without saying why"])[-1]) + suffix


def _build_error(lines: list[str]) -> str:
    """The package's own last line in what its build printed (uv shows it under `[stderr]`)."""
    output: list[str] = []
    inside = False
    for line in lines:
        if line in ("[stderr]", "[stdout]"):
            inside = True
        elif line.startswith(("hint:", "cause:", "error:")):
            inside = False
        elif inside and line:
            output.append(line)
    if output:
        return output[-1]
    causes = [_unmarked(line) for line in lines if line.startswith("cause:")]
    return causes[-1] if causes else "no output"


def _asked_by(requirement: str, read: RequirementsFile | None) -> str:
    """The requirements line naming the package of `requirement`, else the requirements file."""
    match = re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    if read is None or match is None:
        return REQUIREMENTS_TXT
    name = canonicalize_name(match.group(0))
    named = [line for line in read.requirements if line.name == name]
    exact = [line for line in named if line.text.replace(" ", "") == requirement.replace(" ", "")]
    return (exact or named)[0].source if named else REQUIREMENTS_TXT

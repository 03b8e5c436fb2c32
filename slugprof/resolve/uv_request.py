"""What uv is asked to resolve: the app's requirements files, rewritten only where uv and pip differ,
and the rule that resolving never runs a package's build code.

- `-e git+https://...#egg=name`: pip clones the repository and installs it in editable mode; uv
  accepts editables only from a folder. The line is given to uv as `name @ git+https://...`: the same
  commit, the same dependencies.
- A package with no wheel for the dyno: uv reads its dependencies from the sdist's static metadata
  (PKG-INFO 2.2+, or pyproject.toml's [project]) when it has them, and otherwise builds it, which runs
  the package's own code (setup.py, a PEP 517 backend). Unless `--build-sdists` was given, that build
  is refused before any of the package's code runs: every interpreter uv starts outside slugprof's own
  (its build environments) stops at startup. The package is then given to uv with no dependencies
  (uv's `dependency-metadata`), named in a note, and its size estimated.
- A folder of the app (`-e .`, `./libs/pkg`) without static metadata is left out of the resolution
  for the same reason: its files count with the app, its dependencies are not followed (a note says so).

The rewritten files are written in a scratch folder with the app's layout (so `-r` includes still
work), and uv runs in the app's folder (so paths on the lines still mean what they mean to pip).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from packaging.utils import canonicalize_name

from slugprof.errors import ToolFailure
from slugprof.model import Target
from slugprof.processes import CommandResult
from slugprof.resolve.context import Context
from slugprof.sources.requirements import (
    REQUIREMENTS_TXT,
    RequirementLine,
    RequirementsFile,
    read_requirements_txt,
    rewrite_lines,
)
from slugprof.sources.target import target_marker_environment

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

# Set in uv's environment: the interpreter slugprof gave uv. Any other interpreter starting with the
# guard on its path (a build environment uv made) stops before running anything of the package's.
GUARD_VARIABLE = "SLUGPROF_BUILDS_REFUSED_OUTSIDE"
GUARD_MESSAGE = "slugprof: resolving does not run a package's build code (--build-sdists does)"
_GUARD = f"""\
import os
import sys

_allowed = os.environ.get({GUARD_VARIABLE!r})
if _allowed and os.path.realpath(sys.prefix) != os.path.realpath(_allowed):
    sys.stderr.write({GUARD_MESSAGE!r} + "\\n")
    sys.stderr.flush()
    os._exit(86)
"""
_BUILD_FAILED = re.compile(r"Failed to (?:download and )?build `(?P<spec>[^`]+)`")
_VCS = re.compile(r"^(git|hg|svn|bzr)\+", re.IGNORECASE)
MAX_REFUSED_BUILDS = 25  # packages given to uv without their dependencies before giving up
UNKNOWN_VERSION = "0"  # uv needs a version for a URL's metadata; the report says "unknown"


class Installer(Enum):
    """Who installs the resolved requirements: uv (reads static metadata) or pip (builds to learn it)."""

    UV = "uv"
    PIP = "pip"


@dataclass
class UvRequest:
    """The requirements uv reads, the metadata slugprof gives it, and what it changed, in notes."""

    app_root: Path
    scratch: Path
    read: RequirementsFile
    build_sdists: bool
    replacements: dict[tuple[str, int], str] = field(default_factory=dict)  # (file, line) -> new line
    metadata: dict[str, str] = field(default_factory=dict)  # name -> version, dependencies not followed
    notes: list[str] = field(default_factory=list)
    editable: set[str] = field(default_factory=set)  # VCS packages pip installs in editable mode
    unbuilt: set[str] = field(default_factory=set)  # packages whose dependencies were not followed
    url_packages: set[str] = field(default_factory=set)  # unbuilt packages from a URL: version unknown
    edited: Mapping[str, str] = field(default_factory=dict)  # files as a fix would leave them: path -> text

    @classmethod
    def of(cls, context: Context, scratch: Path, target: Target, *, installer: Installer) -> UvRequest:
        """The app's requirements read for the target, and the lines the installer cannot be given as
        they are: rewritten (an editable VCS line for uv) or left out, each said in notes."""
        read = read_requirements_txt(context.app_root, target_marker_environment(target), context.edited)
        request = cls(
            app_root=context.app_root,
            scratch=scratch,
            read=read,
            build_sdists=context.build_sdists,
            edited=context.edited or {},
        )
        prepare = request._prepare if installer is Installer.UV else request._leave_out_for_pip
        for line in read.requirements:
            prepare(line)
        return request

    def _leave_out_for_pip(self, line: RequirementLine) -> None:
        """pip reads no static metadata: it runs the build backend of every folder and VCS URL to
        learn their dependencies, so without --build-sdists those lines are left out (said in notes)."""
        location = line.location
        if self.build_sdists or location is None or location.endswith(".whl"):
            return
        self.replacements[(line.file, line.line)] = ""
        self.notes.append(
            f"{line.source}: {location}: pip runs its build code to read its dependencies, which "
            "resolving does not do: left out (--build-sdists includes it)"
        )

    def _prepare(self, line: RequirementLine) -> None:
        location = line.location
        if location is None:
            return
        if line.editable and _VCS.match(location):
            self.replacements[(line.file, line.line)] = _named_vcs_line(line, location)
            if line.name:
                self.editable.add(line.name)
        elif not self.build_sdists and not _VCS.match(location) and not urlsplit(location).scheme:
            folder = (self.app_root / location).resolve()
            if folder.is_dir() and not has_static_metadata(folder):
                self.replacements[(line.file, line.line)] = ""
                self.notes.append(
                    f"{line.source}: {location} has no static metadata (setup.py): resolving does not run "
                    "its build code, so its dependencies are not followed; its files count with the app "
                    "(--build-sdists follows them)"
                )

    @property
    def rewritten(self) -> bool:
        return bool(self.replacements) or bool(self.edited)

    def source(self) -> str:
        """The requirements file to give uv, relative to the app root or in the scratch folder."""
        if not self.rewritten:
            return REQUIREMENTS_TXT
        if any(name.startswith("../") for name in self.read.files):
            if self.edited:
                raise ToolFailure("a requirements file outside the app is included: the fix is not resolved")
            return REQUIREMENTS_TXT
        mirror = self.scratch / "requirements"
        for name in self.read.files:
            original = self.edited.get(name)
            if original is None:
                original = (self.app_root / name).read_text(encoding="utf-8-sig", errors="replace")
            lines = {line: text for (file, line), text in self.replacements.items() if file == name}
            target = mirror / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(rewrite_lines(original, lines) if lines else original, encoding="utf-8")
        return str(mirror / REQUIREMENTS_TXT)

    def shown_file(self, path: str) -> str:
        """A file named in uv's output, as the app names it."""
        mirror = (self.scratch / "requirements").resolve()
        try:
            return (self.app_root / path).resolve().relative_to(mirror).as_posix()
        except ValueError:
            return path

    def arguments(self) -> list[str]:
        """uv's options for the metadata slugprof gives it."""
        if not self.metadata:
            return []
        config = self.scratch / "uv.toml"
        entries = [
            f'[[dependency-metadata]]\nname = "{name}"\nversion = "{version}"\nrequires-dist = []\n'
            for name, version in sorted(self.metadata.items())
        ]
        config.write_text("\n".join(entries), encoding="utf-8")
        return ["--config-file", str(config)]

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """uv's environment, with the guard unless sdists may be built."""
        if self.build_sdists:
            return dict(base)
        guard = self.scratch / "guard"
        guard.mkdir(exist_ok=True)
        (guard / "sitecustomize.py").write_text(_GUARD, encoding="utf-8")
        return {**base, "PYTHONPATH": str(guard), GUARD_VARIABLE: sys.prefix}

    def refused(self, result: CommandResult) -> bool:
        """When uv failed because a build was refused: give it that package without dependencies (and
        say so), and True to run it again. False when uv failed for another reason."""
        text = result.stderr.decode("utf-8", "replace")
        if self.build_sdists or GUARD_MESSAGE not in text:
            return False
        if len(self.metadata) >= MAX_REFUSED_BUILDS:
            raise ToolFailure(
                f"more than {MAX_REFUSED_BUILDS} packages need building to be resolved: "
                "give --build-sdists to build them"
            )
        match = _BUILD_FAILED.search(text)
        if match is None:
            return self._drop_unnamed()
        name, version, from_url = _parse_spec(match.group("spec"))
        if name in self.metadata:
            return False
        self.metadata[name] = version
        self.unbuilt.add(name)
        if from_url:
            self.url_packages.add(name)
        what = "its source" if from_url else "only an sdist for the dyno"
        self.notes.append(
            f"{name}: {what}, without static metadata: resolving does not run its build code, so its "
            "dependencies are not followed and its size is estimated (--build-sdists builds it)"
        )
        return True

    def _drop_unnamed(self) -> bool:
        """A build refused for a line that names no package (a bare VCS URL): leave such lines out."""
        dropped = False
        for line in self.read.requirements:
            key = (line.file, line.line)
            if (
                line.name is None
                and line.location
                and _VCS.match(line.location)
                and key not in self.replacements
            ):
                self.replacements[key] = ""
                self.notes.append(
                    f"{line.source}: {line.location} names no package (add #egg=name) and has no static "
                    "metadata: resolving does not run its build code, so it is not counted"
                )
                dropped = True
        return dropped


def has_static_metadata(folder: Path) -> bool:
    """Whether a project folder declares its name, version and dependencies without running code
    (pyproject.toml's [project], none of them dynamic), as uv reads it."""
    try:
        project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8")).get("project")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    if not isinstance(project, dict):
        return False
    dynamic = set(project.get("dynamic", []) or [])
    return "name" in project and "version" in project and not dynamic & {"version", "dependencies"}


def _named_vcs_line(line: RequirementLine, location: str) -> str:
    """`name[extras] @ url` for an editable VCS line (`#egg=` dropped from the URL, other fragment
    parts such as `subdirectory=` kept), with its marker."""
    parts = urlsplit(location)
    fragment = "&".join(part for part in parts.fragment.split("&") if part and not part.startswith("egg="))
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, fragment))
    marker = line.text[len(location) :].strip().removeprefix(";").strip()
    if line.name is None:
        return f"{url} ; {marker}" if marker else url
    extras = f"[{','.join(line.extras)}]" if line.extras else ""
    return f"{line.name}{extras} @ {url}" + (f" ; {marker}" if marker else "")


def _parse_spec(spec: str) -> tuple[str, str, bool]:
    """(canonical name, version, from a URL) of uv's `name==1.0` or `name @ url`."""
    if " @ " in spec:
        return canonicalize_name(spec.split(" @ ", 1)[0].strip()), UNKNOWN_VERSION, True
    name, _, version = spec.partition("==")
    return canonicalize_name(name.strip()), version.strip() or UNKNOWN_VERSION, False


def resolve_refusing_builds(
    request: UvRequest, run: Callable[[list[str]], CommandResult], fail: Callable[[CommandResult], Exception]
) -> CommandResult:
    """Run uv (`run` with the metadata options) until it succeeds, giving it each package whose build
    was refused; `fail` makes the error of a failure of another kind."""
    while True:
        result = run(request.arguments())
        if result.returncode == 0:
            return result
        if not request.refused(result):
            raise fail(result)

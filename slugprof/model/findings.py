"""What the rules say about an app: findings, each with its evidence and a fix a later command can
apply, and the build verdict made of the build rules' findings."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"  # the build or the dyno fails
    WARNING = "warning"  # works today, costs or breaks later
    INFO = "info"  # worth knowing

    @property
    def rank(self) -> int:
        """Larger is worse: error 2, warning 1, info 0."""
        return {"error": 2, "warning": 1, "info": 0}[self.value]


class Evidence(str, Enum):
    """How the finding knows what it says."""

    FILES = "files"  # read from the app's committed files
    MEASURED = "measured"  # a measurement of this machine's files or processes
    RESOLVED = "resolved"  # dependencies resolved for the dyno, not installed here


@dataclass(frozen=True)
class Edit:
    """Replace the text `old` with `new` in the file at `path` (relative to the app root); `old` None
    appends `new` to the file, creating it if needed."""

    path: str
    old: str | None
    new: str


@dataclass(frozen=True)
class Fix:
    summary: str
    command: str | None = None  # a command that makes the change, e.g. "uv lock"
    edits: tuple[Edit, ...] = ()


@dataclass(frozen=True)
class Location:
    path: str  # relative to the app root, POSIX
    line: int | None = None  # 1-based


@dataclass(frozen=True)
class SlugChange:
    """What a fix takes out of the slug: the pipeline runs the slug model again without it, and the
    difference is the finding's saving (measured as a size is, never summed from parts)."""

    app_paths: tuple[str, ...] = ()  # app files no longer shipped (relative POSIX paths)
    packages: tuple[str, ...] = ()  # installed distributions no longer installed (canonical names)
    # requirement files edited (a package swapped for another): the dependencies are resolved again for
    # the dyno with these edits, and the model runs on that resolution
    requirement_edits: tuple[Edit, ...] = ()


@dataclass(frozen=True)
class Finding:
    id: str  # the rule's stable id, e.g. "BUILD121"
    severity: Severity
    title: str  # one line: what is wrong
    evidence: tuple[str, ...] = ()  # the files, lines, versions and numbers behind it
    evidence_class: Evidence = Evidence.FILES
    fix: Fix | None = None
    location: Location | None = None
    savings_bytes: int | None = None  # what the fix frees, uncompressed (measured by re-running the model)
    savings_compressed_bytes: int | None = None
    change: SlugChange | None = None  # what the fix removes from the slug, when it removes something
    # What the fix frees of the dyno's peak memory, measured by running the app with it (`profile --try`);
    # None when no run measured it.
    memory_savings_bytes: int | None = None


class BuildOutcome(str, Enum):
    BUILDS = "builds"
    FAILS = "fails"


@dataclass(frozen=True)
class BuildEntry:
    id: str
    message: str
    location: Location | None = None


@dataclass(frozen=True)
class BuildVerdict:
    """Would Heroku's Python buildpack build the app: the build rules' errors and warnings."""

    outcome: BuildOutcome
    errors: tuple[BuildEntry, ...] = ()
    warnings: tuple[BuildEntry, ...] = ()


@dataclass(frozen=True)
class RulesRun:
    """Which rules ran and what was silenced."""

    ignored_rules: tuple[str, ...] = ()  # ids given to `ignore` in [tool.slugprof] or --ignore
    silenced: int = 0  # findings those ids removed from the report

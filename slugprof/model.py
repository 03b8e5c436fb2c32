"""The plain data passed between stages: sources -> measurements -> findings -> report.

Every stage takes and returns these frozen dataclasses; only renderers turn them into text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SCHEMA_VERSION = 1

FileKind = Literal["file", "symlink"]
SlugStatus = Literal["ok", "warn", "over"]


# --- app files -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppFile:
    """One file of the app as it would be pushed to Heroku."""

    path: str  # POSIX path relative to the app root
    bytes: int  # size on disk; for a symlink, the length of its target (links are never followed)
    included: bool  # False when .slugignore removes it
    excluded_by: str | None = None  # the rule that removed it, e.g. ".slugignore: tests/"
    kind: FileKind = "file"


@dataclass(frozen=True)
class PathProblem:
    """Something in the tree worth telling: a FIFO skipped, a file unreadable, a name not UTF-8..."""

    path: str  # POSIX, relative to the app root; bytes that are not UTF-8 shown as \xNN escapes
    reason: str
    counted: bool  # True when the path is still counted in the app's files (at its stat size)


@dataclass(frozen=True)
class SlugignoreRule:
    """One pattern of .slugignore as Heroku reads it, with what it removed."""

    line: int
    pattern: str
    matched_paths: int  # files removed by this pattern (the first matching pattern wins)
    note: str | None = None  # a mistake worth telling, e.g. a '!' negation Heroku does not support
    from_comment: bool = False  # a word after '#' that Heroku's published rule still reads as a pattern


@dataclass(frozen=True)
class AppInventory:
    root: str  # absolute path of the app folder
    source: Literal["git", "filesystem"]
    files: tuple[AppFile, ...]  # sorted by path; included and excluded
    untracked: tuple[str, ...] = ()  # in a git tree: not committed, not ignored: will not deploy yet
    problems: tuple[PathProblem, ...] = ()
    slugignore: tuple[SlugignoreRule, ...] = ()

    @property
    def included(self) -> tuple[AppFile, ...]:
        return tuple(f for f in self.files if f.included)

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files if f.included)


# --- dependencies ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Package:
    """One installed distribution, measured by stat-ing its files (including __pycache__)."""

    name: str  # canonical (PEP 503 normalised) name
    version: str
    bytes: int
    file_count: int
    location: str  # the site-packages folder it is installed in
    files: tuple[str, ...]  # absolute paths of every file it owns on disk
    requires: tuple[str, ...] = ()  # canonical names of the installed packages it depends on
    requested_by: tuple[str, ...] = ()  # who pulls it in: canonical names, or the requirements file
    top_level: bool = False  # named directly by the app's requirements
    exclusive_bytes: int | None = None  # top-level only: what would disappear if it were removed
    exclusive_packages: tuple[str, ...] = ()  # top-level only: the packages that would disappear
    # Set when the package was resolved rather than found installed: its predicted contribution to the
    # compressed slug, and whether its size was measured (wheel contents) or estimated (sdist).
    compressed_bytes: int | None = None
    measured: bool = True
    size_method: str = "installed files"


@dataclass(frozen=True)
class DependencyInventory:
    source: str  # "environment:<path>", or "none" when nothing was measured
    interpreter: str | None = None
    python_version: str | None = None  # the environment's own version, e.g. "3.12.4"
    requirements_files: tuple[str, ...] = ()  # relative to the app root
    requirements: tuple[str, ...] = ()  # top-level requirement names that apply (markers evaluated)
    packages: tuple[Package, ...] = ()  # the closure of the app's requirements
    not_required: tuple[Package, ...] = ()  # installed but outside that closure: not in the slug
    missing: tuple[str, ...] = ()  # required but not installed in the environment
    notes: tuple[str, ...] = ()
    target: Target | None = None  # set when resolved for the dyno instead of measured installed
    resolver: str | None = None  # what resolved them, e.g. "uv 0.13.8" or "uv.lock"

    @property
    def bytes(self) -> int:
        return sum(p.bytes for p in self.packages)


# --- resolving for the dyno's platform --------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The dyno the dependencies are installed on."""

    stack: str  # "heroku-22", "heroku-24", "heroku-26"
    arch: Literal["amd64", "arm64"]
    python: str  # the version the buildpack installs, "3.13" or "3.13.2"
    glibc: str  # the stack's glibc, e.g. "2.39": it caps the manylinux tags that install
    manager: str  # "pip", "uv", "poetry", "pipenv"

    @property
    def python_minor(self) -> str:
        return ".".join(self.python.split(".")[:2])

    @property
    def machine(self) -> str:
        return "x86_64" if self.arch == "amd64" else "aarch64"


@dataclass(frozen=True)
class ResolvedFile:
    """The artifact the buildpack would download and install for one package."""

    filename: str
    url: str
    kind: Literal["wheel", "sdist"]
    size: int | None = None  # bytes of the download, when the index or the lock file says
    sha256: str | None = None


@dataclass(frozen=True)
class ResolvedPackage:
    name: str  # canonical name
    version: str
    file: ResolvedFile | None  # None: no installable artifact (reported in notes)
    requires: tuple[str, ...] = ()  # canonical names of its dependencies within the resolution
    top_level: bool = False
    requested_by: tuple[str, ...] = ()  # parents' canonical names, or the manager file for top-level


@dataclass(frozen=True)
class Resolution:
    target: Target
    resolver: str  # e.g. "uv 0.13.8", "pip 25.0", "uv.lock"
    manager_files: tuple[str, ...]  # files read, relative to the app root
    top_level: tuple[str, ...]  # canonical names of the top-level requirements
    packages: tuple[ResolvedPackage, ...]
    notes: tuple[str, ...] = ()
    from_cache: bool = False


@dataclass(frozen=True)
class SizedPackage:
    """What one resolved package will weigh in the slug once installed (with its bytecode)."""

    name: str
    version: str
    installed_bytes: int  # the wheel's files as installed, plus the .pyc the buildpack compiles
    pyc_bytes: int  # the part of installed_bytes that is predicted bytecode
    compressed_bytes: int  # its predicted share of the gzip -6 slug
    file_count: int
    measured: bool  # True: from the wheel's own member list; False: estimated (an unbuilt sdist)
    method: str  # "wheel central directory", "downloaded wheel", "built sdist", "estimated from sdist"


# --- what the buildpack adds -----------------------------------------------------------------


@dataclass(frozen=True)
class PythonVersionChoice:
    version: str  # as requested, "3.12" or "3.12.4"
    source: str  # ".python-version", "runtime.txt", "buildpack default"
    notes: tuple[str, ...] = ()

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


@dataclass(frozen=True)
class BuildpackPart:
    """Something the buildpack puts in the slug besides the app and its dependencies."""

    name: str  # "python", "pip", "setuptools", "pipenv", "profile.d"
    description: str
    bytes: int
    measured: bool  # True: measured from files on disk; False: a setting with its source
    source: str  # where the figure comes from
    files: tuple[str, ...] = ()  # files on disk when measured
    compressed_bytes: int | None = None  # known without compressing (settings), else None


# --- compression -----------------------------------------------------------------------------


# Who the bytes of the slug's tar stream are attributed to.
APP_GROUP = "app"
DEPENDENCY_GROUP_PREFIX = "dep:"
BUILDPACK_GROUP_PREFIX = "buildpack:"


def dependency_group(name: str) -> str:
    return f"{DEPENDENCY_GROUP_PREFIX}{name}"


def buildpack_group(name: str) -> str:
    return f"{BUILDPACK_GROUP_PREFIX}{name}"


@dataclass(frozen=True)
class TarMember:
    """One entry of the slug's tar stream."""

    arcname: str  # path inside the slug, e.g. "app.py" or ".heroku/python/lib/python3.12/site-packages/x.py"
    group: str  # who the bytes are attributed to: APP_GROUP, dependency_group(), buildpack_group()
    size: int
    path: str | None = None  # file on disk to read; None for a symlink or synthetic content
    kind: FileKind = "file"
    link_target: str | None = None
    content: bytes | None = None  # synthetic file content (e.g. .profile.d scripts)


@dataclass(frozen=True)
class GroupEstimate:
    group: str
    tar_bytes: int  # bytes of the tar stream that belong to the group (headers + padded data)
    compressed_bytes: int
    error_bytes: int  # half-width of a 95% interval


@dataclass(frozen=True)
class CompressionEstimate:
    method: Literal["sampled", "exact"]
    level: int
    tar_bytes: int
    compressed_bytes: int
    error_bytes: int  # half-width of a 95% interval, sampling error plus the model's bias bound
    sampled_bytes: int  # bytes actually compressed for the estimate
    cached_files: int  # files whose measurements came from the cache
    groups: tuple[GroupEstimate, ...]
    unreadable: tuple[str, ...] = ()  # files that could not be read (counted at their size)

    def group(self, name: str) -> GroupEstimate | None:
        for estimate in self.groups:
            if estimate.group == name:
                return estimate
        return None


# --- the slug and the report ------------------------------------------------------------------


@dataclass(frozen=True)
class SlugComponent:
    name: str  # "app", "python", "dependencies", "buildpack tools"
    bytes: int
    compressed_bytes: int
    measured: bool


@dataclass(frozen=True)
class Slug:
    bytes: int
    compressed_bytes: int
    compressed_error: int
    compressed_method: str
    limit_bytes: int
    soft_limit_bytes: int
    status: SlugStatus
    components: tuple[SlugComponent, ...]


@dataclass(frozen=True)
class Finding:
    id: str
    severity: Literal["info", "warning", "error"]
    title: str
    detail: str
    saving_bytes: int | None = None


@dataclass(frozen=True)
class AnalyzeReport:
    schema_version: int
    tool_version: str
    created: str  # ISO 8601, UTC
    app: AppInventory
    python: PythonVersionChoice
    package_manager: str
    dependencies: DependencyInventory
    buildpack: tuple[BuildpackPart, ...]
    compression: CompressionEstimate
    slug: Slug
    notes: tuple[str, ...] = ()  # build errors and warnings the buildpack would print, caveats
    findings: tuple[Finding, ...] = ()


# --- profile: the app's web process as a dyno runs it ----------------------------------------

ProcessRole = Literal["master", "worker", "other"]


@dataclass(frozen=True)
class DynoSize:
    name: str  # "standard-1x"
    memory_bytes: int  # the quota (Heroku's "512 MB" is 512 MiB: the cgroup limit)
    r15_multiplier: float  # the dyno restarts (R15) at quota x this; above 1x it swaps first (R14)
    cores: int  # nproc on that dyno, which the buildpack's WEB_CONCURRENCY formula reads
    web_concurrency: int  # what the buildpack sets WEB_CONCURRENCY to on it


@dataclass(frozen=True)
class ProcessSnapshot:
    """One process at one instant of the sampler."""

    pid: int
    rss: int
    pss: int
    uss: int
    threads: int


@dataclass(frozen=True)
class MemorySample:
    """The whole process tree at one instant."""

    seconds: float  # since the process started
    total_pss: int  # the dyno's total: PSS summed over the tree (shared pages counted once)
    total_rss: int  # the naive total: RSS summed (shared pages counted once per process)
    processes: tuple[ProcessSnapshot, ...]


@dataclass(frozen=True)
class AllocationSite:
    location: str  # "file:line function" of the innermost Python frame
    bytes: int  # held at the process's heap peak
    count: int  # allocations still held from there at the peak


@dataclass(frozen=True)
class ProcessProfile:
    pid: int
    role: ProcessRole
    command: str
    peak_rss_bytes: int
    peak_pss_bytes: int
    peak_uss_bytes: int
    threads_max: int  # OS threads, less the ones the profiler and gunicorn's control socket add
    heap_peak_bytes: int | None = None  # from memray, when it ran
    top_sites: tuple[AllocationSite, ...] = ()  # from memray: what held the heap at its peak
    first_seen: float = 0.0
    last_seen: float = 0.0


@dataclass(frozen=True)
class ImportCost:
    module: str  # top-level module name, e.g. "pandas"
    bytes: int  # memory its import allocated (still held at the heap peak)
    role: ProcessRole  # where it was paid: the master (shared under --preload) or each worker


@dataclass(frozen=True)
class RequestStats:
    count: int
    status_codes: tuple[tuple[int, int], ...]  # (status, how many); 0 for connection errors
    latency_p50: float
    latency_p95: float
    latency_max: float


@dataclass(frozen=True)
class DynoFit:
    dyno: str
    quota_bytes: int
    workers: int  # the worker count the prediction is for (the dyno's WEB_CONCURRENCY or the app's)
    predicted_bytes: int
    status: Literal["ok", "r14", "r15"]
    max_workers: int  # the most workers that fit under quota x (1 - headroom); 0 if none


@dataclass(frozen=True)
class ProfileReport:
    schema_version: int
    tool_version: str
    created: str
    app_root: str
    process_type: str  # "web"
    command: str  # the Procfile command as written
    dyno: str  # the dyno size it ran as
    web_concurrency: str | None  # WEB_CONCURRENCY the process saw
    memray: str  # "app", "borrowed", "off", or "unavailable: <why>"
    boot_seconds: float
    shutdown_seconds: float
    graceful_shutdown: bool
    peak_total_bytes: int  # peak of the summed PSS: the dyno's figure
    peak_total_rss_bytes: int  # peak of the summed RSS: the naive figure
    samples: tuple[MemorySample, ...]
    processes: tuple[ProcessProfile, ...]
    imports: tuple[ImportCost, ...]
    requests: RequestStats | None
    worker_growth: tuple[tuple[int, float], ...]  # (pid, bytes per second of USS)
    worker_marginal_bytes: int
    base_bytes: int
    headroom: float
    dyno_fit: tuple[DynoFit, ...]
    notes: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()

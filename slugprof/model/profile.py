"""The saved profile report: the app's web process as a dyno runs it, and the dyno sizes it fits."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from slugprof.heroku import GUNICORN_DEFAULT_WORKERS, WEB_PROCESS
from slugprof.model.findings import Finding, RulesRun
from slugprof.model.report import SCHEMA_VERSION, ToolInfo

ProcessRole = Literal["master", "worker", "other"]


@dataclass(frozen=True)
class DynoSize:
    name: str  # "standard-1x"
    memory_bytes: int  # the quota (Heroku's "512 MB" is 512 MiB: the cgroup limit)
    r15_multiplier: float  # the dyno restarts (R15) at quota x this; above 1x it swaps first (R14)
    cores: int  # nproc on that dyno, which the buildpack's WEB_CONCURRENCY formula reads
    web_concurrency: int | None  # what the buildpack sets WEB_CONCURRENCY to on it; None: nothing (Fir)
    generation: str = "cedar"  # or "fir"

    @property
    def workers(self) -> int:
        """The workers gunicorn starts there when the app does not fix its count: WEB_CONCURRENCY, else
        gunicorn's own default."""
        return self.web_concurrency if self.web_concurrency is not None else GUNICORN_DEFAULT_WORKERS


@dataclass(frozen=True)
class ProcessSnapshot:
    """One process at one instant of the sampler."""

    pid: int
    rss: int
    pss: int  # its share of every page it maps, file-backed pages included
    uss: int  # the pages only it maps
    threads: int
    # Its share of anonymous memory, Pss_Anon + SwapPss (/proc/PID/smaps_rollup): what the dyno's cgroup
    # counts as rss and swap, each page once over the tree. None where the kernel does not say.
    anon: int | None = None
    # The memory only it has written, Private_Dirty + SwapPss: its own heap and its copies of pages
    # changed after fork, the cost of one more worker. None where the kernel does not say.
    private: int | None = None


@dataclass(frozen=True)
class MemorySample:
    """The whole process tree at one instant."""

    seconds: float  # since the process started
    total_pss_bytes: int  # PSS summed over the tree: each page once, file-backed pages included
    total_rss_bytes: int  # the naive total: RSS summed (shared pages counted once per process)
    processes: tuple[ProcessSnapshot, ...]
    total_anon_bytes: int | None = None  # the dyno's figure: anonymous memory and swap, each page once

    @property
    def headline_bytes(self) -> int:
        """The figure R14 is judged on: the anonymous total, else (an older kernel) summed PSS."""
        return self.total_anon_bytes if self.total_anon_bytes is not None else self.total_pss_bytes


@dataclass(frozen=True)
class AllocationSite:
    location: str  # "file:line function" of the innermost Python frame
    bytes: int  # held at the process's heap peak
    count: int  # allocations still held from there at the peak


@dataclass(frozen=True, kw_only=True)
class ProcessProfile:
    pid: int
    role: ProcessRole
    command: str  # as it ran, paths under the app root relative to it (the process runs there)
    peak_rss_bytes: int
    peak_pss_bytes: int
    peak_uss_bytes: int
    peak_anon_bytes: int | None = None  # Pss_Anon + SwapPss at its peak; None where the kernel does not say
    peak_private_bytes: int | None = None  # Private_Dirty + SwapPss at its peak: what it alone wrote
    heap_peak_bytes: int | None = None  # from memray, when it ran
    threads_max: int  # OS threads, less the ones the profiler and gunicorn's control socket add
    top_sites: tuple[AllocationSite, ...] = ()  # from memray: what held the heap at its peak
    growth_bytes_per_second: float | None = None  # workers: the slope of their unique memory
    first_seen: float = 0.0
    last_seen: float = 0.0


@dataclass(frozen=True)
class ImportCost:
    module: str  # top-level module name, e.g. "pandas"
    bytes: int  # memory its import allocated (still held at the heap peak)
    role: ProcessRole  # where it was paid: the master (shared under --preload) or each worker


@dataclass(frozen=True)
class Latency:
    p50: float  # seconds
    p95: float
    max: float


@dataclass(frozen=True)
class Route:
    """One request the profile sends: a method, a path, and a JSON body for the methods that take one."""

    method: str  # "GET", "POST"...
    path: str  # "/items?limit=5"
    body: str | None = None  # JSON text, sent as application/json

    def shown(self) -> str:
        return f"{self.method} {self.path}" + (" (with a JSON body)" if self.body is not None else "")


@dataclass(frozen=True)
class RouteLatency:
    route: str  # "GET /health"
    count: int
    answered: int  # 2xx and 3xx
    p50: float  # seconds
    p95: float


@dataclass(frozen=True)
class RequestStats:
    count: int
    status_codes: dict[int, int]  # status -> how many; 0 for connection errors
    latency_seconds: Latency
    routes: tuple[str, ...] = ()  # what was requested, "GET /health", in the order sent
    routes_from: str = ""  # "--url", "--urls FILE", "the app's OpenAPI document", "the default /"
    concurrency: int = 0  # clients at a time (0: a report saved before it was recorded)
    per_route: tuple[RouteLatency, ...] = ()  # each route's answers, in the order of `routes`


@dataclass(frozen=True)
class DynoFit:
    dyno: str
    quota_bytes: int
    workers: int  # the worker count the prediction is for: the report's `workers_from` says whose
    predicted_bytes: int
    status: Literal["ok", "r14", "r15"]
    max_workers: int  # the most workers that fit under quota x (1 - headroom); 0 if none
    r15_bytes: int | None = None  # where R15 restarts the dyno (quota x its multiplier); None: saved before


class WorkersFrom(str, Enum):
    """Where the worker count a dyno runs comes from, the same rule on every size of the fit."""

    PLATFORM = "platform"  # the buildpack's WEB_CONCURRENCY for the size (Fir: none, gunicorn's 1)
    APP = "app"  # the app's own count on every size: a flag, a config file
    CORES = "cores"  # one per core the dyno reports: Celery's prefork pool without --concurrency


class MemrayMode(str, Enum):
    APP = "app"  # memray from the app's own environment
    BORROWED = "borrowed"  # slugprof's memray, lent to the app's interpreter
    OFF = "off"  # --no-memray
    UNAVAILABLE = "unavailable"  # could not run: `reason` says why


@dataclass(frozen=True)
class MemrayRun:
    mode: MemrayMode
    reason: str | None = None  # why it was unavailable


@dataclass(frozen=True)
class ConfigVar:
    """A config var the profiled process ran with: its name and where it came from, never its value."""

    name: str
    origin: str  # ".env", the --env-file given, "heroku config (APP)", "--set"
    development: bool = False  # its value turns development mode on (DEBUG=true, ENVIRONMENT=development)


@dataclass(frozen=True)
class VariantRun:
    """The app run again with one change (`profile --try`), measured as the first run was."""

    name: str  # "preload", "workers=3", "env:MALLOC_ARENA_MAX=2"
    served: bool  # it booted and answered at least one request 2xx/3xx (False: it failed, said in detail)
    detail: str = ""  # why it did not serve; or what the run showed
    peak_total_bytes: int | None = None  # the headline, as the first run's (`memory.measure`)
    worker_marginal_bytes: int | None = None
    base_bytes: int | None = None
    workers: int = 0  # the workers it ran
    boot_seconds: float | None = None


@dataclass(frozen=True)
class ProfiledApp:
    root: str  # the app folder, absolute (the home folder written as ~)
    process_type: str  # "web"
    command: str  # the Procfile command as written

    @property
    def serves_http(self) -> bool:
        """The web process: the only one Heroku sends requests to, and times on binding $PORT (R10)."""
        return self.process_type == WEB_PROCESS


class MemoryMeasure(str, Enum):
    """What `MemorySummary.peak_total_bytes` is."""

    # Pss_Anon + SwapPss summed over the tree: anonymous memory and swap, each page once. Heroku judges
    # R14 on the cgroup's rss + swap, "cache is not included" (heroku-facts 4.2, 9.2), and file-backed
    # pages (the interpreter, shared libraries, mapped files) are cache there.
    ANONYMOUS = "anonymous"
    # PSS summed: file-backed pages included. An older kernel whose smaps_rollup has no Pss_Anon, or a
    # report saved before schema 4.
    PSS = "pss"


# Growth per thousand requests is measured on runs of at least this many requests: fewer show a warm-up,
# not a trend.
GROWTH_MIN_REQUESTS = 1000


@dataclass(frozen=True, kw_only=True)
class MemorySummary:
    peak_total_bytes: int  # the headline, what the dyno fit is judged on: `measure` says which figure
    peak_total_rss_bytes: int  # peak of the summed RSS: the naive figure
    base_bytes: int  # the dyno without its workers
    worker_marginal_bytes: int  # what one more worker adds (the memory only it wrote, at its peak)
    samples: tuple[MemorySample, ...]
    measure: MemoryMeasure = MemoryMeasure.PSS
    peak_total_pss_bytes: int | None = None  # peak of the summed PSS, file-backed pages included
    # What the headline grew per thousand requests over the second half of a run of 1000 or more
    # (the first half warms caches up); None: too few requests sent, or none.
    growth_per_thousand_requests_bytes: int | None = None


@dataclass(frozen=True, kw_only=True)
class ProfileReport:
    schema_version: int = SCHEMA_VERSION
    kind: Literal["profile"] = "profile"
    tool: ToolInfo = field(default_factory=ToolInfo)
    created: str
    app: ProfiledApp
    dyno: str  # the dyno size it ran as
    web_concurrency: str | None  # WEB_CONCURRENCY the process saw
    generation: str = "cedar"  # the platform generation of `dyno` and of the dyno-fit table: or "fir"
    memray: MemrayRun
    boot_seconds: float
    shutdown_seconds: float
    graceful_shutdown: bool
    memory: MemorySummary
    processes: tuple[ProcessProfile, ...]
    imports: tuple[ImportCost, ...]
    requests: RequestStats | None
    headroom: float
    # False: the run found no master and workers (Streamlit, `python app.py`, one uvicorn process): the
    # dyno fit judges the whole process tree's peak, and its rows give no worker count. True in reports
    # saved before it.
    worker_model: bool = True
    # Whose count each dyno-fit row runs. None: a report saved before it (the rows tell: a count that
    # differs from the size's WEB_CONCURRENCY is the app's), or an app without a worker model.
    workers_from: WorkersFrom | None = None
    dyno_fit: tuple[DynoFit, ...]
    notes: tuple[str, ...] = ()  # facts that are not advice (failed requests, memray's own notes)
    config_vars: tuple[ConfigVar, ...] = ()  # what the process ran with, by name and origin
    variants: tuple[VariantRun, ...] = ()  # --try: the same app run again with one change each
    findings: tuple[Finding, ...] = ()  # what the rules say about the run: the MEM family, and the files
    rules: RulesRun = field(default_factory=RulesRun)  # --ignore / [tool.slugprof] ignore

    @property
    def fit_on_dyno(self) -> DynoFit | None:
        """The dyno-fit row of the size it ran as."""
        return next((row for row in self.dyno_fit if row.dyno == self.dyno), None)

    @property
    def workers_ran(self) -> int:
        """The workers the run started (the dyno may run another count: see `judged_bytes`)."""
        return sum(1 for process in self.processes if process.role == "worker")

    @property
    def dyno_runs_another_count(self) -> bool:
        """Whether the dyno it ran as runs another worker count than the run had (a Celery pool: one
        process per core there; a `.env` WEB_CONCURRENCY the dyno does not read)."""
        fit = self.fit_on_dyno
        return fit is not None and self.worker_model and fit.workers != self.workers_ran

    @property
    def judged_bytes(self) -> int:
        """The dyno's memory as its quota judges it: the measured peak, or, when the dyno runs another
        worker count than the run had, the fit's prediction at the dyno's count."""
        fit = self.fit_on_dyno
        if fit is not None and self.dyno_runs_another_count:
            return fit.predicted_bytes
        return self.memory.peak_total_bytes

"""The plain data passed between stages (sources -> measurements -> findings -> report), and the saved
contract: every report is written to JSON and read back by `slugprof.model.saved`.

Every stage takes and returns these frozen dataclasses; only renderers turn them into text.
"""

from slugprof.model.app import AppFile, AppInventory, AppSource, FileKind, PathProblem, SlugignoreRule
from slugprof.model.buildpack import BuildpackPart, PythonVersionChoice
from slugprof.model.dependencies import DependencyInventory, DependencySource, Package
from slugprof.model.profile import (
    AllocationSite,
    DynoFit,
    DynoSize,
    ImportCost,
    Latency,
    MemorySample,
    MemorySummary,
    MemrayMode,
    MemrayRun,
    ProcessProfile,
    ProcessRole,
    ProcessSnapshot,
    ProfiledApp,
    ProfileReport,
    RequestStats,
)
from slugprof.model.report import SCHEMA_VERSION, AnalyzeReport, Finding, ToolInfo
from slugprof.model.resolution import (
    Resolution,
    ResolvedFile,
    ResolvedPackage,
    SizedPackage,
    SizeMethod,
    Target,
)
from slugprof.model.slug import (
    CompressionEstimate,
    FileStat,
    GroupEstimate,
    GroupKind,
    Slug,
    SlugComponent,
    SlugStatus,
    TarGroup,
    TarMember,
)

__all__ = [
    "SCHEMA_VERSION",
    "AllocationSite",
    "AnalyzeReport",
    "AppFile",
    "AppInventory",
    "AppSource",
    "BuildpackPart",
    "CompressionEstimate",
    "DependencyInventory",
    "DependencySource",
    "DynoFit",
    "DynoSize",
    "FileKind",
    "FileStat",
    "Finding",
    "GroupEstimate",
    "GroupKind",
    "ImportCost",
    "Latency",
    "MemorySample",
    "MemorySummary",
    "MemrayMode",
    "MemrayRun",
    "Package",
    "PathProblem",
    "ProcessProfile",
    "ProcessRole",
    "ProcessSnapshot",
    "ProfileReport",
    "ProfiledApp",
    "PythonVersionChoice",
    "RequestStats",
    "Resolution",
    "ResolvedFile",
    "ResolvedPackage",
    "SizeMethod",
    "SizedPackage",
    "Slug",
    "SlugComponent",
    "SlugStatus",
    "SlugignoreRule",
    "TarGroup",
    "TarMember",
    "Target",
    "ToolInfo",
]

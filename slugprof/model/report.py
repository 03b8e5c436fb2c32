"""The saved analyze report, and what every report carries (the tool, the findings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from slugprof.model.app import AppInventory
from slugprof.model.buildpack import BuildpackPart, PythonVersionChoice
from slugprof.model.dependencies import DependencyInventory
from slugprof.model.slug import Slug

# The version of the saved JSON documents. 2: a `kind` in every document, choices as fields instead of
# strings to parse, paths relative to the app root, every published number stored in the model.
SCHEMA_VERSION = 2


@dataclass(frozen=True)
class ToolInfo:
    name: str = "slugprof"
    version: str = ""


@dataclass(frozen=True)
class Finding:
    id: str
    severity: Literal["info", "warning", "error"]
    title: str
    detail: str
    saving_bytes: int | None = None


@dataclass(frozen=True, kw_only=True)
class AnalyzeReport:
    schema_version: int = SCHEMA_VERSION
    kind: Literal["analyze"] = "analyze"
    tool: ToolInfo = field(default_factory=ToolInfo)
    created: str  # ISO 8601, UTC
    app: AppInventory
    python: PythonVersionChoice
    package_manager: str
    dependencies: DependencyInventory
    buildpack: tuple[BuildpackPart, ...]
    slug: Slug
    notes: tuple[str, ...] = ()  # build errors and warnings the buildpack would print, caveats
    findings: tuple[Finding, ...] = ()

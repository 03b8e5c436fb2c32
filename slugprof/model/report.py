"""The saved analyze report, and what every report carries (the tool, the findings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from slugprof.model.app import AppInventory, BuildStepRun
from slugprof.model.buildpack import BuildpackPart, PythonVersionChoice
from slugprof.model.dependencies import DependencyInventory
from slugprof.model.findings import BuildVerdict, Finding, RulesRun
from slugprof.model.slug import Image, Slug

if TYPE_CHECKING:
    from slugprof.model.profile import ProfileReport

# The version of the saved JSON documents. 2: a `kind` in every document, choices as fields instead of
# strings to parse, paths relative to the app root, every published number stored in the model.
# 3: findings with evidence, fix and location; the build verdict; the slug status "incomplete".
SCHEMA_VERSION = 4


@dataclass(frozen=True)
class ToolInfo:
    name: str = "slugprof"
    version: str = ""


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
    notes: tuple[str, ...] = ()  # caveats of the measurement
    generation: str = "cedar"  # or "fir": the platform generation the app was analyzed for
    image: Image | None = None  # Fir's image estimate; None on Cedar, and in reports saved before it
    build_steps: tuple[BuildStepRun, ...] = ()  # the build's steps slugprof ran (collectstatic)
    build: BuildVerdict | None = None  # None only in reports saved before schema 3
    findings: tuple[Finding, ...] = ()
    rules: RulesRun = field(default_factory=RulesRun)


def findings_of(analysis: AnalyzeReport | None, profile: ProfileReport | None) -> list[Finding]:
    """The findings of an analysis and a profile of one app, once each: a rule that reads only the
    files runs with both."""
    both = [*(analysis.findings if analysis else ()), *(profile.findings if profile else ())]
    return list(dict.fromkeys(both))

"""Rules: pure functions over the report and the committed files, each with a stable id.

Ids come in families, like a linter's codes, and never change meaning once published:
  BUILD1xx  what makes Heroku's Python buildpack refuse the build, or warn during it
  SLUG2xx   the slug's size and contents          DEP3xx  dependencies
  SEC4xx    secrets and files that should not ship MEM5xx  dyno memory
  WEB6xx    the web process
A rule's severity is fixed: error (the build or the dyno fails), warning, or info.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum

from slugprof.config import Settings
from slugprof.errors import UsageError
from slugprof.model import (
    AnalyzeReport,
    Edit,
    Evidence,
    Finding,
    Fix,
    Location,
    ProfileReport,
    Severity,
    SlugChange,
)
from slugprof.sources.buildfiles import BuildFiles

FAMILIES: dict[str, str] = {
    "BUILD": "what makes the Heroku build fail, or warn",
    "SLUG": "the slug's size and contents",
    "DEP": "dependencies",
    "SEC": "secrets and files that should not ship",
    "MEM": "dyno memory",
    "WEB": "the web process",
}
_ID = re.compile(r"^(?P<family>[A-Z]+)(?P<number>\d{3})$")


# The rules about the slug's limits and .slugignore: neither exists on Fir, which builds an OCI image with
# no documented size limit and picks its files with project.toml (heroku-facts 6, 9.4).
SLUG_ONLY = frozenset(
    {"SLUG200", "SLUG201", "SLUG202", "SLUG210", "SLUG220", "SLUG221", "SLUG222", "SLUG223"}
)


class Needs(str, Enum):
    """What a rule reads besides the files: it runs only when that was measured."""

    FILES = "files"  # the committed files alone (the Procfile's command, say): analyze and profile both
    ANALYSIS = "analysis"  # an analyze report: the slug, its dependencies, the Python version
    PROFILE = "profile"  # a profile report: the web process's memory, threads and boot


@dataclass(frozen=True)
class RuleInputs:
    """Everything a rule may look at. Rules read files only through `files` and never start processes."""

    files: BuildFiles
    analysis: AnalyzeReport | None = None
    profile_report: ProfileReport | None = None
    settings: Settings = field(default_factory=Settings)
    today: dt.date = field(default_factory=dt.date.today)

    @property
    def available(self) -> frozenset[Needs]:
        present = {Needs.FILES}
        if self.analysis is not None:
            present.add(Needs.ANALYSIS)
        if self.profile_report is not None:
            present.add(Needs.PROFILE)
        return frozenset(present)

    @property
    def report(self) -> AnalyzeReport:
        """The analysis, for a rule that needs one (the registry runs it only when there is one)."""
        if self.analysis is None:
            raise LookupError("a rule that needs an analysis ran without one")
        return self.analysis

    @property
    def profile(self) -> ProfileReport:
        """The profile, for a rule that needs one (the registry runs it only when there is one)."""
        if self.profile_report is None:
            raise LookupError("a rule that needs a profile ran without one")
        return self.profile_report


@dataclass(frozen=True)
class Hit:
    """What a rule found; the registry adds the rule's id and severity to make it a Finding."""

    title: str
    evidence: tuple[str, ...] = ()
    fix: Fix | None = None
    location: Location | None = None
    evidence_class: Evidence = Evidence.FILES
    change: SlugChange | None = None  # what the fix removes: the pipeline measures its saving
    memory_savings_bytes: int | None = None  # what a --try run of the fix freed of the dyno's memory


Check = Callable[[RuleInputs], Iterable[Hit]]


@dataclass(frozen=True)
class Rule:
    id: str
    name: str  # kebab-case, for people: "several-package-managers"
    severity: Severity
    summary: str  # one line: what it detects
    why: str  # why Heroku cares
    fix: str  # what to do, in general
    source: str  # where the fact comes from (heroku-facts section, the buildpack's file)
    check: Check
    needs: Needs = Needs.ANALYSIS

    @property
    def family(self) -> str:
        match = _ID.match(self.id)
        return match.group("family") if match else ""

    def findings(self, inputs: RuleInputs) -> list[Finding]:
        """The rule's findings; none when what it needs was not measured, or on Fir for a rule about the
        slug's limits or .slugignore."""
        if self.needs not in inputs.available:
            return []
        if self.id in SLUG_ONLY and inputs.analysis is not None and inputs.analysis.generation == "fir":
            return []
        return [
            Finding(
                id=self.id,
                severity=self.severity,
                title=hit.title,
                evidence=hit.evidence,
                evidence_class=hit.evidence_class,
                fix=hit.fix,
                location=hit.location,
                change=hit.change,
                memory_savings_bytes=hit.memory_savings_bytes,
            )
            for hit in self.check(inputs)
        ]


_REGISTERED: dict[str, Rule] = {}


def rule(
    rule_id: str,
    name: str,
    severity: Severity,
    *,
    summary: str,
    why: str,
    fix: str,
    source: str,
    needs: Needs = Needs.ANALYSIS,
) -> Callable[[Check], Check]:
    """Register the decorated function as the check of rule `rule_id`."""

    def register(check: Check) -> Check:
        match = _ID.match(rule_id)
        if match is None or match.group("family") not in FAMILIES:
            raise ValueError(f"rule id {rule_id!r} is not a family code and three digits")
        if rule_id in _REGISTERED:
            raise ValueError(f"rule id {rule_id} registered twice")
        _REGISTERED[rule_id] = Rule(rule_id, name, severity, summary, why, fix, source, check, needs)
        return check

    return register


def registered() -> tuple[Rule, ...]:
    return tuple(sorted(_REGISTERED.values(), key=lambda each: each.id))


def find_rule(rule_id: str) -> Rule:
    """The rule with this id (case-insensitive) or name; a UsageError naming the known ones otherwise."""
    wanted = rule_id.strip()
    for each in _REGISTERED.values():
        if wanted.upper() == each.id or wanted.lower() == each.name:
            return each
    raise UsageError(f"no rule {rule_id!r}: `slugprof rules` lists them")


def check_ignored(ignored: Iterable[str], where: str) -> tuple[str, ...]:
    """The ids to silence, each checked against the registered rules."""
    ids = []
    for rule_id in ignored:
        if rule_id.upper() not in _REGISTERED:
            raise UsageError(f"{where}: no rule {rule_id!r} to ignore; `slugprof rules` lists them")
        ids.append(rule_id.upper())
    return tuple(dict.fromkeys(ids))


def unseen(
    files: BuildFiles, names: Iterable[str], consequence: str = ": the build does not see it"
) -> list[str]:
    """An evidence line for each of `names` that is on disk but not seen by the buildpack, and why:
    "requirements.txt is on disk but not committed: the build does not see it"."""
    lines = []
    for name in names:
        absence = files.absence(name)
        if absence is not None:
            lines.append(f"{name} is on disk but {absence.value}{consequence}")
    return lines


def append_edit(path: str, text: str) -> Edit:
    """An edit that appends `text` to `path`, creating the file if needed."""
    return Edit(path=path, old=None, new=text)

"""The rules stage: every registered rule run over the report and the committed files.

`run_rules` returns the findings (worst first), the build verdict made of the BUILD family's findings,
and what was silenced. One module per family registers its rules on import.
"""

from __future__ import annotations

from collections.abc import Iterable

from slugprof.model import BuildEntry, BuildOutcome, BuildVerdict, Finding, RulesRun, Severity
from slugprof.rules import (
    build_layout,
    build_locks,
    build_manager,
    build_python,
    build_requirements,
    build_steps,
    dep_swaps,
    dep_tools,
    dep_unused,
    mem_profile,
    sec_files,
    sec_text,
    slug_ignore,
    slug_size,
    slug_unshipped,
    web_procfile,
)
from slugprof.rules.registry import RuleInputs, check_ignored, find_rule, registered

# Importing a family's module registers its rules; one module per family (and per part of BUILD).
FAMILY_MODULES = (
    build_layout,
    build_locks,
    build_manager,
    build_python,
    build_requirements,
    build_steps,
    dep_swaps,
    dep_tools,
    dep_unused,
    mem_profile,
    sec_files,
    sec_text,
    slug_ignore,
    slug_size,
    slug_unshipped,
    web_procfile,
)

__all__ = ["RuleInputs", "check_ignored", "find_rule", "registered", "run_rules"]


def run_rules(
    inputs: RuleInputs, ignore: Iterable[str] = ()
) -> tuple[tuple[Finding, ...], BuildVerdict, RulesRun]:
    """Every rule's findings, less those of the ignored ids; the build verdict; what was silenced."""
    ignored = check_ignored(ignore, "ignore")
    findings: list[Finding] = []
    silenced = 0
    for each in registered():
        found = each.findings(inputs)
        if each.id in ignored:
            silenced += len(found)
        else:
            findings.extend(found)
    findings = _without_moot_build_findings(findings)
    findings.sort(key=lambda finding: (-finding.severity.rank, finding.id))
    return tuple(findings), build_verdict(findings), RulesRun(ignored_rules=ignored, silenced=silenced)


def _without_moot_build_findings(findings: list[Finding]) -> list[Finding]:
    """When the buildpack would not even detect the app, it never runs: its other checks are moot, and
    only the layout findings that explain why stay."""
    if not any(finding.id == build_layout.NOT_DETECTED for finding in findings):
        return findings
    kept = {build_layout.NOT_DETECTED, *build_layout.EXPLAINS_DETECTION}
    return [f for f in findings if not f.id.startswith("BUILD") or f.id in kept]


def build_verdict(findings: Iterable[Finding]) -> BuildVerdict:
    """The build fails when a BUILD finding is an error; its warnings are what the build log would say."""
    build = [finding for finding in findings if finding.id.startswith("BUILD")]
    errors = tuple(_entry(f) for f in build if f.severity == Severity.ERROR)
    warnings = tuple(_entry(f) for f in build if f.severity == Severity.WARNING)
    outcome = BuildOutcome.FAILS if errors else BuildOutcome.BUILDS
    return BuildVerdict(outcome=outcome, errors=errors, warnings=warnings)


def _entry(finding: Finding) -> BuildEntry:
    return BuildEntry(id=finding.id, message=finding.title, location=finding.location)

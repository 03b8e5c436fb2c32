"""What changed between a baseline and today's results: the compressed slug and the peak memory, the
app's files and folders, the packages (with the requirement that brought each in), and the findings.

Pure: two saved reports in, a comparison out. Each change is banded: `new` and `removed` for what one
side lacks, `large` for a change of at least LARGE_BYTES or LARGE_SHARE of the entry, else `small`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from slugprof.model import AnalyzeReport, Finding, ProfileReport
from slugprof.model.report import findings_of

# A change is "large" from 1 MB or a tenth of what the entry was: smaller ones are noise to a reviewer.
LARGE_BYTES = 1_000_000
LARGE_SHARE = 0.10
SHOWN = 10  # changes of each kind the renderers list; the rest are counted


class Band(str, Enum):
    NEW = "new"
    REMOVED = "removed"
    LARGE = "large"
    SMALL = "small"


@dataclass(frozen=True)
class Change:
    name: str  # a path, a folder ("data/"), or a package name
    before: int  # bytes (0 when new)
    after: int  # bytes (0 when removed)
    band: Band
    detail: str = ""  # "2.1 -> 2.2" for an upgrade, "via sentence-transformers" for a package

    @property
    def delta(self) -> int:
        return self.after - self.before


@dataclass(frozen=True)
class Comparison:
    compressed_before: int | None  # the slug, compressed; None when a side has no analysis
    compressed_after: int | None
    memory_before: int | None  # peak dyno memory; None when a side has no profile
    memory_after: int | None
    files: tuple[Change, ...]  # app files and folders whose size changed, largest change first
    packages: tuple[Change, ...]
    new_findings: tuple[Finding, ...]
    fixed_findings: tuple[Finding, ...]

    @property
    def compressed_delta(self) -> int | None:
        if self.compressed_before is None or self.compressed_after is None:
            return None
        return self.compressed_after - self.compressed_before

    @property
    def memory_delta(self) -> int | None:
        if self.memory_before is None or self.memory_after is None:
            return None
        return self.memory_after - self.memory_before


def compare(
    before: tuple[AnalyzeReport | None, ProfileReport | None],
    after: tuple[AnalyzeReport | None, ProfileReport | None],
) -> Comparison:
    old_analysis, old_profile = before
    new_analysis, new_profile = after
    return Comparison(
        compressed_before=old_analysis.slug.compressed_bytes if old_analysis else None,
        compressed_after=new_analysis.slug.compressed_bytes if new_analysis else None,
        memory_before=old_profile.memory.peak_total_bytes if old_profile else None,
        memory_after=new_profile.memory.peak_total_bytes if new_profile else None,
        files=_file_changes(old_analysis, new_analysis),
        packages=_package_changes(old_analysis, new_analysis),
        new_findings=_findings_only_in(after, before),
        fixed_findings=_findings_only_in(before, after),
    )


def _band(before: int, after: int) -> Band:
    if before == 0:
        return Band.NEW
    if after == 0:
        return Band.REMOVED
    delta = abs(after - before)
    return Band.LARGE if delta >= LARGE_BYTES or delta >= LARGE_SHARE * before else Band.SMALL


def _changes(before: Mapping[str, int], after: Mapping[str, int], details: Mapping[str, str]) -> list[Change]:
    changes = [
        Change(name, before.get(name, 0), after.get(name, 0), _band(before.get(name, 0), after.get(name, 0)),
               details.get(name, ""))
        for name in sorted(set(before) | set(after))
        if before.get(name, 0) != after.get(name, 0) or details.get(name)
    ]  # fmt: skip
    return sorted(changes, key=lambda change: (-abs(change.delta), change.name))


def _shipped(report: AnalyzeReport | None) -> dict[str, int]:
    if report is None:
        return {}
    return {file.path: file.bytes for file in report.app.files if file.included}


def _with_folders(files: Mapping[str, int]) -> dict[str, int]:
    """Each file, and each folder (`data/`) with the total of the files under it."""
    sizes = dict(files)
    for path, size in files.items():
        parts = path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth]) + "/"
            sizes[folder] = sizes.get(folder, 0) + size
    return sizes


def _file_changes(before: AnalyzeReport | None, after: AnalyzeReport | None) -> tuple[Change, ...]:
    """Files whose size changed, and folders where two or more did (a folder with one changed file
    says what that file says)."""
    if before is None or after is None:
        return ()
    changes = _changes(_with_folders(_shipped(before)), _with_folders(_shipped(after)), {})
    changed_under: Counter[str] = Counter()  # folder -> its changed files, counted once per file
    for change in changes:
        if not change.name.endswith("/"):
            parts = change.name.split("/")[:-1]
            changed_under.update("/".join(parts[:depth]) + "/" for depth in range(1, len(parts) + 1))
    return tuple(
        change for change in changes if not change.name.endswith("/") or changed_under[change.name] >= 2
    )


def _package_changes(before: AnalyzeReport | None, after: AnalyzeReport | None) -> tuple[Change, ...]:
    if before is None or after is None:
        return ()
    old = {p.name: p for p in before.dependencies.packages}
    new = {p.name: p for p in after.dependencies.packages}
    details = {}
    for name in set(old) | set(new):
        words = []
        if name in old and name in new and old[name].version != new[name].version:
            words.append(f"{old[name].version} -> {new[name].version}")
        elif name in new and name not in old:
            words.append(new[name].version)
        package = new.get(name) or old[name]
        if not package.top_level and package.requested_by:
            words.append(f"via {', '.join(package.requested_by)}")
        details[name] = "; ".join(words)
    upgraded = {name for name in set(old) & set(new) if old[name].version != new[name].version}
    changes = _changes(
        {name: p.compressed_bytes or p.bytes for name, p in old.items()},
        {name: p.compressed_bytes or p.bytes for name, p in new.items()},
        {name: text for name, text in details.items() if name in upgraded or name not in old},
    )
    return tuple(changes)


def _finding_key(finding: Finding) -> tuple[str, str | None]:
    return finding.id, finding.location.path if finding.location else finding.title


def _findings_only_in(
    these: tuple[AnalyzeReport | None, ProfileReport | None],
    others: tuple[AnalyzeReport | None, ProfileReport | None],
) -> tuple[Finding, ...]:
    """Findings of `these` with no finding of the same rule at the same place in `others`."""
    known = {_finding_key(finding) for finding in findings_of(*others)}
    return tuple(finding for finding in findings_of(*these) if _finding_key(finding) not in known)

"""What each fix saves, measured: the slug model run again on the inventory without what the fix
removes, against the same model on today's inventory.

Compressing the removed files alone overstates a saving (they compress worse alone than in the
stream), and adding per-package figures understates a change that removes several packages at once;
running the whole model again does neither. Findings with the same change share one run. A change
that edits the requirements (a swap) is resolved again for the dyno, by `resolve_edited`, and the model
runs on that resolution: what the swap adds counts as much as what it removes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from slugprof.errors import ToolFailure
from slugprof.measure.slug import SizedSlug, SlugInventory, SlugLimits, size_slug
from slugprof.model import DependencyInventory, Edit, Finding, SlugChange
from slugprof.progress import NoProgress, Progress

# The dependencies as they would be with these requirement-file edits, resolved for the same dyno;
# raises ToolFailure when that cannot be done (offline with nothing cached, a lock-file manager).
ResolveEdited = Callable[[tuple[Edit, ...]], DependencyInventory]
NOT_RESOLVED_HERE = "the dependencies were measured in an environment: run with --resolve to size the swap"


def without(inventory: SlugInventory, change: SlugChange) -> SlugInventory:
    """The inventory less the app files and packages the change removes."""
    paths = set(change.app_paths)
    packages = set(change.packages)
    app = inventory.app
    dependencies = inventory.dependencies
    if paths:
        app = replace(app, files=tuple(f for f in app.files if f.path not in paths))
    if packages:
        dependencies = replace(
            dependencies, packages=tuple(p for p in dependencies.packages if p.name not in packages)
        )
    return replace(inventory, app=app, dependencies=dependencies)


def with_measured_savings(
    findings: Sequence[Finding],
    inventory: SlugInventory,
    limits: SlugLimits,
    today: SizedSlug,
    *,
    exact: bool = False,
    cache_dir: Path | None = None,
    workers: int | None = None,
    resolve_edited: ResolveEdited | None = None,
    progress: Progress = NoProgress(),  # noqa: B008 (stateless)
) -> tuple[Finding, ...]:
    """The findings, each one that changes the slug with `savings_bytes` and `savings_compressed_bytes`;
    a change that could not be sized keeps them null and says why in its evidence."""
    changes = list(dict.fromkeys(f.change for f in findings if f.change is not None))
    if not changes:
        return tuple(findings)
    progress.stage("Measuring savings", len(changes))
    after: dict[SlugChange, SizedSlug | str] = {}
    for change in changes:
        try:
            changed = _changed_inventory(inventory, change, resolve_edited)
        except ToolFailure as failure:
            after[change] = str(failure)
        else:
            after[change] = size_slug(changed, limits, exact=exact, cache_dir=cache_dir, workers=workers)
        progress.advance()
    return tuple(_measured(finding, today, after) for finding in findings)


def _changed_inventory(
    inventory: SlugInventory, change: SlugChange, resolve_edited: ResolveEdited | None
) -> SlugInventory:
    changed = without(inventory, change)
    if not change.requirement_edits:
        return changed
    if resolve_edited is None:
        raise ToolFailure(NOT_RESOLVED_HERE)
    return replace(changed, dependencies=resolve_edited(change.requirement_edits))


def _measured(finding: Finding, today: SizedSlug, after: dict[SlugChange, SizedSlug | str]) -> Finding:
    if finding.change is None:
        return finding
    outcome = after[finding.change]
    if isinstance(outcome, str):
        return replace(finding, evidence=(*finding.evidence, f"saving not measured: {outcome}"))
    return replace(
        finding,
        savings_bytes=today.slug.bytes - outcome.slug.bytes,
        savings_compressed_bytes=today.slug.compressed_bytes - outcome.slug.compressed_bytes,
    )

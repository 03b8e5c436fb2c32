"""What each fix saves, measured: the slug model run again on the inventory without what the fix
removes, against the same model on today's inventory.

Compressing the removed files alone overstates a saving (they compress worse alone than in the
stream), and adding per-package figures understates a change that removes several packages at once;
running the whole model again does neither. Findings with the same change share one run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from slugprof.measure.slug import SizedSlug, SlugInventory, SlugLimits, size_slug
from slugprof.model import Finding, SlugChange
from slugprof.progress import NoProgress, Progress


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
    progress: Progress = NoProgress(),  # noqa: B008 (stateless)
) -> tuple[Finding, ...]:
    """The findings, each one that changes the slug with `savings_bytes` and `savings_compressed_bytes`."""
    changes = list(dict.fromkeys(f.change for f in findings if f.change is not None))
    if not changes:
        return tuple(findings)
    progress.stage("Measuring savings", len(changes))
    after: dict[SlugChange, SizedSlug] = {}
    for change in changes:
        after[change] = size_slug(
            without(inventory, change), limits, exact=exact, cache_dir=cache_dir, workers=workers
        )
        progress.advance()
    measured = []
    for finding in findings:
        if finding.change is None:
            measured.append(finding)
            continue
        slug = after[finding.change].slug
        measured.append(
            replace(
                finding,
                savings_bytes=today.slug.bytes - slug.bytes,
                savings_compressed_bytes=today.slug.compressed_bytes - slug.compressed_bytes,
            )
        )
    return tuple(measured)

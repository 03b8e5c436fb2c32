"""The JSON report: the stable, documented contract (`schema_version` 1) that later stages re-read."""

from __future__ import annotations

import json
from typing import Any

from slugprof.model import APP_GROUP, AnalyzeReport, CompressionEstimate, buildpack_group
from slugprof.render.common import compressed_by_package, findings_to_list


def report_to_dict(report: AnalyzeReport) -> dict[str, Any]:
    compression = report.compression
    app_group = compression.group(APP_GROUP)
    dependencies = report.dependencies
    compressed = compressed_by_package(report)
    return {
        "schema_version": report.schema_version,
        "tool": {"name": "slugprof", "version": report.tool_version},
        "created": report.created,
        "app": {
            "root": report.app.root,
            "source": report.app.source,
            "bytes": report.app.bytes,
            "compressed_bytes": app_group.compressed_bytes if app_group else 0,
            "files": [
                {
                    "path": file.path,
                    "bytes": file.bytes,
                    "included": file.included,
                    "excluded_by": file.excluded_by,
                    "kind": file.kind,
                }
                for file in report.app.files
            ],
            "untracked": list(report.app.untracked),
            "problems": [
                {"path": problem.path, "reason": problem.reason, "counted": problem.counted}
                for problem in report.app.problems
            ],
            "slugignore": [
                {
                    "line": rule.line,
                    "pattern": rule.pattern,
                    "matched_paths": rule.matched_paths,
                    "note": rule.note,
                    "from_comment": rule.from_comment,
                }
                for rule in report.app.slugignore
            ],
        },
        "python": {
            "version": report.python.version,
            "source": report.python.source,
        },
        "package_manager": report.package_manager,
        "dependencies": {
            "source": dependencies.source,
            "target": (
                {
                    "stack": dependencies.target.stack,
                    "arch": dependencies.target.arch,
                    "python": dependencies.target.python,
                    "glibc": dependencies.target.glibc,
                    "manager": dependencies.target.manager,
                }
                if dependencies.target
                else None
            ),
            "resolver": dependencies.resolver,
            "interpreter": dependencies.interpreter,
            "python_version": dependencies.python_version,
            "requirements_files": list(dependencies.requirements_files),
            "requirements": list(dependencies.requirements),
            "bytes": dependencies.bytes,
            "compressed_bytes": sum(compressed.values()),
            "packages": [
                {
                    "name": package.name,
                    "version": package.version,
                    "bytes": package.bytes,
                    "compressed_bytes": compressed[package.name],
                    "files": package.file_count,
                    "measured": package.measured,
                    "size_method": package.size_method,
                    "requested_by": list(package.requested_by),
                    "top_level": package.top_level,
                    **(
                        {
                            "exclusive_bytes": package.exclusive_bytes,
                            "exclusive_compressed_bytes": sum(
                                compressed.get(name, 0) for name in package.exclusive_packages
                            ),
                            "exclusive_packages": list(package.exclusive_packages),
                        }
                        if package.top_level
                        else {}
                    ),
                }
                for package in dependencies.packages
            ],
            "not_required": [
                {"name": package.name, "version": package.version, "bytes": package.bytes}
                for package in dependencies.not_required
            ],
            "missing": list(dependencies.missing),
            "notes": list(dependencies.notes),
        },
        "buildpack": [
            {
                "name": part.name,
                "description": part.description,
                "bytes": part.bytes,
                "compressed_bytes": _part_compressed(compression, part.name, part.compressed_bytes),
                "measured": part.measured,
                "source": part.source,
            }
            for part in report.buildpack
        ],
        "slug": {
            "bytes": report.slug.bytes,
            "compressed_bytes": report.slug.compressed_bytes,
            "compressed_error": report.slug.compressed_error,
            "compressed_method": report.slug.compressed_method,
            "sampled_bytes": compression.sampled_bytes,
            "limit_bytes": report.slug.limit_bytes,
            "soft_limit_bytes": report.slug.soft_limit_bytes,
            "status": report.slug.status,
            "components": [
                {
                    "name": component.name,
                    "bytes": component.bytes,
                    "compressed_bytes": component.compressed_bytes,
                    "measured": component.measured,
                }
                for component in report.slug.components
            ],
        },
        "notes": list(report.notes),
        "findings": findings_to_list(report.findings),
    }


def render_json(report: AnalyzeReport) -> str:
    return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False) + "\n"


def _part_compressed(compression: CompressionEstimate, name: str, known: int | None) -> int:
    if known is not None:
        return known
    estimate = compression.group(buildpack_group(name))
    return estimate.compressed_bytes if estimate else 0

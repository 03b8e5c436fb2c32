"""The saved contract: a report written as JSON and read back, older schemas migrated on the way in.

`write_report(report)` is the JSON text of any report; `load_report(path)` reads one back, whatever folder
it was written from. Reading fails with a one-line UsageError (exit 2) for a file that is not a slugprof
report, a truncated one, or one written by a newer slugprof.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slugprof.errors import UsageError
from slugprof.model.codec import DecodeError, decode, encode
from slugprof.model.profile import ProfileReport
from slugprof.model.report import SCHEMA_VERSION, AnalyzeReport

Report = AnalyzeReport | ProfileReport
_KINDS: dict[str, type[AnalyzeReport] | type[ProfileReport]] = {
    "analyze": AnalyzeReport,
    "profile": ProfileReport,
}


class ReportError(UsageError):
    """A file given as a saved report that cannot be read as one."""


def report_to_data(report: Report) -> dict[str, Any]:
    data: dict[str, Any] = encode(report)
    return data


def write_report(report: Report) -> str:
    return json.dumps(report_to_data(report), indent=2, ensure_ascii=False) + "\n"


def load_report(path: Path) -> Report:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ReportError(f"{path}: is a folder, not a saved report") from None
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not a slugprof report (not UTF-8 text)") from None
    except OSError as error:
        raise ReportError(f"{path}: cannot read it ({error.strerror})") from error
    return read_report(text, str(path))


def read_report(text: str, name: str = "report") -> Report:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        cut = " (the file looks cut short)" if error.pos >= len(text.rstrip()) else ""
        raise ReportError(
            f"{name}: not a slugprof report: not valid JSON at line {error.lineno} column {error.colno}{cut}"
        ) from None
    kind, version = _identify(data, name)
    if version == 1:
        data = _migrate_from_1(data, kind)
    if version <= 2:
        data = _migrate_from_2(data)
    if version <= 3:
        data = _migrate_from_3(data, kind)
    try:
        return decode(_KINDS[kind], data, kind)
    except DecodeError as error:
        raise ReportError(f"{name}: not a valid slugprof {kind} report: {error}") from None


def _identify(data: object, name: str) -> tuple[str, int]:
    """The report's kind and schema version; ReportError when it is not a report this version reads."""
    if not isinstance(data, dict):
        raise ReportError(f"{name}: not a slugprof report (the JSON is not an object)")
    tool = data.get("tool")
    version = data.get("schema_version")
    if not isinstance(tool, dict) or tool.get("name") != "slugprof" or not isinstance(version, int):
        raise ReportError(f"{name}: not a slugprof report (no slugprof tool name and schema_version)")
    if version > SCHEMA_VERSION:
        raise ReportError(
            f"{name}: written by a newer slugprof ({tool.get('version', '?')}, schema {version}); this one "
            f"reads schemas 1 to {SCHEMA_VERSION}: upgrade slugprof to read it"
        )
    if version < 1:
        raise ReportError(f"{name}: not a slugprof report (schema_version {version})")
    # Schema 1 analyze reports had no kind; its profile reports did.
    kind = data.get("kind", "analyze" if version == 1 else None)
    if kind not in _KINDS:
        raise ReportError(f"{name}: not a slugprof report (unknown kind {kind!r})")
    return str(kind), version


def _migrate_from_1(data: dict[str, Any], kind: str) -> dict[str, Any]:
    """Schema 1 -> 2: choices that were strings to parse become fields; the report gains its kind."""
    data = {**data, "schema_version": 2, "kind": kind}
    if kind == "profile":
        memray = data.get("memray")
        if isinstance(memray, str):
            mode, _, reason = memray.partition(":")
            data["memray"] = {"mode": mode.strip(), "reason": reason.strip() or None}
        return data
    dependencies = data.get("dependencies")
    if isinstance(dependencies, dict):
        dependencies = dict(dependencies)
        source = dependencies.get("source")
        if isinstance(source, str) and source.startswith("environment:"):
            dependencies["source"] = "environment"
            dependencies["environment"] = source.removeprefix("environment:")
        dependencies["packages"] = [_package_from_1(p) for p in dependencies.get("packages", [])]
        dependencies["not_required"] = [_package_from_1(p) for p in dependencies.get("not_required", [])]
        data["dependencies"] = dependencies
    return data


def _migrate_from_2(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 2 -> 3: a finding's `detail` becomes its evidence. Reports of schema 2 carry no build
    verdict (`build` stays null: it was not decided) and no finding (none was written then)."""
    findings = [
        {
            "id": finding.get("id"),
            "severity": finding.get("severity"),
            "title": finding.get("title"),
            "evidence": [finding["detail"]] if finding.get("detail") else [],
            "savings_bytes": finding.get("saving_bytes"),
        }
        if isinstance(finding, dict)
        else finding
        for finding in data.get("findings", [])
    ]
    return {**data, "schema_version": 3, "findings": findings}


def _migrate_from_3(data: dict[str, Any], kind: str) -> dict[str, Any]:
    """Schema 3 -> 4: a profile's headline was summed PSS; from 4 it is the anonymous memory, with summed
    PSS beside it. An older profile says which it holds."""
    data = {**data, "schema_version": SCHEMA_VERSION}
    memory = data.get("memory")
    if kind == "profile" and isinstance(memory, dict):
        data["memory"] = {**memory, "measure": "pss", "peak_total_pss_bytes": memory.get("peak_total_bytes")}
    return data


def _package_from_1(package: object) -> object:
    if not isinstance(package, dict):
        return package
    package = dict(package)
    package.setdefault("file_count", package.pop("files", 0))
    package.setdefault("compressed_bytes", 0)
    return package

"""DEP320: a requirement the app wrote that no module of the app imports, so it may only weigh.

A distribution counts as used when one of its top-level modules (`Package.modules`: `dateutil` for
python-dateutil) is imported by a `.py` file of the app (`import x.y`, `from x import y`), or named as a
string in one (Django's INSTALLED_APPS, MIDDLEWARE, ENGINE and BACKEND strings, a gunicorn config's
`worker_class`, `importlib.import_module("x")`), or by a word of a Procfile command (`gunicorn`,
`-k uvicorn_worker.UvicornWorker`, `newrelic-admin`), or when it is known to be loaded without an
import of the app's (a database driver chosen by a URL, python-dotenv). Only the app's own requirements
are candidates: a dependency of a dependency is not the app's to drop. It is said as "verify": a
plugin can be loaded in ways no file shows.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from slugprof.model import AnalyzeReport, Edit, Evidence, Fix, Location, Package, Severity, SlugChange
from slugprof.rules.dep_tools import DEV_TOOLS, REQUIREMENTS_TXT, leaving_with, requirement_lines
from slugprof.rules.registry import Hit, RuleInputs, rule
from slugprof.units import format_bytes

# Distributions an app uses without importing them itself (canonical names).
RUNTIME_ONLY = frozenset(
    {
        # database drivers, loaded by SQLAlchemy, Django or an ORM from the DATABASE_URL's scheme
        "psycopg2", "psycopg2-binary", "psycopg", "psycopg-binary", "psycopg-c", "mysqlclient",
        "pymysql", "mysql-connector-python", "asyncpg", "aiomysql", "aiosqlite", "pg8000", "oracledb",
        "cx-oracle", "pyodbc",
        # read when installed: .env by Flask, uvicorn and pydantic-settings; uvicorn's and whitenoise's
        # speedups; the time zone database of zoneinfo
        "python-dotenv", "uvloop", "httptools", "websockets", "brotli", "tzdata",
        # the installer's own tools
        "pip", "setuptools", "wheel",
    }
)  # fmt: skip
_READ_LIMIT = 2_000_000  # .py files larger than this are generated data, not the app's code: not read
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?::[A-Za-z_]\w*)?")
_WORD = re.compile(r"[A-Za-z_][\w.\-]*")
_INSTALL_COMMAND = {"uv": "uv remove {}", "poetry": "poetry remove {}", "pipenv": "pipenv uninstall {}"}


@dataclass
class _Uses:
    """What the app's files name: module names (imports and strings) and Procfile words."""

    names: set[str]
    files_read: int = 0
    unparsed: int = 0

    def uses(self, package: Package) -> bool:
        canonical = {canonicalize_name(name) for name in self.names}
        return package.name in canonical or any(module in self.names for module in package.modules or ())


def _candidates(report: AnalyzeReport) -> list[Package]:
    """Top-level requirements whose modules are known; development tools are DEP300's (they should
    move, not be verified)."""
    return [
        package
        for package in report.dependencies.packages
        if package.top_level
        and package.modules
        and package.name not in RUNTIME_ONLY
        and package.name not in DEV_TOOLS
    ]


def _procfile_words(inputs: RuleInputs) -> set[str]:
    """Each word of the Procfile's commands, and its first dotted part and first hyphened part:
    `uvicorn_worker.UvicornWorker` gives `uvicorn_worker`, `newrelic-admin` gives `newrelic`."""
    words: set[str] = set()
    for word in _WORD.findall(inputs.files.read_text("Procfile") or ""):
        words.update({word, word.split(".", 1)[0], word.split("-", 1)[0]})
    return words


def _own_modules(paths: Iterable[str]) -> set[str]:
    """The app's own top-level modules: `app.py` is `app`, `mysite/settings.py` is `mysite`."""
    return {path.split("/", 1)[0].removesuffix(".py") for path in paths}


def _named_in(tree: ast.AST) -> Iterator[str]:
    """The top-level module of every import, and of every string that reads as a dotted name."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".", 1)[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".", 1)[0]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _DOTTED.fullmatch(node.value):
            yield node.value.split(".", 1)[0].split(":", 1)[0]


def app_uses(inputs: RuleInputs, wanted: set[str]) -> _Uses:
    """What the app names, found among `wanted` (the candidates' modules): a file that does not
    contain one of them as text is not parsed, and the search stops once all are found."""
    paths = [
        file.path
        for file in inputs.report.app.included
        if file.kind == "file" and file.path.endswith(".py") and file.bytes <= _READ_LIMIT
    ]
    uses = _Uses(names=_procfile_words(inputs) | _own_modules(paths))
    missing = {name for name in wanted if name not in uses.names}
    for path in paths:
        if not missing:
            break
        data = inputs.files.read_bytes(path) or b""
        uses.files_read += 1
        if not any(name.encode("ascii") in data for name in missing):
            continue
        try:
            tree = ast.parse(data, filename=path)
        except (SyntaxError, ValueError, RecursionError):  # ValueError: a NUL byte
            uses.unparsed += 1
            continue
        found = set(_named_in(tree))
        uses.names |= found
        missing -= found
    return uses


@rule(
    "DEP320",
    "unused-requirement",
    Severity.INFO,
    summary="A requirement of the app that no module of the app imports or names (in a .py file, its "
    "settings' strings, or the Procfile): verify it is needed.",
    why="Every requirement and what it pulls in is installed into the slug, and imported by nothing it "
    "only weighs; a plugin loaded by name elsewhere is the exception to verify.",
    fix="Remove the requirement when nothing needs it; what leaves with it is measured.",
    source="heroku-facts 3.4 (what each package manager installs)",
)
def unused_requirement(inputs: RuleInputs) -> Iterator[Hit]:
    report = inputs.report
    candidates = _candidates(report)
    if not candidates:
        return
    uses = app_uses(inputs, {module for package in candidates for module in package.modules or ()})
    sizes = {package.name: package for package in report.dependencies.packages}
    for package in candidates:
        if uses.uses(package):
            continue
        leaving = leaving_with(report, {package.name})
        if not leaving:  # another requirement needs it: removing its line frees nothing
            continue
        yield _hit(inputs, package, leaving, sum(sizes[name].bytes for name in leaving), uses)


def _hit(inputs: RuleInputs, package: Package, leaving: set[str], leaving_bytes: int, uses: _Uses) -> Hit:
    report = inputs.report
    modules = ", ".join(f"`{module}`" for module in package.modules or ())
    evidence = [
        f"{uses.files_read} .py files of the app read: none imports {modules}, and neither a string in "
        "them nor the Procfile names it",
        f"leaving with it ({len(leaving)} packages): {', '.join(sorted(leaving))}; "
        f"{format_bytes(leaving_bytes)} installed",
    ]
    if uses.unparsed:
        evidence.append(f"{uses.unparsed} .py files that mention it do not parse (a syntax error): not read")
    lines = requirement_lines(inputs, {package.name}) if report.package_manager == "pip" else []
    command = _INSTALL_COMMAND.get(report.package_manager or "")
    return Hit(
        title=f"No module of the app imports {modules} (distribution `{package.name}`): verify it is needed",
        evidence=tuple(evidence),
        evidence_class=Evidence.RESOLVED if report.dependencies.target is not None else Evidence.MEASURED,
        location=Location(REQUIREMENTS_TXT, lines[0][0]) if lines else None,
        fix=Fix(
            summary=f"if nothing loads it, remove {package.name} from the app's requirements",
            command=command.format(package.name) if command else None,
            edits=tuple(Edit(path=REQUIREMENTS_TXT, old=line, new="") for _, line in lines),
        ),
        change=SlugChange(packages=tuple(sorted(leaving))),
    )

"""DEP30x: development tools installed into the slug, removed together as one change."""

from __future__ import annotations

from collections.abc import Iterator

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from slugprof.measure.graph import closure
from slugprof.model import AnalyzeReport, Edit, Evidence, Fix, Location, Severity, SlugChange
from slugprof.rules.registry import Hit, RuleInputs, rule
from slugprof.units import format_bytes

# Tools for writing, testing and documenting code: the dyno never runs them. Canonical names.
DEV_TOOLS = frozenset(
    {
        "pytest", "pytest-cov", "pytest-django", "pytest-mock", "pytest-xdist", "pytest-asyncio",
        "pylint", "black", "flake8", "mypy", "ruff", "isort", "autopep8", "yapf", "bandit",
        "ipython", "ipykernel", "jupyter", "jupyterlab", "notebook", "nbconvert",
        "sphinx", "mkdocs", "coverage", "tox", "nox", "pre-commit", "django-debug-toolbar",
        "flask-debugtoolbar", "debugpy", "pdbpp", "ipdb", "faker", "factory-boy", "hypothesis",
    }
)  # fmt: skip
# Where each package manager keeps development requirements.
_DEV_PLACE = {
    "pip": "a requirements-dev.txt (with `-r requirements.txt` at its top), installed only where you develop",
    "uv": "the dev group: `uv remove X && uv add --dev X`",
    "poetry": "the dev group: `poetry remove X && poetry add --group dev X`",
    "pipenv": "[dev-packages]: `pipenv uninstall X && pipenv install --dev X`",
}
REQUIREMENTS_TXT = "requirements.txt"


def leaving_with(report: AnalyzeReport, removed_tops: set[str]) -> set[str]:
    """The packages that leave the slug when these top-level requirements go together: those no
    remaining requirement still needs."""
    packages = report.dependencies.packages
    edges = {p.name: p.requires for p in packages}
    everything = {p.name for p in packages}
    remaining = [p.name for p in packages if p.top_level and p.name not in removed_tops]
    return everything - closure(remaining, edges)


def requirement_lines(inputs: RuleInputs, names: set[str]) -> list[tuple[int, str]]:
    """(line number, line) of requirements.txt lines that name one of `names`."""
    text = inputs.files.read_text(REQUIREMENTS_TXT)
    if text is None:
        return []
    found = []
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        requirement = line.split("#", 1)[0].strip()
        if not requirement or requirement.startswith("-"):
            continue
        try:
            name = canonicalize_name(Requirement(requirement).name)
        except InvalidRequirement:
            continue
        if name in names:
            found.append((number, line))
    return found


@rule(
    "DEP300",
    "dev-tools-in-production",
    Severity.WARNING,
    summary="Development tools (pytest, pylint, black, mypy, ruff, ipython, jupyter, sphinx, coverage, tox, "
    "pre-commit, debug toolbars...) are production requirements, so they and their dependencies ship.",
    why="The buildpack installs every production requirement into the slug; the dyno never runs these.",
    fix="Move them where development requirements belong for your package manager.",
    source="heroku-facts 3.4 (what each package manager installs), 7 (public slug-size fixes)",
)
def dev_tools_in_production(inputs: RuleInputs) -> Iterator[Hit]:
    report = inputs.report
    tools = {p.name for p in report.dependencies.packages if p.top_level and p.name in DEV_TOOLS}
    if not tools:
        return
    leaving = leaving_with(report, tools)
    sizes = {p.name: p for p in report.dependencies.packages}
    manager = report.package_manager
    lines = requirement_lines(inputs, tools) if manager == "pip" else []
    evidence = [f"top-level: {', '.join(sorted(tools))}"]
    evidence.append(
        f"leaving with them ({len(leaving)} packages): {', '.join(sorted(leaving))}; "
        f"{format_bytes(sum(sizes[name].bytes for name in leaving))} installed"
    )
    edits = tuple(Edit(path=REQUIREMENTS_TXT, old=line, new="") for _, line in lines)
    if edits:
        edits += (
            Edit(
                path="requirements-dev.txt",
                old=None,
                new="-r requirements.txt\n" + "".join(text for _, text in lines),
            ),
        )
    yield Hit(
        title=f"{len(tools)} development tools are production requirements: {', '.join(sorted(tools))}",
        evidence=tuple(evidence),
        evidence_class=Evidence.RESOLVED if report.dependencies.target is not None else Evidence.MEASURED,
        location=Location(REQUIREMENTS_TXT, lines[0][0]) if lines else None,
        fix=Fix(
            summary="move them to " + _DEV_PLACE.get(manager, "your development requirements"), edits=edits
        ),
        change=SlugChange(packages=tuple(sorted(leaving))),
    )

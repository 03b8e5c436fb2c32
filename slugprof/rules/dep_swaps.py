"""DEP31x: a package that has a smaller build for a dyno, swapped in the requirements; the saving is
the slug model run on the requirements resolved again with the swap (the same resolver, target and
cache as the analysis), so what the swap adds counts as much as what it removes.

Swaps are written for requirements.txt: the other managers need a new lock, which slugprof does not
write, so there the finding says what to change and its saving is not measured.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from slugprof.measure.graph import closure
from slugprof.model import AnalyzeReport, Edit, Evidence, Fix, Location, Package, Severity, SlugChange
from slugprof.rules.dep_tools import REQUIREMENTS_TXT, requirement_lines
from slugprof.rules.dep_unused import app_uses
from slugprof.rules.registry import Hit, RuleInputs, append_edit, rule
from slugprof.units import format_bytes

# The CUDA runtime that PyPI's Linux torch wheels require (heroku-facts 7, item 2: nvidia-cudnn-cu12
# 707 MB, nvidia-cublas-cu12 594 MB, ... triton 155 MB): a dyno has no GPU to use them.
_CUDA_PREFIX = "nvidia-"
_CUDA_COMPANIONS = frozenset({"triton"})


def _is_cuda(name: str) -> bool:
    return name.startswith(_CUDA_PREFIX) or name in _CUDA_COMPANIONS


def _packages(report: AnalyzeReport) -> dict[str, Package]:
    return {package.name: package for package in report.dependencies.packages}


def _edges(report: AnalyzeReport) -> dict[str, tuple[str, ...]]:
    return {package.name: package.requires for package in report.dependencies.packages}


def _tops_pulling(report: AnalyzeReport, name: str) -> list[str]:
    """The app's own requirements that bring `name` in (itself, when the app names it)."""
    edges = _edges(report)
    tops = [p.name for p in report.dependencies.packages if p.top_level]
    return sorted(top for top in tops if name in closure([top], edges))


def _evidence_class(report: AnalyzeReport) -> Evidence:
    return Evidence.RESOLVED if report.dependencies.target is not None else Evidence.MEASURED


def _sizes(packages: dict[str, Package], names: set[str]) -> str:
    return format_bytes(sum(packages[name].bytes for name in names if name in packages))


_NAME_AT_START = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _renamed(line: str, new_name: str) -> str:
    """A requirement line with its project name replaced, specifiers, markers and comment kept."""
    return _NAME_AT_START.sub(lambda match: match.group(0).replace(match.group(1), new_name), line, count=1)


def _swap_edits(inputs: RuleInputs, name: str, new_name: str) -> tuple[tuple[Edit, ...], int | None]:
    """The requirements.txt edits renaming `name` to `new_name`, and the first line's number."""
    if inputs.report.package_manager != "pip":
        return (), None
    lines = requirement_lines(inputs, {name})
    edits = tuple(Edit(path=REQUIREMENTS_TXT, old=text, new=_renamed(text, new_name)) for _, text in lines)
    return edits, (lines[0][0] if lines else None)


@rule(
    "DEP310",
    "torch-with-cuda",
    Severity.WARNING,
    summary="torch comes from PyPI's default index, whose Linux wheels bring the CUDA runtime (nvidia-*, "
    "triton): gigabytes a dyno without a GPU never uses.",
    why="Public slugs of 1 to 3.6 GB were CUDA torch, often pulled in by another requirement "
    "(sentence-transformers, easyocr); the CPU-only build is a fraction of the size.",
    fix="Install the CPU-only torch from PyTorch's CPU index (`torch==X+cpu` with "
    "`--extra-index-url https://download.pytorch.org/whl/cpu`; the index is the `torch-cpu-index` setting).",
    source="heroku-facts 7 (item 2, PyTorch CUDA wheels), 9.1",
)
def torch_with_cuda(inputs: RuleInputs) -> Iterator[Hit]:
    report = inputs.report
    packages = _packages(report)
    torch = packages.get("torch")
    if torch is None or "+" in torch.version:
        return
    cuda = {name for name in closure(["torch"], _edges(report)) if _is_cuda(name)}
    if not cuda:
        return
    pulled_by = [top for top in _tops_pulling(report, "torch") if top != "torch"]
    evidence = [
        f"torch {torch.version} ({format_bytes(torch.bytes)} installed) brings {len(cuda)} CUDA packages "
        f"({_sizes(packages, cuda)} installed): {', '.join(sorted(cuda))}"
    ]
    if not torch.top_level:
        evidence.append(f"torch is not a requirement of the app: {', '.join(pulled_by)} pulls it in")
    edits, line = _torch_edits(inputs, torch, pulled_by)
    yield Hit(
        title=f"torch brings {_sizes(packages, cuda)} of CUDA packages a dyno cannot use"
        + (f" (pulled in by {', '.join(pulled_by)})" if not torch.top_level and pulled_by else ""),
        evidence=tuple(evidence),
        evidence_class=_evidence_class(report),
        location=Location(REQUIREMENTS_TXT, line) if line else None,
        fix=Fix(summary=_torch_fix(inputs, torch, bool(edits)), edits=edits),
        change=SlugChange(requirement_edits=edits) if edits else None,
    )


def _torch_fix(inputs: RuleInputs, torch: Package, edited: bool) -> str:
    index = inputs.settings.torch_cpu_index
    if edited:
        return f"install the CPU-only build: torch=={torch.version}+cpu from {index}"
    return f"point torch at the CPU index ({index}) in your package manager and lock again"


def _torch_edits(
    inputs: RuleInputs, torch: Package, pulled_by: list[str]
) -> tuple[tuple[Edit, ...], int | None]:
    if inputs.report.package_manager != "pip":
        return (), None
    pin = f"torch=={torch.version}+cpu"
    index = append_edit(REQUIREMENTS_TXT, f"--extra-index-url {inputs.settings.torch_cpu_index}\n")
    lines = requirement_lines(inputs, {"torch"})
    if lines:
        number, text = lines[0]
        return (Edit(path=REQUIREMENTS_TXT, old=text, new=pin + "\n"), index), number
    why = f"  # the CPU-only build for {', '.join(pulled_by)}" if pulled_by else ""
    return (index, append_edit(REQUIREMENTS_TXT, f"{pin}{why}\n")), None


@rule(
    "DEP311",
    "tensorflow-not-cpu",
    Severity.WARNING,
    summary="tensorflow is a requirement: its Linux wheel carries GPU support; tensorflow-cpu is about half "
    "the size.",
    why="A dyno has no GPU; tensorflow alone has pushed public slugs past the limit, and tensorflow-cpu "
    "fixed them.",
    fix="Require tensorflow-cpu (same version) instead of tensorflow.",
    source="heroku-facts 7 (item 1, TensorFlow)",
)
def tensorflow_not_cpu(inputs: RuleInputs) -> Iterator[Hit]:
    report = inputs.report
    tensorflow = _packages(report).get("tensorflow")
    if tensorflow is None or not tensorflow.top_level:
        return
    edits, line = _swap_edits(inputs, "tensorflow", "tensorflow-cpu")
    yield Hit(
        title=f"tensorflow {tensorflow.version} ({format_bytes(tensorflow.bytes)} installed) has a CPU-only "
        "build, tensorflow-cpu",
        evidence=(f"tensorflow {tensorflow.version} is a requirement of the app",),
        evidence_class=_evidence_class(report),
        location=Location(REQUIREMENTS_TXT, line) if line else None,
        fix=Fix(summary=f"require tensorflow-cpu=={tensorflow.version} instead", edits=edits),
        change=SlugChange(requirement_edits=edits) if edits else None,
    )


@rule(
    "DEP312",
    "cuda-without-gpu",
    Severity.WARNING,
    summary="NVIDIA CUDA packages (nvidia-*) are installed, pulled in by something other than torch: "
    "a dyno has no GPU.",
    why="They are hundreds of megabytes each and do nothing on a dyno.",
    fix="Drop the GPU extra or package that requires them (`jax[cuda12]` -> `jax`, `cupy-cuda12x`).",
    source="heroku-facts 7 (item 2, CUDA wheel sizes)",
)
def cuda_without_gpu(inputs: RuleInputs) -> Iterator[Hit]:
    report = inputs.report
    packages = _packages(report)
    edges = _edges(report)
    via_torch = closure(["torch"], edges) if "torch" in packages else set()
    cuda = {name for name in packages if name.startswith(_CUDA_PREFIX) and name not in via_torch}
    if not cuda:
        return
    tops = sorted({top for name in cuda for top in _tops_pulling(report, name)} - cuda)
    yield Hit(
        title=f"{len(cuda)} NVIDIA CUDA packages ({_sizes(packages, cuda)} installed) on a dyno, which has "
        "no GPU",
        evidence=(
            f"installed: {', '.join(sorted(cuda))}",
            *([f"pulled in by {', '.join(tops)}"] if tops else []),
        ),
        evidence_class=_evidence_class(report),
        fix=Fix(
            summary="require the CPU build of "
            + (", ".join(tops) if tops else "the package that needs them")
            + " (drop its CUDA extra)"
        ),
        change=SlugChange(packages=tuple(sorted(cuda))),
    )


# The GUI builds of OpenCV and their headless twins (same versions, same cv2 module).
_OPENCV_HEADLESS = {
    "opencv-python": "opencv-python-headless",
    "opencv-contrib-python": "opencv-contrib-python-headless",
}


@rule(
    "DEP313",
    "opencv-gui-imported",
    Severity.ERROR,
    summary="The app imports cv2 from opencv-python (the GUI build), which needs libGL.so.1: the heroku-24 "
    "stack has none, so the import fails on the dyno.",
    why="`import cv2` raises `ImportError: libGL.so.1` at boot or at the first request that reaches it; "
    "the headless build has the same cv2 without the GUI libraries, and is smaller.",
    fix="Require opencv-python-headless (or opencv-contrib-python-headless), same version.",
    source="heroku-facts 9.3 (libGL on heroku-24), 7 (item 3, OpenCV)",
)
def opencv_gui_imported(inputs: RuleInputs) -> Iterator[Hit]:
    yield from _opencv_gui(inputs, imported=True)


@rule(
    "DEP314",
    "opencv-gui-build",
    Severity.WARNING,
    summary="opencv-python (the GUI build) is installed though no module of the app imports cv2: the "
    "headless build is smaller and needs no libGL.",
    why="The GUI build bundles Qt and X11 libraries a dyno never uses, and its cv2 cannot load on "
    "heroku-24 (no libGL.so.1) whoever imports it.",
    fix="Require opencv-python-headless (or opencv-contrib-python-headless), same version.",
    source="heroku-facts 9.3 (libGL on heroku-24), 7 (item 3, OpenCV)",
)
def opencv_gui_build(inputs: RuleInputs) -> Iterator[Hit]:
    yield from _opencv_gui(inputs, imported=False)


def _opencv_gui(inputs: RuleInputs, *, imported: bool) -> Iterator[Hit]:
    report = inputs.report
    packages = _packages(report)
    gui = [name for name in _OPENCV_HEADLESS if name in packages]
    if not gui or ("cv2" in app_uses(inputs, {"cv2"}).names) != imported:
        return
    for name in gui:
        package = packages[name]
        headless = _OPENCV_HEADLESS[name]
        needing = sorted(p.name for p in report.dependencies.packages if name in p.requires)
        edits, line = _swap_edits(inputs, name, headless) if package.top_level else ((), None)
        evidence = [f"{name} {package.version} ({format_bytes(package.bytes)} installed)"]
        if imported:
            evidence.append("the app imports cv2: on the dyno that import fails (no libGL.so.1 on heroku-24)")
        if needing:
            evidence.append(
                f"{', '.join(needing)} require {name}: with the swap alone it stays installed; ask for a "
                "release that accepts the headless build, or install it with --no-deps"
            )
        yield Hit(
            title=f"{name} is the GUI build of OpenCV"
            + (": `import cv2` fails on heroku-24 (no libGL.so.1)" if imported else f"; {headless} would do"),
            evidence=tuple(evidence),
            evidence_class=_evidence_class(report),
            location=Location(REQUIREMENTS_TXT, line) if line else None,
            fix=Fix(summary=f"require {headless}=={package.version} instead", edits=edits),
            change=SlugChange(requirement_edits=edits) if edits else None,
        )


@rule(
    "DEP315",
    "psycopg2-from-source",
    Severity.INFO,
    summary="psycopg2 is installed from its source distribution: every build compiles it against libpq.",
    why="Compiling needs the build image's compiler and libpq headers and adds to each build's time; "
    "psycopg2-binary (or psycopg[binary], psycopg 3) installs a wheel with libpq inside.",
    fix="Require psycopg2-binary (same version), or move to psycopg[binary].",
    source="heroku-facts 3.4 (what pip installs), 3.10 (build steps)",
)
def psycopg2_from_source(inputs: RuleInputs) -> Iterator[Hit]:
    report = inputs.report
    psycopg2 = _packages(report).get("psycopg2")
    if psycopg2 is None or not psycopg2.top_level or not psycopg2.from_sdist:
        return
    edits, line = _swap_edits(inputs, "psycopg2", "psycopg2-binary")
    yield Hit(
        title=f"psycopg2 {psycopg2.version} is built from source on every build: psycopg2-binary installs "
        "a wheel",
        evidence=(f"psycopg2 {psycopg2.version}: only a source distribution for the dyno",),
        evidence_class=_evidence_class(report),
        location=Location(REQUIREMENTS_TXT, line) if line else None,
        fix=Fix(summary=f"require psycopg2-binary=={psycopg2.version} instead", edits=edits),
        change=SlugChange(requirement_edits=edits) if edits else None,
    )

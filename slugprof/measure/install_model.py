"""The files an installer writes for a wheel on the dyno, predicted from its member list, and their sizes.

From the member list, the installed files are laid out as pip installs them on the dyno
(`.data/purelib|platlib` into site-packages, `.data/scripts` into `bin/`, `.data/headers|data` under
the prefix; RECORD rewritten; INSTALLER, REQUESTED and the entry points' scripts added), with one
`.pyc` per module in site-packages (see `bytecode`). The compressed size is the package's predicted
share of `gzip -6` of the slug's tar stream, per file, from the member's own deflated size
(`stream_model`).
"""

from __future__ import annotations

import configparser
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from slugprof.measure.bytecode import HEROKU_PYTHON_HOME, BytecodeTable, pyc_bytes, pyc_path, table_for
from slugprof.measure.compress import member_stratum
from slugprof.measure.stream_model import StreamModel, long_name
from slugprof.measure.wheelzip import WheelListing, WheelMember
from slugprof.model import ResolvedPackage, Target

# What each installer writes into .dist-info besides the wheel's files (INSTALLER's content; REQUESTED
# is empty, written for top-level requirements). Measured: pip 23.2 "pip\n", uv 0.13 "uv".
INSTALLER_CONTENT: Final = {"pip": b"pip\n", "pipenv": b"pip\n", "uv": b"uv", "poetry": b"Poetry 2.4.1\n"}
_HASH_ROW: Final = len(",sha256=") + 43 + len(",")  # a RECORD row's hash column around the path
# pip writes RECORD with the csv module's default line ending, "\r\n" (checked in pip 23.2 and 26.3),
# where wheel builders write "\n": one byte more a row. uv and the installer library keep "\n".
CRLF_MANAGERS: Final = frozenset({"pip", "pipenv"})
NO_PYC_ROWS: Final = frozenset({"uv"})  # uv 0.13 compiles bytecode but lists none of it in RECORD
_PIP_SCRIPT: Final = (
    "#!{python}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom {module} import {name}\n"
    "if __name__ == '__main__':\n"
    "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
    "    sys.exit({call}())\n"
)
_UV_SCRIPT: Final = (
    "#!{python}\n# -*- coding: utf-8 -*-\nimport sys\nfrom {module} import {name}\n"
    'if __name__ == "__main__":\n'
    '    if sys.argv[0].endswith("-script.pyw"):\n        sys.argv[0] = sys.argv[0][:-11]\n'
    '    elif sys.argv[0].endswith(".exe"):\n        sys.argv[0] = sys.argv[0][:-4]\n'
    "    sys.exit({call}())\n"
)


@dataclass
class Totals:
    """What the installed files of one package add up to."""

    installed: int = 0
    pyc: int = 0
    compressed: float = 0.0
    files: int = 0

    def add(self, name: str, size: int, compressed: float, *, bytecode: bool = False) -> None:
        self.installed += size
        self.pyc += size if bytecode else 0
        self.compressed += compressed
        self.files += 1


@dataclass(frozen=True)
class Layout:
    """Where the buildpack's Python puts things, relative to the build folder."""

    site: str  # site-packages, relative to the build dir
    bin: str
    prefix: str
    python: str  # the interpreter's path on the dyno, for script shebangs
    table: BytecodeTable
    python_minor: str

    @classmethod
    def of(cls, target: Target) -> Layout:
        prefix = HEROKU_PYTHON_HOME.lstrip("/").removeprefix("app/")
        return cls(
            site=f"{prefix}/lib/python{target.python_minor}/site-packages",
            bin=f"{prefix}/bin",
            prefix=prefix,
            python=f"{HEROKU_PYTHON_HOME}/bin/python",
            table=table_for(target.python_minor),
            python_minor=target.python_minor,
        )

    def shared_folders(self) -> set[str]:
        """Folders of the Python install itself: not attributed to any package."""
        folders = {self.prefix, f"{self.prefix}/include", f"{self.prefix}/share"}
        for path in (self.site, self.bin):
            parts = path.split("/")
            folders.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
        return folders


def dist_info_folder(members: Sequence[WheelMember]) -> str | None:
    for member in members:
        folder, _, name = member.name.partition("/")
        if folder.endswith(".dist-info") and name == "WHEEL":
            return folder
    return None


def entry_point_scripts(entry_points: str | None) -> list[tuple[str, str]]:
    """(script name, module:attr) of console and GUI entry points."""
    if not entry_points:
        return []
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep the scripts' case
    try:
        parser.read_string(entry_points)
    except configparser.Error:
        return []
    found: list[tuple[str, str]] = []
    for section in ("console_scripts", "gui_scripts"):
        if parser.has_section(section):
            found.extend(
                (name.strip(), value.split("[", 1)[0].strip()) for name, value in parser.items(section)
            )
    return found


def script_text(reference: str, python: str, manager: str) -> str:
    module, _, attribute = reference.partition(":")
    attribute = attribute.strip() or "main"
    template = _UV_SCRIPT if manager == "uv" else _PIP_SCRIPT
    return template.format(python=python, module=module.strip(), name=attribute.split(".")[0], call=attribute)


def predict_installed(listing: WheelListing, package: ResolvedPackage, target: Target) -> Totals:
    """The files the installer writes for this wheel on the dyno, with their bytecode, summed."""
    layout = Layout.of(target)
    totals = Totals()
    members = [m for m in listing.members if not m.name.endswith("/")]
    dist_info = dist_info_folder(members)
    data_prefix = f"{dist_info[: -len('.dist-info')]}.data/" if dist_info else None
    project = dist_info.rsplit("-", 1)[0] if dist_info else package.name
    record_name = f"{dist_info}/RECORD" if dist_info else None
    folders: set[str] = set()
    added_rows = 0
    record_bytes = 0
    newline = 2 if target.manager in CRLF_MANAGERS else 1  # bytes ending each RECORD row
    record_cost = 0.0

    def place(path: str) -> None:
        folder = path.rpartition("/")[0]
        while folder and folder not in folders:
            folders.add(folder)
            folder = folder.rpartition("/")[0]

    for member in members:
        if member.name == record_name:
            record_bytes += member.size + (newline - 1) * len(members)  # a row a member, RECORD's own too
            record_cost += StreamModel.RECORD_RATIO * StreamModel.deflated(member)
            continue
        path, in_site = installed_path(member.name, data_prefix, project, layout)
        place(path)
        ratio = listing.ratio(member_stratum(path))
        totals.add(path, member.size, ratio * StreamModel.member(path, member))
        if in_site and path.endswith(".py"):
            compiled = f"{layout.site}/{pyc_path(path[len(layout.site) + 1 :], layout.python_minor)}"
            size = pyc_bytes(member.size, StreamModel.deflated(member), len(f"/app/{path}"), layout.table)
            place(compiled)
            totals.add(compiled, size, StreamModel.pyc(compiled, member, layout.table), bytecode=True)
            if target.manager not in NO_PYC_ROWS:
                added_rows += 1
                record_bytes += len(compiled) - len(layout.site) - 1 + len(",,") + newline

    if dist_info is not None:
        record = _Record(rows=added_rows, size=record_bytes, cost=record_cost)
        _add_generated(listing, package, target, layout, dist_info, newline, totals, record, place)
        path = f"{layout.site}/{dist_info}/RECORD"
        record.cost += StreamModel.RECORD_ROW * record.rows + StreamModel.header(path)
        totals.add(path, record.size, record.cost)

    _add_folders(totals, folders - layout.shared_folders())
    return totals


@dataclass
class _Record:
    """RECORD as it grows: the rows the installer adds, its bytes and its compressed cost so far."""

    rows: int
    size: int
    cost: float


def _add_generated(
    listing: WheelListing,
    package: ResolvedPackage,
    target: Target,
    layout: Layout,
    dist_info: str,
    newline: int,
    totals: Totals,
    record: _Record,
    place: Callable[[str], None],
) -> None:
    """The files the installer writes itself: INSTALLER, REQUESTED for a top-level package, the scripts."""
    generated = [(f"{dist_info}/INSTALLER", INSTALLER_CONTENT.get(target.manager, b"pip\n"))]
    if package.top_level:
        generated.append((f"{dist_info}/REQUESTED", b""))
    for name, content in generated:
        path = f"{layout.site}/{name}"
        totals.add(path, len(content), _generated_cost(path, len(content)))
        record.rows += 1
        record.size += len(name) + _HASH_ROW + len(str(len(content))) + newline
    for script, reference in entry_point_scripts(listing.entry_points):
        path = f"{layout.bin}/{script}"
        size = len(script_text(reference, layout.python, target.manager).encode("utf-8"))
        place(path)
        totals.add(path, size, _generated_cost(path, size))
        record.rows += 1
        record.size += len(f"../../../bin/{script}") + _HASH_ROW + len(str(size)) + newline


def _add_folders(totals: Totals, folders: set[str]) -> None:
    """Each folder the wheel creates costs an archive entry of its own."""
    for folder in folders:
        totals.compressed += StreamModel.FOLDER + (StreamModel.LONG_NAME if long_name(folder + "/") else 0.0)


def _generated_cost(path: str, size: int) -> float:
    return StreamModel.header(path) + StreamModel.GENERATED_PER_BYTE * size


def installed_path(name: str, data_prefix: str | None, project: str, layout: Layout) -> tuple[str, bool]:
    """Where pip puts a wheel member, relative to the build dir; True when it lands in site-packages."""
    if data_prefix is not None and name.startswith(data_prefix):
        scheme, _, rest = name[len(data_prefix) :].partition("/")
        if scheme in ("purelib", "platlib"):
            return f"{layout.site}/{rest}", True
        if scheme == "scripts":
            return f"{layout.bin}/{rest}", False
        if scheme == "headers":
            return f"{layout.prefix}/include/python{layout.python_minor}/{project}/{rest}", False
        if scheme == "data":
            return f"{layout.prefix}/{rest}", False
    return f"{layout.site}/{name}", True

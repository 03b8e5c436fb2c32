"""A small wheel installed as the installer installs it on the dyno, and measured, not modelled.

`install_model` predicts a package's files from its wheel's member list, and `bytecode` their `.pyc`
from a fitted model, good in total but per package off by up to 50% (idna's tables compile to far less
than code of their size). For a wheel whose download is small, the whole wheel is read instead
(`listings`), and here each file the installer writes is made for real: the wheel's files where pip
puts them (`.data/purelib|platlib` into site-packages, `.data/scripts` into `bin/` with `#!python`
rewritten), INSTALLER, REQUESTED for a top-level package, the entry points' scripts, one `.pyc` per
`.py` of the wheel compiled by an interpreter of the dyno's Python version (`pyc_compiler`), and
RECORD rewritten with their rows (sorted, as pip writes it). The package's share of the slug is then
measured: its tar stream, under the slug's names, deflated at level 6 as one stream
(`compress.tar_stream_cost`), after the tar headers of another package as deflate's window holds them
in the slug.

Measured against real `pip install --target` and each distribution's exact share of `tar | gzip -6`
(benchmarks/bench_dependencies.py, 47 wheels under 1 MiB, CPython 3.11): installed bytes within 0.2%
for every package (the .pyc hold the dyno's longer file names); the compressed share within 0.1% in
total, within 2% for 42 of them and within 5% for all but click-didyoumean (4 kB, +15%: its license
and metadata match those of click, the package before it in the slug, which a package measured alone
cannot see). The tests check the same against another Python version when one is on PATH.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from slugprof.measure.bytecode import pyc_path
from slugprof.measure.compress import tar_stream_cost
from slugprof.measure.install_model import (
    CRLF_MANAGERS,
    INSTALLER_CONTENT,
    NO_PYC_ROWS,
    Layout,
    Totals,
    dist_info_folder,
    entry_point_scripts,
    installed_path,
    script_text,
)
from slugprof.measure.pyc_compiler import Compiler
from slugprof.measure.wheelzip import CorruptWheelError, ReadRange, WheelListing, WheelMember, member_bytes
from slugprof.model import ResolvedPackage, Target

_SCRIPT_SHEBANG: Final = b"#!python"  # a .data/scripts file pip points at the installed interpreter


@dataclass(frozen=True)
class InstalledFile:
    path: str  # relative to the build dir
    content: bytes
    bytecode: bool = False


@dataclass
class _Record:
    """RECORD's rows as pip writes them: (path relative to site-packages, hash, size)."""

    rows: list[tuple[str, str, str]]
    renamed: dict[str, str]  # the wheel's name -> where the installer put it, relative to site-packages


def install_files(
    listing: WheelListing, read: ReadRange, package: ResolvedPackage, target: Target, compiler: Compiler
) -> list[InstalledFile] | None:
    """Every file the installer writes for this wheel on the dyno, with its content; None for a wheel
    without a `.dist-info` (the model sizes it). Raises CorruptWheelError for an unreadable member,
    ToolFailure when the compiler cannot run."""
    layout = Layout.of(target)
    members = [m for m in listing.members if not m.name.endswith("/")]
    dist_info = dist_info_folder(members)
    if dist_info is None:
        return None
    data_prefix = f"{dist_info[: -len('.dist-info')]}.data/"
    project = dist_info.rsplit("-", 1)[0]
    record_name = f"{dist_info}/RECORD"
    record = _Record(rows=[], renamed={})
    files: list[InstalledFile] = []
    for member in members:
        if member.name == record_name:
            record.rows.extend(_wheel_record(member, read))
            continue
        path, _ = installed_path(member.name, data_prefix, project, layout)
        content = member_bytes(member, read)
        relative = _relative_to_site(path, layout)
        if path.startswith(f"{layout.bin}/") and content.startswith(_SCRIPT_SHEBANG):
            content = b"#!" + layout.python.encode() + b"\n" + content.partition(b"\n")[2]
            record.rows.append((relative, _hash(content), str(len(content))))
            record.renamed[member.name] = ""  # its row is rewritten: the wheel's is dropped
        elif relative != member.name:
            record.renamed[member.name] = relative
        files.append(InstalledFile(path, content))
    files.extend(_compiled(files, layout, compiler))
    if target.manager not in NO_PYC_ROWS:
        record.rows.extend((_relative_to_site(f.path, layout), "", "") for f in files if f.bytecode)
    for path, content in _generated(listing, package, target, layout, dist_info):
        files.append(InstalledFile(path, content))
        record.rows.append((_relative_to_site(path, layout), _hash(content), str(len(content))))
    files.append(InstalledFile(f"{layout.site}/{record_name}", _record_text(record, target)))
    return files


def measure_files(files: Sequence[InstalledFile], target: Target) -> Totals:
    """Their installed bytes and their share of the slug's `gzip -6`, measured."""
    layout = Layout.of(target)
    totals = Totals()
    for file in files:
        totals.add(file.path, len(file.content), 0.0, bytecode=file.bytecode)
    totals.compressed = float(
        tar_stream_cost(
            [f.path for f in files],
            [f.content for f in files],
            omit_folders=frozenset(layout.shared_folders()),
            window_names=_window_names(layout),
        )
    )
    return totals


def _window_names(layout: Layout) -> list[str]:
    """A package before this one in the slug, as deflate's window sees it: its folders' and files'
    tar headers under the same site-packages."""
    tag = pyc_path("a/__init__.py", layout.python_minor)
    names = ("a/__init__.py", tag, "a-1.0.dist-info/METADATA", "a-1.0.dist-info/RECORD")
    return [f"{layout.site}/{name}" for name in names]


def _compiled(files: list[InstalledFile], layout: Layout, compiler: Compiler) -> list[InstalledFile]:
    """The `.pyc` of each `.py` the wheel installs, wherever it lands (pip compiles a `.data/scripts`
    module in `bin/` too, not the scripts it writes itself); none for one that does not compile."""
    modules = [f for f in files if f.path.endswith(".py")]
    compiled = compiler.compile([(f"/app/{f.path}", f.content) for f in modules])
    return [
        InstalledFile(pyc_path(module.path, layout.python_minor), pyc, bytecode=True)
        for module, pyc in zip(modules, compiled, strict=True)
        if pyc is not None
    ]


def _generated(
    listing: WheelListing, package: ResolvedPackage, target: Target, layout: Layout, dist_info: str
) -> list[tuple[str, bytes]]:
    """INSTALLER, REQUESTED for a top-level package, and the entry points' scripts."""
    generated = [(f"{layout.site}/{dist_info}/INSTALLER", INSTALLER_CONTENT.get(target.manager, b"pip\n"))]
    if package.top_level:
        generated.append((f"{layout.site}/{dist_info}/REQUESTED", b""))
    for script, reference in entry_point_scripts(listing.entry_points):
        text = script_text(reference, layout.python, target.manager)
        generated.append((f"{layout.bin}/{script}", text.encode("utf-8")))
    return generated


def _wheel_record(member: WheelMember, read: ReadRange) -> list[tuple[str, str, str]]:
    text = member_bytes(member, read).decode("utf-8", "replace")
    try:
        rows = [[*row, "", ""] for row in csv.reader(io.StringIO(text)) if row]
        return [(row[0], row[1], row[2]) for row in rows]
    except csv.Error as error:
        raise CorruptWheelError(f"{member.name}: {error}") from None


def _record_text(record: _Record, target: Target) -> bytes:
    """RECORD as pip rewrites it: the wheel's rows under their installed names, then the installer's
    own, sorted (pip's `_normalized_outrows`), each ended as the installer ends it."""
    rows = []
    for path, digest, size in record.rows:
        renamed = record.renamed.get(path, path)
        if renamed:
            rows.append((renamed, digest, size))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n" if target.manager in CRLF_MANAGERS else "\n")
    writer.writerows(sorted(rows))
    return text.getvalue().encode("utf-8")


def _hash(content: bytes) -> str:
    """A RECORD row's hash column: the urlsafe base64 of the sha256, unpadded (PEP 376, PEP 427)."""
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()


def _relative_to_site(path: str, layout: Layout) -> str:
    """A path as RECORD names it: relative to site-packages (`../../../bin/x` for a script)."""
    site = f"{layout.site}/"
    if path.startswith(site):
        return path[len(site) :]
    depth = layout.site[len(layout.prefix) :].count("/")  # lib/python3.X/site-packages: 3
    return "../" * depth + path[len(layout.prefix) + 1 :]

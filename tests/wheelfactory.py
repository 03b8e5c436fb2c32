"""Build real wheel files for tests, offline: files, dist-info metadata and a RECORD with true hashes."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.utils import canonicalize_name


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"sha256={digest}"


def build_wheel(
    dest: Path,
    name: str,
    version: str = "1.0",
    *,
    files: Mapping[str, str | bytes] | None = None,
    requires: Sequence[str] = (),
    extras: Mapping[str, Sequence[str]] | None = None,
    console_scripts: Mapping[str, str] | None = None,
    data: Mapping[str, Mapping[str, str | bytes]] | None = None,
    tag: str = "py3-none-any",
) -> Path:
    """Write `<name>-<version>-<tag>.whl` into `dest` and return its path.

    `files`: paths inside the wheel's root (site-packages) to content; by default one package
    `<name>/__init__.py`. `requires`: Requires-Dist lines, markers allowed. `extras`: extra name to
    the requirements it adds. `console_scripts`: script name to "module:function". `data`: a wheel
    `.data` scheme ("scripts", "data", ...) to its files. `tag`: the wheel's compatibility tag, e.g.
    "cp313-cp313-manylinux_2_17_x86_64" or "cp313-cp313-win_amd64" (one tag, or compressed tags).
    """
    dest.mkdir(parents=True, exist_ok=True)
    project = canonicalize_name(name).replace("-", "_")
    dist_info = f"{project}-{version}.dist-info"
    if files is None:
        files = {f"{project}/__init__.py": f'"""The {name} package."""\n\nVERSION = "{version}"\n'}

    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    metadata += [f"Requires-Dist: {requirement}" for requirement in requires]
    for extra, extra_requires in (extras or {}).items():
        metadata.append(f"Provides-Extra: {extra}")
        for requirement in extra_requires:
            requirement_part, _, marker = requirement.partition(";")
            condition = f'({marker.strip()}) and extra == "{extra}"' if marker else f'extra == "{extra}"'
            metadata.append(f"Requires-Dist: {requirement_part.strip()}; {condition}")

    members: dict[str, bytes] = {}
    for path, content in files.items():
        members[path] = content.encode("utf-8") if isinstance(content, str) else content
    for scheme, scheme_files in (data or {}).items():
        for path, content in scheme_files.items():
            encoded = content.encode("utf-8") if isinstance(content, str) else content
            members[f"{project}-{version}.data/{scheme}/{path}"] = encoded
    members[f"{dist_info}/METADATA"] = ("\n".join(metadata) + "\n\n").encode("utf-8")
    pure = tag.endswith("-none-any")
    tag_lines = "".join(
        f"Tag: {python}-{abi}-{platform}\n"
        for python in tag.split("-")[0].split(".")
        for abi in tag.split("-")[1].split(".")
        for platform in tag.split("-")[2].split(".")
    )
    members[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: slugprof-tests\nRoot-Is-Purelib: {str(pure).lower()}\n{tag_lines}"
    ).encode("ascii")
    if console_scripts:
        lines = ["[console_scripts]"] + [f"{script} = {target}" for script, target in console_scripts.items()]
        members[f"{dist_info}/entry_points.txt"] = ("\n".join(lines) + "\n").encode("utf-8")

    record_rows = [f"{path},{_record_hash(content)},{len(content)}" for path, content in members.items()]
    record_rows.append(f"{dist_info}/RECORD,,")
    members[f"{dist_info}/RECORD"] = ("\n".join(record_rows) + "\n").encode("utf-8")

    wheel_path = dest / f"{project}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, content in members.items():
            archive.writestr(path, content)
    return wheel_path

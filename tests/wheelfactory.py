"""Build real wheels and sdists for tests, offline: files, dist-info metadata, a RECORD with true hashes.

- `build_wheel(dest, name, ...)`: a wheel, from the files it holds.
- `build_sdist(dest, name, files=...)`: an sdist with an in-tree build backend that needs nothing from
  an index, so uv reads its metadata and pip builds its wheel offline.
- `write_sdist(dest, root, files)`: any sdist, from the files under its top folder.
- `stdlib_modules(package, source)`: real Python source to fill them with.
- `translations(package, languages, messages)`: gettext catalogues (.po and .mo), one per language.
"""

from __future__ import annotations

import base64
import hashlib
import io
import struct
import sysconfig
import tarfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.utils import canonicalize_name

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def stdlib_modules(package: str, source: str) -> dict[str, str]:
    """Real Python source: the `.py` files of the standard library's package `source`, under `package/`."""
    folder = STDLIB / source
    files: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(folder)
        if "test" not in relative.parts and "tests" not in relative.parts:
            files[f"{package}/{relative.as_posix()}"] = path.read_text(encoding="utf-8")
    return files


LANGUAGES = [
    "af",
    "ar",
    "ast",
    "az",
    "be",
    "bg",
    "bn",
    "br",
    "bs",
    "ca",
    "ckb",
    "cs",
    "cy",
    "da",
    "de",
    "dsb",
    "el",
    "en_AU",
    "en_GB",
    "eo",
    "es",
    "es_AR",
    "es_CO",
    "es_MX",
    "es_VE",
    "et",
    "eu",
    "fa",
    "fi",
    "fr",
    "fy",
    "ga",
    "gd",
    "gl",
    "he",
    "hi",
    "hr",
    "hsb",
    "hu",
    "hy",
    "ia",
    "id",
    "ig",
    "io",
    "is",
    "it",
    "ja",
    "ka",
    "kab",
    "kk",
    "km",
    "kn",
    "ko",
    "ky",
    "lb",
    "lt",
    "lv",
    "mk",
    "ml",
    "mn",
    "mr",
    "ms",
    "my",
    "nb",
    "ne",
    "nl",
    "nn",
    "os",
    "pa",
    "pl",
    "pt",
    "pt_BR",
    "ro",
    "ru",
    "sk",
    "sl",
    "sq",
    "sr",
    "sr_Latn",
    "sv",
    "sw",
    "ta",
    "te",
    "tg",
    "th",
    "tk",
    "tr",
    "tt",
    "udm",
    "ug",
    "uk",
    "ur",
    "uz",
    "vi",
    "zh_Hans",
    "zh_Hant",
]


def translations(package: str, languages: Sequence[str], messages: Sequence[str]) -> dict[str, bytes]:
    """A gettext catalogue per language, as Django ships them: `<package>/locale/<lang>/LC_MESSAGES/`
    `django.po` and the `django.mo` compiled from it (GNU .mo format). Every language translates the
    same `messages`; a language's translation of a word is the same throughout (a made-up lexicon)."""
    files: dict[str, bytes] = {}
    for language in languages:
        pairs = [(message, _translated(message, language)) for message in messages]
        folder = f"{package}/locale/{language}/LC_MESSAGES"
        files[f"{folder}/django.po"] = _po(package, language, pairs)
        files[f"{folder}/django.mo"] = _mo(pairs)
    return files


def _translated(message: str, language: str) -> str:
    words = []
    for word in message.split():
        digest = hashlib.blake2b(f"{language}\0{word.lower()}".encode(), digest_size=6).digest()
        syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "ba", "do", "fu", "gi", "ha"]
        words.append("".join(syllables[b % len(syllables)] for b in digest[: 1 + len(word) // 3]))
    return " ".join(words)


def _po(package: str, language: str, pairs: Sequence[tuple[str, str]]) -> bytes:
    lines = [
        f"# {package} translations for {language}.",
        'msgid ""',
        'msgstr ""',
        f'"Project-Id-Version: {package}\\n"',
        f'"Language: {language}\\n"',
        '"Content-Type: text/plain; charset=UTF-8\\n"',
        "",
    ]
    for number, (message, translation) in enumerate(pairs):
        escaped = message.replace("\\", "\\\\").replace('"', '\\"')
        lines += [f"#: {package}/module_{number % 17}.py:{number * 7 + 3}", f'msgid "{escaped}"']
        lines += [f'msgstr "{translation}"', ""]
    return "\n".join(lines).encode("utf-8")


def _mo(pairs: Sequence[tuple[str, str]]) -> bytes:
    """The GNU gettext binary catalogue of `pairs` (sorted by msgid, as msgfmt writes it)."""
    entries = sorted((m.encode("utf-8"), t.encode("utf-8")) for m, t in pairs)
    count = len(entries)
    originals_at = 28
    translations_at = originals_at + 8 * count
    strings_at = translations_at + 8 * count
    tables = [b"", b""]
    blob = b""
    for column in (0, 1):
        for entry in entries:
            text = entry[column]
            tables[column] += struct.pack("<II", len(text), strings_at + len(blob))
            blob += text + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, count, originals_at, translations_at, 0, strings_at)
    return header + tables[0] + tables[1] + blob


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


# The build backend `build_sdist` puts in each sdist: a py3-none-any wheel of the module's folder and
# its dist-info. MODULE, NAME and VERSION are written in front of it.
_BACKEND = """
import base64, hashlib, os, zipfile

DIST_INFO = f"{MODULE}-{VERSION}.dist-info"


def _hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    members = {}
    for root, _, files in os.walk(MODULE):
        for file in sorted(files):
            path = os.path.join(root, file)
            with open(path, "rb") as handle:
                members[path.replace(os.sep, "/")] = handle.read()
    metadata = f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n"
    members[f"{DIST_INFO}/METADATA"] = metadata.encode()
    wheel = "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    members[f"{DIST_INFO}/WHEEL"] = wheel.encode()
    rows = [f"{path},{_hash(data)},{len(data)}" for path, data in members.items()] + [f"{DIST_INFO}/RECORD,,"]
    members[f"{DIST_INFO}/RECORD"] = ("\\n".join(rows) + "\\n").encode()
    filename = f"{MODULE}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in members.items():
            archive.writestr(path, data)
    return filename
"""


def write_sdist(dest: Path, root: str, files: Mapping[str, str]) -> Path:
    """Write `<root>.tar.gz` into `dest`, holding `files` (paths relative to the top folder `root`)."""
    dest.mkdir(parents=True, exist_ok=True)
    sdist = dest / f"{root}.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        for path, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"{root}/{path}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return sdist


def build_sdist(dest: Path, name: str, version: str = "1.0", *, files: Mapping[str, str]) -> Path:
    """Write the sdist `<module>-<version>.tar.gz` into `dest` and return its path.

    `files`: the package's files, under `<module>/` (the name with `_` for `-`); they are what its
    wheel holds, beside the dist-info. The build backend is in the sdist (build-system.requires is
    empty): building it needs no index.
    """
    module = canonicalize_name(name).replace("-", "_")
    constants = f"MODULE, NAME, VERSION = {module!r}, {name!r}, {version!r}\n"
    tree = {
        "pyproject.toml": (
            '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["_build"]\n\n'
            f'[project]\nname = "{name}"\nversion = "{version}"\n'
        ),
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        "_build/backend.py": constants + _BACKEND,
        **files,
    }
    return write_sdist(dest, f"{module}-{version}", tree)

"""The package index: PEP 503 / PEP 691 project pages, and the file of a locked package found in them."""

from __future__ import annotations

import email.parser
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from slugprof.errors import ToolFailure
from slugprof.model import ResolvedFile
from slugprof.net import Client, HttpFailure, NetError, NotFound, redact
from slugprof.resolve.context import Context
from slugprof.resolve.requires import requires_from_metadata
from slugprof.sources.locks import DEFAULT_INDEX, LockedPackage
from slugprof.sources.target import choose_filename, tag_ranks, target_marker_environment, target_tags

_SIMPLE_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
)


@dataclass(frozen=True)
class IndexFile:
    filename: str
    url: str
    sha256: str | None = None
    size: int | None = None
    core_metadata: bool = False  # the index serves `<url>.metadata` (PEP 658/714)


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str | None]] = []
        self._current: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._current = dict(attrs)
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._current is not None:
            self._current["#text"] = "".join(self._text).strip()
            self.anchors.append(self._current)
            self._current = None


def parse_simple_page(body: bytes, content_type: str, page_url: str) -> list[IndexFile]:
    """The files of a PEP 503 project page (HTML) or its PEP 691 JSON form."""
    if "json" in content_type:
        document = json.loads(body)
        files = []
        for entry in document.get("files", []):
            hashes = entry.get("hashes", {}) or {}
            size = entry.get("size")
            metadata = entry.get("core-metadata", entry.get("dist-info-metadata", False))
            files.append(
                IndexFile(
                    filename=str(entry["filename"]),
                    url=urljoin(page_url, str(entry["url"])),
                    sha256=hashes.get("sha256"),
                    size=size if isinstance(size, int) else None,
                    core_metadata=bool(metadata),
                )
            )
        return files
    parser = _AnchorParser()
    parser.feed(body.decode("utf-8", "replace"))
    files = []
    for anchor in parser.anchors:
        href = anchor.get("href")
        if not href:
            continue
        url = urljoin(page_url, href)
        parts = urlsplit(url)
        fragment = dict(part.partition("=")[::2] for part in parts.fragment.split("&") if part)
        filename = unquote(parts.path).rsplit("/", 1)[-1] or str(anchor.get("#text") or "")
        metadata = anchor.get("data-core-metadata") or anchor.get("data-dist-info-metadata")
        files.append(
            IndexFile(
                filename=filename,
                url=urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, "")),
                sha256=fragment.get("sha256"),
                core_metadata=metadata is not None and metadata != "false",
            )
        )
    return files


class IndexReader:
    """Fetches project pages, each once (lookups run in threads; a page read twice costs only time)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._pages: dict[tuple[str, str], list[IndexFile] | None] = {}

    def files(self, index: str, name: str) -> list[IndexFile] | None:
        """The files of project `name` on `index`; None when the index has no such project.
        ToolFailure when the index cannot be read."""
        key = (index, name)
        if key not in self._pages:
            page_url = f"{index.rstrip('/')}/{name}/"
            try:
                response = self.client.get(page_url, shown=index, accept=_SIMPLE_ACCEPT)
            except NotFound:
                self._pages[key] = None
                return None
            except HttpFailure as error:
                if error.status is None:
                    raise ToolFailure(str(error)) from error
                raise ToolFailure(f"{redact(index)}: HTTP {error.status} {error.reason}".rstrip()) from error
            except NetError as error:
                raise ToolFailure(str(error)) from error
            try:
                self._pages[key] = parse_simple_page(response.body, response.content_type, response.url)
            except (ValueError, KeyError, TypeError) as error:
                raise ToolFailure(
                    f"{redact(index)}: the page of {name} is not a package index page ({error})"
                ) from error
        return self._pages[key]


# A locked package's file found in the index, its dependencies from the index's metadata, a note.
Found = tuple[ResolvedFile | None, frozenset[str] | None, str | None]


def find_in_indexes(
    context: Context, indexes: IndexReader, package: LockedPackage, wants_edges: bool
) -> Found:
    """(file, its dependencies from the index's metadata when wanted, a note) for a locked package."""
    primary = package.index_url or DEFAULT_INDEX
    if context.index_url and primary.rstrip("/") == DEFAULT_INDEX:
        primary = context.index_url
    candidates = [primary]
    if context.target.manager == "pipenv":
        candidates += [url for url in context.extra_indexes if url not in candidates]
    ranks = tag_ranks(target_tags(context.target))
    wanted_names = {file.filename for file in package.files}
    wanted_hashes = set(package.hashes)
    try:
        version = Version(package.version)
    except InvalidVersion:
        return None, None, f"version {package.version!r} is not a valid version"
    for index in candidates:
        page = indexes.files(index, package.name)
        if page is None:
            continue
        matching = {
            file.filename: file
            for file in page
            if _version_of(file.filename) == version
            and (not wanted_names or file.filename in wanted_names)
            and (not wanted_hashes or file.sha256 is None or file.sha256 in wanted_hashes)
        }
        chosen_name = choose_filename(matching, ranks)
        if chosen_name is None:
            continue
        chosen = matching[chosen_name]
        file = ResolvedFile(
            filename=chosen.filename,
            url=chosen.url,
            kind="wheel" if chosen.filename.endswith(".whl") else "sdist",
            size=chosen.size,
            sha256=chosen.sha256,
        )
        requires = None
        if wants_edges and chosen.core_metadata and chosen.filename.endswith(".whl"):
            requires = frozenset(
                metadata_requires(
                    indexes.client, chosen.url, package.extras, target_marker_environment(context.target)
                )
            )
        return file, requires, None
    shown = ", ".join(redact(url) for url in candidates)
    return None, None, f"no file of {package.name} {package.version} for the dyno found in {shown}"


def _version_of(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        if filename.endswith((".tar.gz", ".zip")):
            return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


def metadata_requires(
    client: Client, url: str, extras: Sequence[str], environment: Mapping[str, str]
) -> set[str]:
    """Requires-Dist of a wheel from the index's PEP 658 metadata file, markers evaluated."""
    try:
        body = client.get(url + ".metadata", shown=url).body
    except NetError:
        return set()
    message = email.parser.BytesParser().parsebytes(body, headersonly=True)
    return requires_from_metadata(message.get_all("Requires-Dist") or [], extras, environment)

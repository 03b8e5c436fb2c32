"""The slug's tar stream, its compressed estimate, and the slug against Heroku's limits."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from slugprof.model.app import FileKind

# incomplete: a part could not be measured (dependencies offline, a resolution that failed): never "ok"
SlugStatus = Literal["ok", "warn", "over", "incomplete"]


class GroupKind(str, Enum):
    APP = "app"
    DEPENDENCY = "dependency"
    BUILDPACK = "buildpack"


@dataclass(frozen=True, order=True)
class TarGroup:
    """Who a part of the tar stream is attributed to: the app, one dependency, one buildpack part."""

    kind: GroupKind
    name: str = ""  # the package or buildpack part; "" for the app

    @classmethod
    def app(cls) -> TarGroup:
        return _APP

    @classmethod
    def dependency(cls, name: str) -> TarGroup:
        return cls(GroupKind.DEPENDENCY, name)

    @classmethod
    def buildpack(cls, name: str) -> TarGroup:
        return cls(GroupKind.BUILDPACK, name)


_APP = TarGroup(GroupKind.APP)


@dataclass(frozen=True)
class FileStat:
    """What the compressor needs of a file's `lstat`, taken once by whoever listed the file."""

    size: int
    mtime_ns: int
    ino: int
    dev: int
    mode: int  # st_mode: type and permission bits

    @classmethod
    def of(cls, status: os.stat_result) -> FileStat:
        return cls(status.st_size, status.st_mtime_ns, status.st_ino, status.st_dev, status.st_mode)


@dataclass(frozen=True)
class TarMember:
    """One entry of the slug's tar stream."""

    arcname: str  # path inside the slug, e.g. "app.py" or ".heroku/python/lib/python3.12/site-packages/x.py"
    group: TarGroup  # who the bytes are attributed to
    size: int
    path: str | None = None  # file on disk to read; None for a symlink or synthetic content
    kind: FileKind = "file"
    link_target: str | None = None
    content: bytes | None = None  # synthetic file content (e.g. .profile.d scripts)
    stat: FileStat | None = None  # the file's lstat when the lister took it (saves a second one)


@dataclass(frozen=True)
class GroupEstimate:
    group: TarGroup
    tar_bytes: int  # bytes of the tar stream that belong to the group (headers + padded data)
    compressed_bytes: int
    error_bytes: int  # half-width of a 95% interval


@dataclass(frozen=True)
class CompressionEstimate:
    method: Literal["sampled", "exact"]
    level: int
    tar_bytes: int
    compressed_bytes: int
    error_bytes: int  # half-width of a 95% interval, sampling error plus the model's bias bound
    sampled_bytes: int  # bytes actually compressed for the estimate
    cached_files: int  # files whose measurements came from the cache
    groups: tuple[GroupEstimate, ...]
    unreadable: tuple[str, ...] = ()  # files that could not be read (counted at their size)

    def group(self, group: TarGroup) -> GroupEstimate | None:
        for estimate in self.groups:
            if estimate.group == group:
                return estimate
        return None


@dataclass(frozen=True)
class SlugComponent:
    name: str  # "app", "python", "dependencies", "buildpack tools"
    bytes: int
    compressed_bytes: int
    measured: bool


@dataclass(frozen=True, kw_only=True)
class ImageLayer:
    """One layer of a Fir image as the estimate sizes it: the Python runtime, the dependencies, the app."""

    name: str  # "python", "dependencies", "app"
    bytes: int
    compressed_bytes: int  # gzip at the image tooling's level
    measured: bool  # False: sized from a setting, or from the wheel model's gzip -6 share scaled to it


@dataclass(frozen=True, kw_only=True)
class Image:
    """The OCI image a Fir build makes, estimated: its layers, each compressed as the image tooling does.

    No size limit for an image is documented (heroku-facts 6, 9.4): there is no limit to judge it by."""

    compression_level: int  # gzip's level: 1, the image tooling's default
    compressed_bytes: int
    compressed_error: int  # half-width of a 95% interval
    layers: tuple[ImageLayer, ...]
    limit_bytes: int | None = None  # none documented


@dataclass(frozen=True, kw_only=True)
class Slug:
    bytes: int = field(init=False, default=0)  # uncompressed: the components' sum; derived
    compressed_bytes: int
    compressed_error: int  # half-width of a 95% interval
    compressed_method: Literal["sampled", "exact"]
    sampled_bytes: int  # bytes of the tar stream compressed for the estimate (all of it when exact)
    limit_bytes: int
    soft_limit_bytes: int
    status: SlugStatus
    components: tuple[SlugComponent, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "bytes", sum(c.bytes for c in self.components))

"""A Fir build's OCI image, estimated from the slug model run at the image tooling's gzip level.

The image holds the Python runtime's layer, the dependencies' layer (a virtualenv: pip is only there
during the build, heroku-facts 3.11) and the app's layer (heroku-facts 9.4); the run image and the
lifecycle's small layers are the platform's. Each layer is compressed with gzip level 1 by default: the
same tar-stream model as the slug's (`slugprof.measure.compress`), at that level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from slugprof.heroku import IMAGE_GZIP_LEVEL
from slugprof.measure.slug import LEVEL_RATIO_TO_SLUG
from slugprof.model import BuildpackPart, Image, ImageLayer, Slug

_LAYERS = ("python", "dependencies", "app")


def image_parts(parts: Sequence[BuildpackPart], level: int = IMAGE_GZIP_LEVEL) -> tuple[BuildpackPart, ...]:
    """What of the classic buildpack's parts a Fir image has: the Python runtime alone (no pip, setuptools
    or Pipenv, no .profile.d scripts). A runtime measured from its archive is compressed at `level` with
    the rest of the stream; one from the gzip -6 setting has its compressed size scaled to `level`."""
    return tuple(part if part.members else _scaled(part, level) for part in parts if part.name == "python")


def _scaled(part: BuildpackPart, level: int) -> BuildpackPart:
    compressed = part.compressed_bytes
    return replace(
        part,
        compressed_bytes=round(compressed * LEVEL_RATIO_TO_SLUG[level]) if compressed is not None else None,
        source=f"{part.source}, scaled from gzip -6 to gzip -{level}",
    )


def image_of(slug: Slug, level: int = IMAGE_GZIP_LEVEL) -> Image:
    """The image's layers from the model's components, sized at `level`, in the order they stack."""
    components = {component.name: component for component in slug.components}
    layers = tuple(
        ImageLayer(
            name=name,
            bytes=components[name].bytes,
            compressed_bytes=components[name].compressed_bytes,
            measured=components[name].measured,
        )
        for name in _LAYERS
        if name in components
    )
    return Image(
        compression_level=level,
        compressed_bytes=slug.compressed_bytes,
        compressed_error=slug.compressed_error,
        layers=layers,
    )

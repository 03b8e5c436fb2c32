"""The one evaluator of environment markers (PEP 508), for every file that carries them.

Requirements files, lock files, pyproject dependencies, installed metadata and the resolver's metadata
all ask the same question: does this requirement apply on the dyno? One policy answers it everywhere:
- no marker: it applies;
- a marker that holds for the target's environment (with "extra" set to "" or any extra asked for): it
  applies, and one that holds for none of them does not;
- a marker that cannot be decided for the target (a comparison packaging cannot make, such as
  `platform_release ~= "abc"`, or a variable the environment lacks): it applies, as an installer that
  cannot rule a requirement out installs it, and the decision carries a note naming the requirement,
  the marker and why, for the report;
- a marker that is not valid PEP 508 text: a UsageError naming where it was read (the file must be
  fixed; pip and uv refuse it too).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.version import InvalidVersion

from slugprof.errors import UsageError


@dataclass(frozen=True)
class MarkerDecision:
    applies: bool
    note: str | None = None  # set when the marker could not be decided for the target


APPLIES = MarkerDecision(True)


def decide(
    marker: Marker | str | None,
    environment: Mapping[str, str],
    *,
    where: str,
    extras: Iterable[str] = (),
) -> MarkerDecision:
    """Whether a requirement with this marker applies in `environment`; `where` names it in messages
    ("requirements.txt:3 flask", "package pandas")."""
    if marker is None or marker == "":
        return APPLIES
    if isinstance(marker, str):
        marker = parse_marker(marker, where=where)
    try:
        applies = any(marker.evaluate({**environment, "extra": extra}) for extra in ("", *extras))
    except (UndefinedComparison, UndefinedEnvironmentName, InvalidVersion) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        return MarkerDecision(
            True,
            f"{where}: the marker {str(marker)!r} could not be decided for the dyno ({reason}); included",
        )
    return MarkerDecision(applies)


def parse_marker(text: str, *, where: str) -> Marker:
    try:
        return Marker(text)
    except InvalidMarker as error:
        first = str(error).splitlines()[0] if str(error) else "invalid"
        raise UsageError(f"{where}: invalid marker {text!r} ({first})") from error

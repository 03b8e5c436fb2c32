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
    environments = [{**environment, "extra": extra} for extra in ("", *extras)]
    try:
        return MarkerDecision(any(marker.evaluate(each) for each in environments))
    except _UNDECIDABLE:
        pass
    # packaging evaluates every comparison before combining them, so one it cannot make spoils the
    # whole marker; decided a comparison at a time, `python_version < "3.8" and platform_release ~=
    # "abc"` is false on a 3.12 dyno whatever the second half says.
    outcomes = [_decided(getattr(marker, "_markers", None), each) for each in environments]
    if True in outcomes:
        return APPLIES
    reasons = [outcome for outcome in outcomes if isinstance(outcome, str)]
    if not reasons:
        return MarkerDecision(False)
    return MarkerDecision(
        True,
        f"{where}: the marker {str(marker)!r} could not be decided for the dyno ({reasons[0]}); included",
    )


_UNDECIDABLE = (UndefinedComparison, UndefinedEnvironmentName, InvalidVersion)


def _decided(node: object, environment: Mapping[str, str]) -> bool | str:
    """The marker tree's value in `environment` (three-valued: True, False, or the reason it cannot be
    decided), with `and` binding tighter than `or`, as PEP 508 says. The tree is packaging's parsed
    form: a comparison is a (variable, op, value) tuple, a group a list with "and"/"or" between."""
    if isinstance(node, tuple):
        text = " ".join(part.serialize() for part in node)
        try:
            return Marker(text).evaluate(dict(environment))
        except _UNDECIDABLE as error:
            return str(error).splitlines()[0] if str(error) else type(error).__name__
    if not isinstance(node, list):
        return "a marker of an unknown shape"
    alternatives: list[list[object]] = [[]]
    for item in node:
        if item == "or":
            alternatives.append([])
        elif item != "and":
            alternatives[-1].append(item)
    undecided: str | None = None
    for conjunction in alternatives:
        values = [_decided(item, environment) for item in conjunction]
        if False in values:
            continue
        if all(value is True for value in values):
            return True
        undecided = undecided or next(value for value in values if isinstance(value, str))
    return False if undecided is None else undecided


def parse_marker(text: str, *, where: str) -> Marker:
    try:
        return Marker(text)
    except InvalidMarker as error:
        first = str(error).splitlines()[0] if str(error) else "invalid"
        raise UsageError(f"{where}: invalid marker {text!r} ({first})") from error

"""The README documents the saved JSON reports field by field: every field the model writes, no more."""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from slugprof.model import AnalyzeReport, ProfileReport
from slugprof.model.codec import saved_field_names

README = Path(__file__).resolve().parent.parent / "README.md"


def documented(kind: str) -> dict[str, Any]:
    """The jsonc block under the README's heading for that kind, comments stripped, parsed."""
    text = README.read_text(encoding="utf-8")
    heading = f'### `"kind": "{kind}"`'
    assert heading in text, f"the README has no section {heading}"
    block = re.search(r"```jsonc\n(.*?)```", text[text.index(heading) :], re.DOTALL)
    assert block is not None, f"no jsonc block under {heading}"
    without_comments = re.sub(r"//[^\n]*", "", block.group(1))
    document: dict[str, Any] = json.loads(without_comments)
    return document


def differences(hint: Any, example: Any, where: str) -> list[str]:
    """Where the documented example and the model's type disagree on the fields there are."""
    hint = _without_none(hint)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if example is None:
            return []  # documented as absent here ("target": null): nothing to compare
        if not isinstance(example, dict):
            return [f"{where}: documented as {type(example).__name__}, the model writes an object"]
        fields = saved_field_names(hint)
        found = [f"{where}.{name}: not documented" for name in fields if name not in example]
        found += [f"{where}.{name}: documented, not in the model" for name in example if name not in fields]
        hints = typing.get_type_hints(hint)
        for name in fields:
            if name in example:
                found += differences(hints[name], example[name], f"{where}.{name}")
        return found
    if typing.get_origin(hint) is tuple and isinstance(example, list) and example:
        return differences(typing.get_args(hint)[0], example[0], f"{where}[0]")
    return []


def _without_none(hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(hint) if option is not type(None)]
        if len(options) == 1:
            return options[0]
    return hint


@pytest.mark.parametrize(("kind", "model"), [("analyze", AnalyzeReport), ("profile", ProfileReport)])
def test_the_readme_names_every_saved_field(kind: str, model: type) -> None:
    assert differences(model, documented(kind), kind) == []


def test_the_check_finds_a_field_missing_from_the_documentation() -> None:
    example = documented("analyze")
    del example["slug"]["sampled_bytes"]
    example["app"]["colour"] = "blue"
    assert differences(AnalyzeReport, example, "analyze") == [
        "analyze.app.colour: documented, not in the model",
        "analyze.slug.sampled_bytes: not documented",
    ]


def test_the_readme_lists_every_rule_with_its_severity_and_name() -> None:
    from slugprof.rules import registered

    text = README.read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([A-Z]+\d{3})` \| (\w+) \| ([a-z0-9-]+) \|", text, flags=re.MULTILINE)
    registered_rows = [(rule.id, rule.severity.value, rule.name) for rule in registered()]
    assert rows == registered_rows, "the README's rules table and `slugprof rules` differ"

"""How core functions report progress without printing: the CLI plugs a progress bar in."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def stage(self, description: str, total: int | None = None) -> None:
        """Start a new stage of work; `total` is in the units later passed to `advance`."""

    def advance(self, amount: int = 1) -> None:
        """Report `amount` more units of the current stage done."""


class NoProgress:
    """The default: report nothing."""

    def stage(self, description: str, total: int | None = None) -> None:
        return None

    def advance(self, amount: int = 1) -> None:
        return None

"""A progress display that records what it is told, for tests of what a stage reports."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RecordingProgress:
    """The stages begun, as (description, total), and the amount advanced over all of them."""

    stages: list[tuple[str, int | None]] = field(default_factory=list)
    done: int = 0

    def stage(self, description: str, total: int | None = None) -> None:
        self.stages.append((description, total))

    def advance(self, amount: int = 1) -> None:
        self.done += amount

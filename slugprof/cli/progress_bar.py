"""A rich progress bar on stderr that implements the core's Progress protocol."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

# Stages whose amounts are bytes, shown as a download is ("12.3/45.6 MB") rather than as a count.
BYTE_STAGES = ("Compressing",)


class ProgressBar:
    def __init__(self, *, enabled: bool) -> None:
        self._console = Console(stderr=True)
        self._enabled = enabled and self._console.is_terminal
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[amount]}"),
            TimeElapsedColumn(),
            console=self._console,
            transient=True,
            disable=not self._enabled,
        )
        self._task: TaskID | None = None
        self._bytes = False
        self._download = DownloadColumn(binary_units=False)

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def stage(self, description: str, total: int | None = None) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._bytes = description in BYTE_STAGES
        self._task = self._progress.add_task(description, total=total, amount="")

    def advance(self, amount: int = 1) -> None:
        if self._task is None:
            return
        self._progress.advance(self._task, amount)
        task = self._progress.tasks[-1]
        if self._bytes:
            text = self._download.render(task)
            self._progress.update(self._task, amount=str(text))
        else:
            total = f"/{int(task.total)}" if task.total else ""
            self._progress.update(self._task, amount=f"{int(task.completed)}{total}")

"""Progress and tables for the CLI: `rich` in a terminal, plain lines anywhere else.

A long command wraps its loop in `progress(...)`: in a terminal it draws a bar with counts,
rate and time left; when the output is not a terminal (CI, cron, a pipe) it prints a plain
line now and then and one at the end. Ctrl-C inside it stops cleanly: it says what was done
and exits 130 (work committed batch by batch stays). Tables go through `print_table`:
a `rich` table in a terminal, aligned text otherwise, and JSON with `as_json`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

PLAIN_EVERY = 5.0  # seconds between plain progress lines


class Interrupted(SystemExit):
    """Ctrl-C during a long command, after it said what was done (exit status 130)."""

    def __init__(self) -> None:
        super().__init__(130)


class _Rate(ProgressColumn):
    """Items per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f}/s", style="progress.data.speed")


class Tracker:
    """What a long command reports: `advance(n)` as it goes, `total` once known."""

    def __init__(self, label: str, unit: str, total: int | None, out: TextIO,
                 clock: Any = None) -> None:
        self.label, self.unit, self.total, self.out = label, unit, total, out
        self.done = 0
        self.clock = clock or (lambda: time.monotonic())
        self.started = self.clock()
        self._last_line = self.started
        self._bar: Progress | None = None
        self._task: Any = None

    def advance(self, n: int = 1) -> None:
        """Count `n` more items done."""
        self.done += n
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, total=self.total)
        elif self.clock() - self._last_line >= PLAIN_EVERY:
            self._last_line = self.clock()
            print(f"{self.label}: {self._count()} {self.unit}{self._rate()}", file=self.out,
                  flush=True)

    def set_total(self, total: int) -> None:
        """The number of items, once known."""
        self.total = total
        if self._bar is not None:
            self._bar.update(self._task, total=total)

    def _count(self) -> str:
        return f"{self.done:,}" + (f"/{self.total:,}" if self.total is not None else "")

    def _rate(self) -> str:
        elapsed = self.clock() - self.started
        return f" ({self.done / elapsed:,.0f}/s)" if elapsed > 0 and self.done else ""

    def summary(self) -> str:
        """'ingest: 5,000/5,000 rows in 3.2s'."""
        return f"{self.label}: {self._count()} {self.unit} in {self.clock() - self.started:.1f}s"


def is_terminal(out: TextIO) -> bool:
    """True when `out` is an interactive terminal (a bar is drawn), False for pipes and files."""
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())


@contextmanager
def progress(label: str, *, total: int | None = None, unit: str = "items",
             out: TextIO | None = None, kept: str = "what was done is kept") -> Iterator[Tracker]:
    """Report a long loop's progress on `out` (default stderr, so stdout stays data).

    On Ctrl-C: prints what was done and what of it stays (`kept`), then raises `Interrupted`
    (exit status 130).
    """
    out = out or sys.stderr
    tracker = Tracker(label, unit, total, out)
    try:
        if is_terminal(out):
            console = Console(file=out)
            columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                       MofNCompleteColumn(), TextColumn(unit), _Rate(),
                       TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn()]
            with Progress(*columns, console=console, transient=False) as bar:
                tracker._bar, tracker._task = bar, bar.add_task(label, total=total)
                yield tracker
        else:
            yield tracker
    except KeyboardInterrupt:
        print(f"\nStopped (Ctrl-C): {tracker.summary()} done; {kept}.", file=out, flush=True)
        raise Interrupted() from None
    if not is_terminal(out):
        print(tracker.summary(), file=out, flush=True)


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *,
                out: TextIO | None = None) -> None:
    """A table for people: `rich` in a terminal, aligned plain text otherwise."""
    out = out or sys.stdout
    cells = [[_cell(value) for value in row] for row in rows]
    if is_terminal(out):
        table = Table(title=title or None, title_justify="left")
        for name in columns:
            table.add_column(name)
        for row in cells:
            table.add_row(*row)
        Console(file=out).print(table)
        return
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(columns)]
    if title:
        print(title, file=out)
    for row in (list(columns), *cells):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip(), file=out)


def print_json(data: Any, *, out: TextIO | None = None) -> None:
    """`data` as indented JSON (dates and decimals as strings), for scripts."""
    print(json.dumps(data, indent=2, default=str, sort_keys=False), file=out or sys.stdout)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)

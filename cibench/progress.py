"""Live progress of a run: tasks done of total, steps, running pass rate, model calls, tokens,
cost, elapsed and ETA.

On a terminal it is a rich progress bar that redraws in place; otherwise (CI logs, pipes) a plain
line every `interval` seconds and at the end. The runner reports each finished session to a
`Progress`; it never prints itself. `NullProgress` is the default for library callers.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import IO, Any, Protocol

from .records import SessionRecord

log = logging.getLogger(__name__)


class Progress(Protocol):
    """What the runner tells whoever watches it."""

    def add_total(self, sessions: int, label: str) -> None: ...
    def session_done(self, record: SessionRecord, *, skipped: bool = False) -> None: ...
    def task_validated(self, ok: bool) -> None: ...
    def close(self) -> None: ...


class NullProgress:
    def add_total(self, sessions: int, label: str) -> None:
        pass

    def session_done(self, record: SessionRecord, *, skipped: bool = False) -> None:
        pass

    def task_validated(self, ok: bool) -> None:
        pass

    def close(self) -> None:
        pass


class Tally:
    """The running totals both displays show."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.total = 0
        self.done = 0
        self.skipped = 0
        self.errors = 0
        self.steps = 0
        self.passed = 0
        self.calls = 0
        self.tokens = 0
        self.cost: float | None = 0.0
        self.label = ""

    def add(self, record: SessionRecord, skipped: bool) -> None:
        self.done += 1
        self.skipped += skipped
        self.errors += record.status != "complete"
        self.steps += len(record.steps)
        self.passed += sum(1 for s in record.steps if s.score and s.score.passed)
        if not skipped:
            self.calls += record.usage.model_calls
            self.tokens += record.usage.tokens_in + record.usage.tokens_out
            if self.cost is not None:
                self.cost = None if record.usage.cost_usd is None else self.cost + record.usage.cost_usd

    def add_validated(self, ok: bool) -> None:
        self.done += 1
        self.errors += not ok

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def eta(self) -> float | None:
        ran = self.done - self.skipped
        left = self.total - self.done
        if ran <= 0 or left <= 0:
            return None
        return self.elapsed() / ran * left

    def stats(self) -> str:
        if not self.steps and not self.calls:  # validation: tasks only
            return f"{self.errors} failed" if self.errors else ""
        rate = f"{100 * self.passed / self.steps:.0f}%" if self.steps else "–"
        cost = "$?" if self.cost is None else f"${self.cost:.2f}"
        parts = [f"{self.steps} steps {rate} pass", f"{self.calls} calls",
                 f"{self.tokens:,} tok", cost]
        if self.skipped:
            parts.append(f"{self.skipped} resumed")
        if self.errors:
            parts.append(f"{self.errors} errors")
        return " · ".join(parts)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


class LineProgress:
    """Plain lines for logs: one every `interval` seconds, and one at the end."""

    def __init__(self, stream: IO[str] | None = None, interval: float = 30.0) -> None:
        self.tally = Tally()
        self.stream = stream or sys.stderr
        self.interval = interval
        self._last = time.monotonic()

    def add_total(self, sessions: int, label: str) -> None:
        self.tally.total += sessions
        self.tally.label = label

    def line(self) -> str:
        t = self.tally
        return (f"progress: {t.label} {t.done}/{t.total} · {t.stats()} · "
                f"elapsed {_clock(t.elapsed())} · eta {_clock(t.eta())}")

    def session_done(self, record: SessionRecord, *, skipped: bool = False) -> None:
        self.tally.add(record, skipped)
        self._maybe_print()

    def task_validated(self, ok: bool) -> None:
        self.tally.add_validated(ok)
        self._maybe_print()

    def _maybe_print(self) -> None:
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        if self.tally.total:
            print(self.line(), file=self.stream, flush=True)


_CONSOLE = None


def console():  # type: ignore[no-untyped-def]
    """The one rich Console on stderr that the progress bar and log lines share."""
    global _CONSOLE
    if _CONSOLE is None:
        from rich.console import Console

        _CONSOLE = Console(file=sys.stderr)
    return _CONSOLE


class RichProgress:
    """A progress bar with a line of running totals under it, redrawn in place on a terminal
    (log lines print above it)."""

    def __init__(self) -> None:
        from rich.console import Group
        from rich.live import Live
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.tally = Tally()
        self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(bar_width=24),
                            MofNCompleteColumn(), TextColumn("elapsed"), TimeElapsedColumn(),
                            TextColumn("eta"), TimeRemainingColumn(), console=console())
        self.task: Any = None
        self.live = Live(Group(self.bar, self), console=console(), refresh_per_second=4,
                         transient=False)
        self.live.start()

    def __rich__(self) -> str:
        return f"  [dim]{self.tally.stats()}[/dim]" if self.tally.done else ""

    def add_total(self, sessions: int, label: str) -> None:
        self.tally.total += sessions
        if self.task is None:
            self.task = self.bar.add_task(label, total=self.tally.total)
        self.bar.update(self.task, total=self.tally.total, description=label)

    def session_done(self, record: SessionRecord, *, skipped: bool = False) -> None:
        self.tally.add(record, skipped)
        self.bar.update(self.task, completed=self.tally.done)

    def task_validated(self, ok: bool) -> None:
        self.tally.add_validated(ok)
        self.bar.update(self.task, completed=self.tally.done)

    def close(self) -> None:
        self.live.stop()


def make_progress(enabled: bool = True, stream: IO[str] | None = None) -> Progress:
    """Rich on a terminal, plain lines elsewhere, nothing when disabled (-q)."""
    if not enabled:
        return NullProgress()
    stream = stream or sys.stderr
    if stream is sys.stderr and stream.isatty():
        return RichProgress()
    return LineProgress(stream)

"""What `feeds import` shows while it checks feeds: a bar on a terminal, lines otherwise.

rich draws the bar (on stderr, so stdout stays a clean report for scripts);
without a terminal (cron, CI, a pipe) every entry is one plain line instead of
a bar's control characters in a log file.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from bot.ops.feed_transfer import ImportOutcome


class ImportProgress:
    """A progress bar on a terminal (rich, on stderr); one plain line per entry otherwise.

    Problems are always printed as lines naming the URL and the reason, so they
    stay on screen (and in a log file) after the bar is gone.
    """

    def __init__(self, total: int, tty: bool) -> None:
        self.total = total
        self.done = 0
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        if tty:
            self._bar = Progress(
                TextColumn("checking feeds"),
                BarColumn(),
                MofNCompleteColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._task = self._bar.add_task("import", total=total)

    def __enter__(self) -> ImportProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def show(self, outcome: ImportOutcome) -> None:
        self.done += 1
        entry = outcome.entry
        if outcome.status == "added":
            line = f"[{self.done}/{self.total}] added {entry.url} ({outcome.name})"
        else:
            line = (
                f"[{self.done}/{self.total}] {outcome.status}: {entry.url} "
                f"(line {entry.line}): {outcome.reason}"
            )
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task)
            if outcome.status != "added":
                self._bar.console.print(line, markup=False, highlight=False)
        else:
            print(line, flush=True)

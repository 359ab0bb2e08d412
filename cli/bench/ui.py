"""The progress bar while a scenario runs and the table when it is done (rich, on stderr and
stdout respectively, so ``--json -`` style piping of stdout stays possible)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


class Advance(Protocol):
    def __call__(self, n: int = 1) -> None: ...


class Reporter:
    """One progress bar per phase. ``quiet`` keeps tests and piped runs free of bars."""

    def __init__(self, *, quiet: bool = False) -> None:
        self.err = Console(stderr=True, quiet=quiet)

    def note(self, text: str) -> None:
        self.err.print(f"[dim]{text}[/dim]")

    @contextmanager
    def phase(self, name: str, total: int) -> Iterator[Advance]:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.err,
            transient=False,
        ) as progress:
            task = progress.add_task(name, total=total)

            def advance(n: int = 1) -> None:
                progress.advance(task, n)

            yield advance


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def print_table(title: str, rows: list[tuple[str, Any]], console: Console | None = None) -> None:
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in rows:
        table.add_row(k, _fmt(v))
    (console or Console()).print(table)

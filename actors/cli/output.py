"""Where a command writes, and the shape every command has: ``async (engine, args, out)``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TextIO

import msgspec
from rich import box
from rich.console import Console
from rich.table import Table

from actors.operations.engine import Engine

Command = Callable[[Engine, argparse.Namespace, "Output"], Awaitable[None]]


class Output:
    """Where a command writes: JSON documents, plain lines, tables, or live progress."""

    def __init__(self, *, json: bool, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.json = json
        self.terminal = self.stream.isatty()
        self.console = Console(file=self.stream, highlight=False)

    @property
    def live(self) -> bool:
        """Progress bars (a terminal, no ``--json``) rather than JSON lines."""
        return self.terminal and not self.json

    def line(self, text: str = "") -> None:
        """One line of plain text."""
        self.stream.write(text + "\n")

    def document(self, value: Any) -> None:
        """One JSON document on one line."""
        self.stream.write(msgspec.json.encode(value).decode() + "\n")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        """A rich table on a terminal, tab-separated lines (header first) otherwise."""
        cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
        if self.terminal:
            table = Table(box=box.SIMPLE_HEAD, pad_edge=False, highlight=False)
            for position, header in enumerate(headers):
                longest = max((len(row[position]) for row in cells), default=0)
                # ids (the first column) are what people copy: never cut them
                table.add_column(header, no_wrap=position == 0, overflow="fold",
                                 min_width=longest if position == 0 else None)
            for row in cells:
                table.add_row(*row)
            self.console.print(table, markup=False)
        else:
            for row in [list(headers), *cells]:
                self.line("\t".join(cell.replace("\t", " ") for cell in row))

    def fields(self, pairs: Sequence[tuple[str, object]]) -> None:
        """``name  value`` lines, aligned."""
        width = max((len(name) for name, _ in pairs), default=0)
        for name, value in pairs:
            self.line(f"{name:<{width}}  {'-' if value in (None, '') else value}")

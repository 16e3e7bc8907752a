"""Benchmark results: one JSON file per benchmark and a readable ``summary.md``."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["RESULTS", "Result", "Row", "Table", "print_result", "write_results", "write_summary"]

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    """One line of a benchmark's table: a measure, ours, the reference and their ratio.

    ``ratio`` is ours divided by the reference in the direction the measure names (time:
    above 1 is slower; throughput: below 1 is slower); ``None`` where no ratio applies.
    """

    measure: str
    ours: str
    reference: str
    ratio: float | None = None
    note: str = ""


@dataclass
class Table:
    """A wide table beside the comparison rows: a title, column headings, rows of cells."""

    title: str
    columns: list[str]
    cells: list[list[str]] = field(default_factory=list)
    note: str = ""

    def markdown(self) -> list[str]:
        """The table as Markdown lines, its title in bold above it and its note below."""
        lines = [f"**{self.title}**", "", "| " + " | ".join(self.columns) + " |"]
        lines.append("|" + "---|" * len(self.columns))
        lines += ["| " + " | ".join(row) + " |" for row in self.cells]
        return lines + (["", self.note] if self.note else [])


@dataclass
class Result:
    """What one benchmark found: tables for people, details for machines."""

    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    skipped: str = ""
    seconds: float = 0.0


def print_result(result: Result) -> None:
    """Write the result's table to standard output."""
    sys.stdout.write(f"\n== {result.name}: {result.title} ({result.seconds:.0f} s)\n")
    if result.skipped:
        sys.stdout.write(f"skipped: {result.skipped}\n")
    for row in result.rows:
        ratio = "" if row.ratio is None else f"  ratio {row.ratio:.3f}"
        note = f"  [{row.note}]" if row.note else ""
        sys.stdout.write(f"{row.measure}: ours {row.ours} | ref {row.reference}{ratio}{note}\n")
    for table in result.tables:
        sys.stdout.write("\n" + "\n".join(table.markdown()) + "\n")
    sys.stdout.flush()


def write_results(result: Result, directory: Path = RESULTS) -> Path:
    """Write ``<name>.json`` into ``directory`` and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{result.name}.json"
    path.write_text(json.dumps(asdict(result), indent=1, default=_plain) + "\n")
    return path


def write_summary(
    results: list[Result], machine: dict[str, Any], command: str, directory: Path = RESULTS
) -> Path:
    """Write ``summary.md``: the machine, the command and every benchmark's table."""
    lines = [
        "# Benchmark summary",
        "",
        f"Command: `{command}`, {datetime.now(UTC).isoformat(timespec='seconds')}",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['ram_gib']} GiB RAM, "
        f"Python {machine['python']}, BLAS {', '.join(machine['blas']) or 'unknown'}",
        "",
        "Libraries: " + ", ".join(f"{name} {v}" for name, v in machine["libraries"].items()),
    ]
    for result in results:
        lines += ["", *_table(result)]
    path = directory / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _table(result: Result) -> list[str]:
    lines = [f"## {result.name}: {result.title}", ""]
    if result.skipped:
        return [*lines, f"Skipped: {result.skipped}"]
    if result.rows:
        lines += ["| measure | ours | reference | ratio | note |", "|---|---|---|---|---|"]
    for row in result.rows:
        ratio = "" if row.ratio is None else f"{row.ratio:.3f}"
        lines.append(f"| {row.measure} | {row.ours} | {row.reference} | {ratio} | {row.note} |")
    for table in result.tables:
        lines += ["", *table.markdown()]
    return lines


def _plain(value: Any) -> Any:
    """JSON form of numpy scalars and arrays."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)

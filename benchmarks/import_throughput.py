"""Import throughput: a validated CSV import into the store against reading the file alone.

Ours is ``DatasetGroup.import_csv`` into a fresh store each run: read every cell as a
string, validate it against the schema, drop exact duplicates and write Parquet segments.
The references read the same file with ``pyarrow.csv.read_csv`` (typed, no validation, no
write) and with Python's ``csv`` module (rows counted, nothing converted). The three take
turns, run after run, so that drift in the machine hits all alike. The CSV is written to a
temporary directory, never into the repository.
"""

from __future__ import annotations

import cProfile
import csv
import io
import pstats
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow.csv as pv

from benchmarks.measure import median_seconds, time_call
from benchmarks.report import Result, Row
from benchmarks.synthetic import INTERACTIONS_SCHEMA, skewed_interactions, write_csv
from engine.store import Store

__all__ = ["NAME", "run"]

NAME = "import_throughput"
TITLE = "validated CSV import vs pyarrow.csv and the csv module (rows/s)"


def run(quick: bool) -> Result:
    """Measure rows per second at 1M rows (quick: 200k) and, in full mode, 10M rows.

    Parameters
    ----------
    quick : bool
        Smaller file, no 10M size.

    Returns
    -------
    Result
        Rows per second of each reader and ours as a share of each reference.
    """
    sizes = [200_000] if quick else [1_000_000, 10_000_000]
    result = Result(NAME, TITLE)
    with tempfile.TemporaryDirectory(prefix="recengine-bench-") as directory:
        for size in sizes:
            _measure_size(Path(directory), size, runs=5 if size <= 1_000_000 else 3, into=result)
        result.details["profile"] = _profile_import(Path(directory), sizes[0])
    return result


def _measure_size(directory: Path, size: int, runs: int, into: Result) -> None:
    """Rows per second of the three readers, taking turns run after run on one file."""
    folder = directory / f"{size}-rows"
    folder.mkdir()
    path = write_csv(skewed_interactions(size // 20, size // 50, size, seed=size), folder / "i.csv")
    readers = {
        "ours": lambda run: _import(folder / f"store-{run}", path),
        "pyarrow": lambda run: pv.read_csv(path),
        "csv module": lambda run: _count_rows(path),
    }
    seconds: dict[str, list[float]] = {name: [] for name in readers}
    for run in range(runs):
        for name, read in readers.items():
            seconds[name].append(time_call(partial(read, run))[0])
    ours, arrow, python = (median_seconds(seconds[name]) for name in readers)

    label = f"{size:,} rows"
    into.details[label] = {
        "seconds": seconds,
        "ours_s": ours,
        "pyarrow_s": arrow,
        "csv_module_s": python,
    }
    into.rows += [
        Row(f"{label}: vs pyarrow.csv", _rate(size, ours), _rate(size, arrow), arrow / ours),
        Row(f"{label}: vs csv module", _rate(size, ours), _rate(size, python), python / ours),
    ]


def _import(root: Path, path: Path) -> int:
    group = Store(root).create_dataset_group("bench")
    group.create_dataset("INTERACTIONS", INTERACTIONS_SCHEMA)
    return group.import_csv("INTERACTIONS", path).rows_imported


def _count_rows(path: Path) -> int:
    with path.open(newline="") as stream:
        return sum(1 for _ in csv.reader(stream)) - 1


def _rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f} rows/s"


def _profile_import(directory: Path, size: int) -> list[dict[str, Any]]:
    """The functions an import spends most of its own time in (cProfile, top 12)."""
    path = directory / f"{size}-rows" / "i.csv"
    profiler = cProfile.Profile()
    profiler.runcall(_import, directory / "profiled", path)
    return _top(pstats.Stats(profiler, stream=io.StringIO()))


def _top(stats: pstats.Stats, count: int = 12) -> list[dict[str, Any]]:
    entries = sorted(stats.stats.items(), key=lambda item: -item[1][2])  # type: ignore[attr-defined]
    return [
        {
            "function": f"{Path(name[0]).name}:{name[1]}({name[2]})",
            "calls": calls,
            "tottime_s": round(tottime, 3),
            "cumtime_s": round(cumtime, 3),
        }
        for name, (_, calls, tottime, cumtime, _) in entries[:count]
    ]

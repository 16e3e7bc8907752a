"""Timing, repetition and peak-memory measurement shared by the benchmarks."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

__all__ = [
    "PeakMemory",
    "median_seconds",
    "percentile",
    "time_call",
    "time_runs",
    "turn_latencies",
]

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def time_call(function: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one call of ``function`` takes, and what it returned."""
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def time_runs(function: Callable[[], Any], runs: int) -> list[float]:
    """Seconds of each of ``runs`` calls of ``function``.

    Parameters
    ----------
    function : callable
        Called with no arguments; its result is discarded.
    runs : int
        How many calls to time.

    Returns
    -------
    list of float
        One duration per call, in call order.
    """
    return [time_call(function)[0] for _ in range(runs)]


def turn_latencies(
    scorers: Mapping[str, Callable[[int], Any]],
    users: Iterable[int],
    warm_up: int = 50,
    run: int = 1,
) -> dict[str, list[float]]:
    """Seconds of each scorer for each user, the scorers taking turns every ``run`` users.

    On a shared machine the load changes over a series; taking turns puts each change on
    every scorer alike, so the ratios of their medians hold. A ``run`` of several users keeps
    a scorer's own data in the CPU caches between its calls, as in a process that serves one
    kind of request. The first ``warm_up`` users are called once by every scorer first,
    untimed (page in memory maps, fill caches).
    """
    users = [int(user) for user in users]
    for user in users[:warm_up]:
        for scorer in scorers.values():
            scorer(user)
    timings: dict[str, list[float]] = {label: [] for label in scorers}
    for start in range(0, len(users), run):
        for label, scorer in scorers.items():
            for user in users[start : start + run]:
                timings[label].append(time_call(partial(scorer, user))[0])
    return timings


def median_seconds(durations: list[float]) -> float:
    """The median of ``durations``."""
    return float(statistics.median(durations))


def percentile(durations: list[float], share: float) -> float:
    """The ``share`` quantile (0-1) of ``durations``, by linear interpolation."""
    ordered = sorted(durations)
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class PeakMemory:
    """Peak resident memory of this process during a ``with`` block, in MiB.

    Linux lets a process reset its high-water mark (``VmHWM``) by writing 5 to
    ``/proc/self/clear_refs``; where that fails, the figure is the process's peak so far
    (``ru_maxrss``), which can only overstate a step.

    Examples
    --------
    >>> with PeakMemory() as peak:
    ...     data = bytearray(10**8)
    >>> peak.mib > 90
    True
    """

    def __init__(self) -> None:
        self.mib = 0.0
        self.exact = True

    def __enter__(self) -> PeakMemory:
        try:
            _CLEAR_REFS.write_text("5")
        except OSError:
            self.exact = False
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.mib = _high_water_mib() if self.exact else _maxrss_mib()


def _high_water_mib() -> float:
    for line in _STATUS.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return _maxrss_mib()


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

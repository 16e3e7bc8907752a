"""Which events a solution trains on in time: an optional training window.

Fresh behaviour often says more than old, so a solution can train on a window of time only.
Three settings of :class:`engine.training.SolutionConfig` choose it:

``training_window_start``
    Keep events at or after this time.
``training_window_end``
    Keep events before this time (the end is excluded).
``training_window_days``
    Keep the events of the last this many days: before ``training_window_end`` when it is
    given, otherwise up to and including the newest interaction of the dataset (of any event
    type), so that "the last 30 days" means the same whichever event type is chosen.

``training_window_start`` and ``training_window_days`` exclude each other. Times are epoch
seconds; an ISO 8601 date or date-time (UTC when it names no zone) or a ``datetime`` is
accepted as well and stored as epoch seconds. The window applies to every recipe alike, and
before the offline evaluation, which therefore measures the model on the window it trains on.
Weighing events by age inside the window is the recipes' ``recency_half_life_days``
(see :mod:`recipes.recency`).

Limitation: the window restricts training only; a campaign still folds in the events put
after its version was trained, whatever their time (see :mod:`engine.live_events`).
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import InvalidInputError

__all__ = ["TrainingWindow", "epoch_seconds"]

SECONDS_PER_DAY = 86400


def epoch_seconds(value: Any, name: str) -> int | None:
    """``value`` as whole epoch seconds; ``None`` stays ``None``.

    Raises
    ------
    InvalidInputError
        A value that is neither a number, an ISO 8601 text nor a ``datetime``.

    Examples
    --------
    >>> epoch_seconds("2026-03-01", "training_window_start")
    1772323200
    """
    if value is None:
        return None
    if isinstance(value, str):
        value = _parse_text(value, name)
    if isinstance(value, datetime.datetime):
        zoned = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
        return math.floor(zoned.timestamp())
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(
            f"{name} must be epoch seconds or an ISO 8601 date such as '2026-03-01', got {value!r}"
        )
    return math.floor(value)


def _parse_text(text: str, name: str) -> int | float | datetime.datetime:
    stripped = text.strip()
    try:
        return int(stripped)
    except ValueError:
        pass
    try:
        return datetime.datetime.fromisoformat(stripped)
    except ValueError:
        raise InvalidInputError(
            f"{name} must be epoch seconds or an ISO 8601 date such as '2026-03-01', got {text!r}"
        ) from None


@dataclass(frozen=True)
class TrainingWindow:
    """A solution's window of time, as configured (all ``None``: no window)."""

    start: int | None = None
    end: int | None = None
    days: float | None = None

    @classmethod
    def checked(cls, start: Any, end: Any, days: Any) -> TrainingWindow:
        """The window with times converted to epoch seconds and the settings checked.

        Raises
        ------
        InvalidInputError
            A bad time, a non-positive ``days``, ``start`` with ``days``, or an empty window.
        """
        window = cls(
            epoch_seconds(start, "training_window_start"),
            epoch_seconds(end, "training_window_end"),
            _positive_days(days),
        )
        if window.start is not None and window.days is not None:
            raise InvalidInputError(
                "give training_window_start or training_window_days, not both: "
                "the days count back from training_window_end or the newest event"
            )
        if window.start is not None and window.end is not None and window.start >= window.end:
            raise InvalidInputError(
                f"training_window_start ({window.start}) must be before "
                f"training_window_end ({window.end})"
            )
        return window

    @property
    def is_set(self) -> bool:
        """Whether any setting restricts the events."""
        return (self.start, self.end, self.days) != (None, None, None)

    def bounds(self, newest: int) -> tuple[int | None, int | None]:
        """``(first kept second, first second after the window)``; ``None`` where open.

        ``newest`` is the newest interaction of the dataset; a last-days window without an
        end ends with it (its end is the second after it).
        """
        start, end = self.start, self.end
        if self.days is not None:
            end = end if end is not None else newest + 1
            start = math.ceil(end - self.days * SECONDS_PER_DAY)
        return start, end

    def mask(self, timestamps: np.ndarray) -> np.ndarray:
        """Which of ``timestamps`` fall in the window (all of them when no window is set)."""
        keep = np.ones(timestamps.size, bool)
        if not self.is_set or timestamps.size == 0:
            return keep
        start, end = self.bounds(int(timestamps.max()))
        if start is not None:
            keep &= timestamps >= start
        if end is not None:
            keep &= timestamps < end
        return keep


def _positive_days(days: Any) -> float | None:
    if days is None:
        return None
    try:
        converted = float(days)
    except (TypeError, ValueError):
        converted = math.nan
    if isinstance(days, bool) or not math.isfinite(converted) or converted <= 0:
        raise InvalidInputError(f"training_window_days must be a positive number, got {days!r}")
    return converted

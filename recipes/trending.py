"""Trending-Now: the items whose interactions grow fastest in the most recent windows.

It mirrors the service's ``aws-trending-now`` recipe. Time is cut into windows of
``trend_discovery_frequency`` (the service's values, 30 minutes to 1 day), the newest ending
at the newest event of the training data. Each item's events are counted in the last
``trend_windows`` windows, and its trend is the least-squares slope of those counts over
the windows: with two windows, simply the newest window's count minus the one before. An
item that gains the most interactions per window comes first; every user gets the same list.

Limitation: the trend is computed when the version is trained, from the data up to its
newest event; unlike the service, a campaign does not refresh it from later events.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from recipes.base import Hyperparameter, InteractionData, Model, Recipe

__all__ = ["TrendingModel", "TrendingNow", "window_counts"]

logger = logging.getLogger(__name__)

WINDOW_SECONDS = {
    "30 minutes": 1800,
    "1 hour": 3600,
    "2 hours": 7200,
    "3 hours": 10800,
    "1 day": 86400,
}


class TrendingModel(Model):
    """Scores every item by its growth in interactions per window.

    Parameters
    ----------
    item_trend : ndarray of shape (num_items,)
        Slope of each item's event count over the recent windows, float32.
    window_counts : ndarray of shape (num_items, windows)
        The counts the slope was fitted to, oldest window first; kept to explain the trend.

    Notes
    -----
    Equal trends tie; serving breaks ties by the lower item index.
    """

    recipe: ClassVar[str] = "trending-now"
    same_for_every_user: ClassVar[bool] = True

    def __init__(self, item_trend: np.ndarray, window_counts: np.ndarray) -> None:
        self.item_trend = np.asarray(item_trend, dtype=np.float32)
        self.window_counts = np.asarray(window_counts, dtype=np.float32)

    @property
    def num_items(self) -> int:
        """Number of items the model scores."""
        return int(self.item_trend.shape[0])

    def score_users(self, user_indices: np.ndarray) -> np.ndarray:
        """The trend row once per user: shape ``(len(user_indices), num_items)``."""
        return np.tile(self.item_trend, (len(user_indices), 1))

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        """The trend row once per history row; the histories themselves are ignored."""
        return np.tile(self.item_trend, (histories.shape[0], 1))

    def arrays(self) -> dict[str, np.ndarray]:
        """``item_trend`` and ``window_counts``."""
        return {"item_trend": self.item_trend, "window_counts": self.window_counts}

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], hyperparameters: Mapping[str, Any]
    ) -> TrendingModel:
        """Rebuild the model from :meth:`arrays`; scoring needs no hyperparameter."""
        return cls(arrays["item_trend"], arrays["window_counts"])


class TrendingNow(Recipe):
    """Items ranked by how fast their interaction count grows over the latest windows.

    Training is deterministic and ignores the seed.

    Examples
    --------
    >>> hyperparameters = TrendingNow.validate_hyperparameters(
    ...     {"trend_discovery_frequency": "1 day"}
    ... )
    >>> model = TrendingNow().fit(data, hyperparameters, seed=0)  # doctest: +SKIP
    >>> model.window_counts[7]  # doctest: +SKIP
    array([ 3., 11.], dtype=float32)
    """

    name: ClassVar[str] = "trending-now"
    description: ClassVar[str] = "Items whose interactions grow fastest in the recent windows."
    model_class: ClassVar[type[Model]] = TrendingModel
    hyperparameters: ClassVar[tuple[Hyperparameter, ...]] = (
        Hyperparameter(
            "trend_discovery_frequency",
            str,
            "2 hours",
            choices=tuple(WINDOW_SECONDS),
            description="Length of one window, as the service names it.",
        ),
        Hyperparameter(
            "trend_windows",
            int,
            2,
            2,
            100,
            description="Recent windows the growth is fitted over, the newest included.",
        ),
    )

    def fit(
        self,
        data: InteractionData,
        hyperparameters: Mapping[str, Any],
        seed: int,
        show_progress: bool = False,
    ) -> TrendingModel:
        """Count each item's events per window and fit their slope."""
        start = time.perf_counter()
        windows = hyperparameters["trend_windows"]
        seconds = WINDOW_SECONDS[hyperparameters["trend_discovery_frequency"]]
        counts = window_counts(data, seconds, windows)

        positions = np.arange(windows, dtype=np.float64) - (windows - 1) / 2
        trend = counts @ positions / float(positions @ positions)
        logger.info(
            "fitted %s on %d events, %d in the last %d windows of %s, in %.2f s",
            self.name,
            len(data),
            int(counts.sum()),
            windows,
            hyperparameters["trend_discovery_frequency"],
            time.perf_counter() - start,
        )
        return TrendingModel(trend, counts)


def window_counts(data: InteractionData, window_seconds: int, windows: int) -> np.ndarray:
    """Events per item in each of the last ``windows`` windows, oldest first.

    The newest window ends at (and includes) the newest event; an event exactly one window
    length older falls in the window before.

    Returns
    -------
    ndarray of shape (num_items, windows)
        float64 counts; all zero when there are no events.
    """
    if len(data) == 0:
        return np.zeros((data.num_items, windows))
    age = (data.timestamps.max() - data.timestamps) // window_seconds
    recent = age < windows
    column = windows - 1 - age[recent]
    cells = data.item_indices[recent].astype(np.int64) * windows + column
    counts = np.bincount(cells, minlength=data.num_items * windows)
    return counts.reshape(data.num_items, windows).astype(np.float64)

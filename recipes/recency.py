"""Recency: weigh events by their age, the same way in every recipe that uses events.

Every recipe that learns from events declares :data:`RECENCY_HYPERPARAMETER`,
``recency_half_life_days``. With a positive half-life an event weighs
``0.5 ** (age / half_life)``, where ``age`` is in days before the newest event of the data the
recipe is given; 0 (the default) turns the weighting off. What the weight multiplies depends
on the recipe:

- ``user-personalization`` and ``hybrid``: the event's contribution to the user × item
  matrix (ALS confidence, LightFM sample weight);
- ``content-based``: the item's share of the user's profile;
- ``popularity-count``: each distinct user counts for an item with the weight of their newest
  event on it, so the count becomes a decayed count of distinct users.

Restricting training to a time window is a solution-level choice (``training_window_*`` in
:class:`engine.training.SolutionConfig`), so it applies to every recipe alike.
"""

from __future__ import annotations

import numpy as np

from recipes.base import Hyperparameter

__all__ = ["RECENCY_HYPERPARAMETER", "SECONDS_PER_DAY", "recency_weights"]

SECONDS_PER_DAY = 86400.0

RECENCY_HYPERPARAMETER = Hyperparameter(
    "recency_half_life_days",
    float,
    0.0,
    0.0,
    36500.0,
    description=(
        "Halve an event's weight per this many days before the newest event; 0 turns "
        "recency weighting off."
    ),
)


def recency_weights(timestamps: np.ndarray, half_life_days: float) -> np.ndarray:
    """``0.5 ** (age / half_life)``, age in days before the newest of ``timestamps``.

    The newest event weighs 1, one ``half_life_days`` older weighs 0.5. A half-life of 0
    weighs every event 1. Empty input gives an empty array.

    Examples
    --------
    >>> recency_weights(np.array([0, 864000, 1728000]), half_life_days=10.0).tolist()
    [0.25, 0.5, 1.0]
    """
    if timestamps.size == 0:
        return np.ones(0)
    if half_life_days <= 0:
        return np.ones(timestamps.size)
    age_days = (timestamps.max() - timestamps).astype(np.float64) / SECONDS_PER_DAY
    return np.exp2(-age_days / half_life_days)

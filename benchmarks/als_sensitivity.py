"""How raw implicit ALS's NDCG@10 on one classic fold moves with its settings.

The accuracy benchmark's classic protocol puts our ALS beside a published figure; this
table shows which settings move it there: confidence (``alpha``), regularization, factors
and iterations, and two common weightings of the matrix, the rating itself and BM25 (as in
implicit's own MovieLens example). Every row is raw implicit, fitted on the fold's training
ratings and ranking, for each user, the items not rated in training; our recipe gives the
same factors for the same settings (see the accuracy tables).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

import engine  # noqa: F401  (importing recipes first is circular; see README)
from benchmarks.ranking import pad, ranking_metrics
from benchmarks.references import fit_implicit
from benchmarks.report import Table
from recipes import InteractionData
from recipes.als import UserPersonalization

__all__ = ["SETTINGS", "sensitivity_table"]

_STRONG = {"regularization": 10.0, "alpha": 0.3}

# (label, hyperparameters over our defaults, weighting of the matrix)
SETTINGS: tuple[tuple[str, Mapping[str, Any], str], ...] = (
    ("our defaults (64 factors, regularization 0.01, alpha 10, 15 iterations)", {}, "ones"),
    ("alpha 1", {"alpha": 1.0}, "ones"),
    ("regularization 10, alpha 1", {"regularization": 10.0, "alpha": 1.0}, "ones"),
    ("regularization 30, alpha 5", {"regularization": 30.0, "alpha": 5.0}, "ones"),
    ("16 factors, alpha 1", {"factors": 16, "alpha": 1.0}, "ones"),
    (
        "regularization 10, alpha 1, 5 iterations",
        {"regularization": 10.0, "alpha": 1.0, "iterations": 5},
        "ones",
    ),
    (
        "regularization 10, alpha 1, 30 iterations",
        {"regularization": 10.0, "alpha": 1.0, "iterations": 30},
        "ones",
    ),
    (
        "implicit's defaults (100 factors, regularization 0.01, alpha 1)",
        {"factors": 100, "alpha": 1.0},
        "ones",
    ),
    ("our defaults, confidence times the rating", {}, "rating"),
    ("our defaults, BM25-weighted (K1 100, B 0.8)", {}, "bm25"),
    ("regularization 10, alpha 0.3, confidence times the rating", _STRONG, "rating"),
    ("regularization 10, alpha 0.3, BM25-weighted", _STRONG, "bm25"),
)


def sensitivity_table(
    training: InteractionData, truths: sp.csr_matrix, users: np.ndarray, seed: int
) -> Table:
    """NDCG@10 of raw implicit for each of ``SETTINGS`` on one train/test fold.

    Parameters
    ----------
    training : InteractionData
        The fold's training events (EVENT_VALUE holds the rating).
    truths : csr_matrix of shape (users, items)
        The fold's test ratings.
    users : ndarray
        Users with a test rating.
    seed : int
        implicit's ``random_state``.
    """
    seen = training.matrix()
    cells = []
    for label, given, weighting in SETTINGS:
        hyperparameters = UserPersonalization.validate_hyperparameters(given)
        model = fit_implicit(_weighted(training, seen, weighting), hyperparameters, seed)
        ids, _ = model.recommend(users, seen[users], N=10, filter_already_liked_items=True)
        ndcg = ranking_metrics(pad(ids), truths[users], training.num_items)
        cells.append([label, f"{ndcg['normalized_discounted_cumulative_gain_at_10']:.4f}"])
    return Table(
        "raw implicit ALS on classic fold 1: NDCG@10 by setting", ["setting", "NDCG@10"], cells
    )


def _weighted(training: InteractionData, seen: sp.csr_matrix, weighting: str) -> sp.csr_matrix:
    if weighting == "rating":
        return training.matrix(np.nan_to_num(training.event_values, nan=1.0))
    if weighting == "bm25":
        from implicit.nearest_neighbours import bm25_weight

        return sp.csr_matrix(bm25_weight(seen, K1=100, B=0.8), dtype=np.float32)
    return seen

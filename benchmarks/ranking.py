"""Rankings and their metrics, written independently of ``engine.evaluation``.

The benchmarks score the raw libraries with these, so that a bug in the engine's metrics
cannot hide by being applied to both sides.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["TOP", "rank", "ranking_metrics"]

TOP = 25


def rank(scores: np.ndarray, excluded: sp.csr_matrix, top: int = TOP) -> np.ndarray:
    """Top ``top`` per row of ``scores``, excluded items removed, ties to the lower index.

    Returns
    -------
    ndarray of shape (rows, TOP)
        Item indices best first; ``-1`` pads a list shorter than ``TOP``.
    """
    scores = np.array(scores, dtype=np.float64)
    scores[excluded.nonzero()] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")[:, :top]
    return pad(np.where(np.take_along_axis(scores, order, 1) > -np.inf, order, -1))


def pad(ranked: np.ndarray) -> np.ndarray:
    """Rankings padded with -1 to ``TOP`` columns, as :func:`ranking_metrics` expects."""
    padded = np.full((ranked.shape[0], TOP), -1, np.int64)
    padded[:, : ranked.shape[1]] = ranked
    return padded


def ranking_metrics(ranked: np.ndarray, truths: sp.csr_matrix, num_items: int) -> dict[str, float]:
    """NDCG@10/25, precision@10, MRR@25 and coverage of rankings.

    NDCG's ideal gain counts ``min(relevant items, cutoff)`` hits, the usual normalisation.

    Parameters
    ----------
    ranked : ndarray of shape (users, 25)
        Item indices best first; ``-1`` pads a short list.
    truths : csr_matrix of shape (users, items)
        Relevant items per user; users without any are left out of the means.
    num_items : int
        Catalogue size, for coverage.

    Returns
    -------
    dict of str to float
        Keyed by the service's metric names.
    """
    keep = np.diff(truths.indptr) > 0
    ranked, truths = ranked[keep], truths[keep]
    hits = np.array([np.isin(row, truths[i].indices) for i, row in enumerate(ranked)])
    hits &= ranked >= 0
    relevant = np.diff(truths.indptr)
    first = np.where(hits.any(1), hits.argmax(1) + 1, np.inf)
    return {
        "normalized_discounted_cumulative_gain_at_10": _ndcg(hits, relevant, 10),
        "normalized_discounted_cumulative_gain_at_25": _ndcg(hits, relevant, 25),
        "precision_at_10": float(hits[:, :10].mean()),
        "mean_reciprocal_rank_at_25": float(np.mean(1.0 / first)),
        "coverage": np.unique(ranked[ranked >= 0]).size / num_items,
    }


def _ndcg(hits: np.ndarray, relevant: np.ndarray, cutoff: int) -> float:
    discounts = 1.0 / np.log2(np.arange(2, cutoff + 2))
    gains = hits[:, :cutoff] @ discounts
    ideal = np.cumsum(discounts)[np.minimum(relevant, cutoff) - 1]
    return float(np.mean(gains / ideal))

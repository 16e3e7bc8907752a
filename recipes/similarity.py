"""Item-to-item similarity: neighbour tables and cosine neighbours of item vectors.

A neighbour table holds, for every item, its most similar other items and their scores,
best first, so that serving related items is an array lookup. It is built a block of rows
at a time from any function that gives the similarities of a block of items to every item;
a row never holds its own item, holds only positive similarities, and breaks ties by the
lower item index. Empty slots hold index ``-1`` and score 0.

Models without a table but with item vectors (ALS factors, LightFM embeddings, content
vectors) find an item's neighbours at request time by :func:`cosine_neighbours`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

__all__ = ["NeighbourTable", "cosine_neighbours", "neighbour_table", "top_rows", "unit_sparse_rows"]

logger = logging.getLogger(__name__)

# Bytes of dense similarities computed at once while building a table.
BLOCK_BYTES = 64 * 2**20

SimilarityRows = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class NeighbourTable:
    """The most similar items of every item, best first.

    Attributes
    ----------
    indices : int32 array of shape (num_items, count)
        Neighbour item indices; ``-1`` in empty slots.
    scores : float32 array of shape (num_items, count)
        Their similarities, positive; 0 in empty slots.
    """

    indices: np.ndarray
    scores: np.ndarray

    def matrix(self) -> sp.csr_matrix:
        """Items × items CSR matrix of the table's similarities (row: item, column: neighbour)."""
        num_items = self.indices.shape[0]
        filled = self.indices >= 0
        rows = np.broadcast_to(np.arange(num_items)[:, np.newaxis], self.indices.shape)
        return sp.csr_matrix(
            (self.scores[filled], (rows[filled], self.indices[filled])),
            shape=(num_items, num_items),
            dtype=np.float32,
        )


def top_rows(
    scores: np.ndarray, count: int, positive_only: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The ``count`` highest scores of each row, best first, ties to the lower column.

    Parameters
    ----------
    scores : ndarray of shape (rows, columns)
        Scores; non-finite values are never chosen.
    count : int
        Slots per row.
    positive_only : bool
        Choose only positive scores (similarities); otherwise any finite score.

    Returns
    -------
    indices : int32 ndarray of shape (rows, count)
        Chosen columns; ``-1`` where a row has fewer eligible scores.
    values : float32 ndarray of shape (rows, count)
        Their scores; 0 in empty slots.

    Examples
    --------
    >>> top_rows(np.array([[0.2, 0.5, 0.2, 0.0]]), 3)[0].tolist()
    [[1, 0, 2]]
    """
    num_rows, num_columns = scores.shape
    indices = np.full((num_rows, count), -1, np.int32)
    values = np.zeros((num_rows, count), np.float32)
    kept = min(count, num_columns)
    if kept == 0 or num_rows == 0:
        return indices, values
    eligible = np.isfinite(scores) & (scores > 0) if positive_only else np.isfinite(scores)
    masked = np.where(eligible, scores, -np.inf)
    threshold = np.partition(masked, num_columns - kept, axis=1)[:, num_columns - kept, None]

    # Everything above the row's threshold, then its lowest-column ties to fill up.
    rows, columns = np.nonzero(masked > threshold)
    tie_rows, tie_columns = np.nonzero((masked == threshold) & np.isfinite(threshold))
    needed = kept - np.bincount(rows, minlength=num_rows)
    fill = _rank_within_rows(tie_rows, num_rows) < needed[tie_rows]
    rows = np.concatenate((rows, tie_rows[fill]))
    columns = np.concatenate((columns, tie_columns[fill]))

    chosen = masked[rows, columns]
    order = np.lexsort((columns, -chosen, rows))
    rows, columns, chosen = rows[order], columns[order], chosen[order]
    slots = _rank_within_rows(rows, num_rows)
    indices[rows, slots] = columns
    values[rows, slots] = chosen
    return indices, values


def _rank_within_rows(rows: np.ndarray, num_rows: int) -> np.ndarray:
    """For sorted row numbers, each entry's position among the entries of its row."""
    starts = np.searchsorted(rows, np.arange(num_rows))
    return np.arange(rows.size) - starts[rows]


def neighbour_table(
    similarity_rows: SimilarityRows, num_items: int, count: int, show_progress: bool = False
) -> NeighbourTable:
    """Build the table from ``similarity_rows``, a block of items at a time.

    Parameters
    ----------
    similarity_rows : callable
        Given an int array of item indices, returns their dense similarities to every item,
        shape ``(len(indices), num_items)``.
    num_items : int
        Catalogue size.
    count : int
        Neighbours kept per item.
    show_progress : bool
        Show a progress bar over the blocks.

    Returns
    -------
    NeighbourTable
        Never an item as its own neighbour.
    """
    indices = np.full((num_items, count), -1, np.int32)
    scores = np.zeros((num_items, count), np.float32)
    block = max(1, BLOCK_BYTES // (8 * max(num_items, 1)))
    starts = range(0, num_items, block)
    for start in tqdm(starts, desc="neighbours", disable=not show_progress, unit="block"):
        items = np.arange(start, min(num_items, start + block))
        similarities = np.array(similarity_rows(items), dtype=np.float64)
        similarities[np.arange(items.size), items] = -np.inf
        indices[items], scores[items] = top_rows(similarities, count)
    logger.debug("built a neighbour table of %d items x %d", num_items, count)
    return NeighbourTable(indices, scores)


def unit_sparse_rows(matrix: sp.spmatrix) -> sp.csr_matrix:
    """``matrix`` as float64 CSR with every nonzero row scaled to unit L2 norm."""
    rows = sp.csr_matrix(matrix, dtype=np.float64)
    norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(scale) @ rows)


def cosine_neighbours(
    vectors: np.ndarray, item_index: int, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``count`` items whose vectors have the highest positive cosine with the item's.

    Parameters
    ----------
    vectors : ndarray of shape (num_items, dimensions)
        One vector per item; a zero vector has no neighbours and is no one's neighbour.
    item_index : int
        The item whose neighbours are wanted; it is never among them.
    count : int
        At most this many neighbours.

    Returns
    -------
    indices : int64 ndarray
        Neighbours, best first, ties to the lower index; fewer than ``count`` when fewer
        items have a positive cosine.
    scores : float64 ndarray
        Their cosines.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1)
    query = vectors[item_index] / (norms[item_index] or 1.0)
    cosines = (vectors @ query) / np.where(norms > 0, norms, 1.0)
    cosines[item_index] = -np.inf

    indices, scores = top_rows(cosines[np.newaxis], count)
    filled = indices[0] >= 0
    return indices[0][filled].astype(np.int64), scores[0][filled].astype(np.float64)

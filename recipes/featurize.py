"""Metadata columns as a sparse feature matrix, one row per user or per item.

Each column becomes a block of matrix columns, in schema order:

- a categorical column is one-hot over its sorted values; a row with several values (joined
  by ``|``) weighs each ``1/sqrt(count)`` so that the block has unit L2 norm;
- numeric columns are standardised (zero mean, unit variance over the rows that have a
  value) and a missing value becomes 0, the mean, after scaling;
- a textual column is TF-IDF weighted over its most frequent ``max_text_features`` terms,
  each row L2-normalised.

With ``normalize=False`` the categorical and textual blocks keep raw weights (ones and
raw TF-IDF) instead. Numeric columns are never L2-normalised: a block of one number would
collapse to its sign.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recipes.base import FeatureColumn, Features, Hyperparameter

__all__ = ["MAX_TEXT_FEATURES", "FeatureMatrix", "feature_matrix"]

logger = logging.getLogger(__name__)

#: The hyperparameter of the recipes that featurize a textual column.
MAX_TEXT_FEATURES = Hyperparameter(
    "max_text_features",
    int,
    500,
    1,
    100000,
    description="Most frequent terms of the textual field kept for TF-IDF.",
)


@dataclass(frozen=True)
class FeatureMatrix:
    """A featurized Users or Items dataset.

    Attributes
    ----------
    matrix : csr_matrix of shape (rows, len(names))
        float32 feature values.
    names : ndarray of str
        One name per matrix column: ``COLUMN=value`` for a categorical value, ``COLUMN``
        for a numeric column, ``COLUMN:term`` for a term of a textual column.
    """

    matrix: sp.csr_matrix
    names: np.ndarray

    @property
    def num_features(self) -> int:
        """Number of matrix columns."""
        return int(self.matrix.shape[1])


def feature_matrix(
    features: Features, num_rows: int, max_text_features: int = 500, normalize: bool = True
) -> FeatureMatrix:
    """Featurize ``features`` into a sparse matrix with named columns.

    Parameters
    ----------
    features : Features
        Columns aligned to ``num_rows`` dense indices.
    num_rows : int
        Number of users or items; the matrix has one row each.
    max_text_features : int
        Most frequent terms kept per textual column.
    normalize : bool
        Give each categorical and textual block unit L2 norm per row.

    Returns
    -------
    FeatureMatrix
        The matrix and its column names; zero columns when ``features`` is empty.

    Examples
    --------
    >>> genre = FeatureColumn("GENRE", "categorical", np.array(["a|b", "b"], dtype=object))
    >>> featurized = feature_matrix(Features((genre,)), num_rows=2)
    >>> featurized.names.tolist()
    ['GENRE=a', 'GENRE=b']
    """
    blocks: list[sp.csr_matrix] = []
    names: list[str] = []
    for column in features.columns:
        block, block_names = _BUILDERS[column.kind](column, max_text_features, normalize)
        blocks.append(block)
        names.extend(block_names)

    if not blocks:
        return FeatureMatrix(sp.csr_matrix((num_rows, 0), dtype=np.float32), np.array([], str))
    matrix = sp.hstack(blocks, format="csr", dtype=np.float32)
    logger.debug("featurized %d rows into %d columns", num_rows, matrix.shape[1])
    return FeatureMatrix(matrix, np.array(names, dtype=str))


def _categorical(
    column: FeatureColumn, max_text_features: int, normalize: bool
) -> tuple[sp.csr_matrix, list[str]]:
    rows = [sorted(set(values)) for values in column.categories()]
    vocabulary = sorted({value for values in rows for value in values})
    position = {value: index for index, value in enumerate(vocabulary)}

    counts = np.array([len(values) for values in rows])
    weights = 1.0 / np.sqrt(np.maximum(counts, 1)) if normalize else np.ones(len(rows))
    row_indices = np.repeat(np.arange(len(rows)), counts)
    column_indices = [position[value] for values in rows for value in values]
    data = np.repeat(weights, counts)

    shape = (len(rows), len(vocabulary))
    block = sp.csr_matrix((data, (row_indices, column_indices)), shape=shape, dtype=np.float32)
    return block, [f"{column.name}={value}" for value in vocabulary]


def _numeric(
    column: FeatureColumn, max_text_features: int, normalize: bool
) -> tuple[sp.csr_matrix, list[str]]:
    values = np.asarray(column.values, dtype=np.float64)
    present = ~np.isnan(values)
    mean = values[present].mean() if present.any() else 0.0
    spread = values[present].std() if present.any() else 0.0

    scaled = (values - mean) / (spread if spread > 0 else 1.0)
    scaled[~present] = 0.0
    return sp.csr_matrix(scaled[:, np.newaxis], dtype=np.float32), [column.name]


def _textual(
    column: FeatureColumn, max_text_features: int, normalize: bool
) -> tuple[sp.csr_matrix, list[str]]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = ["" if value is None else str(value) for value in column.values]
    vectorizer = TfidfVectorizer(
        max_features=max_text_features, norm="l2" if normalize else None, dtype=np.float32
    )
    try:
        block = vectorizer.fit_transform(texts)
    except ValueError:
        # Raised when no row has a single term: the column contributes nothing.
        logger.debug("textual column %s has no terms", column.name)
        return sp.csr_matrix((len(texts), 0), dtype=np.float32), []
    terms = vectorizer.get_feature_names_out()
    return sp.csr_matrix(block), [f"{column.name}:{term}" for term in terms]


_BUILDERS: dict[str, Callable[[FeatureColumn, int, bool], tuple[sp.csr_matrix, list[str]]]] = {
    "categorical": _categorical,
    "numeric": _numeric,
    "textual": _textual,
}

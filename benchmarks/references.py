"""The raw libraries, called directly: what our recipes are measured against.

Each function uses the library's own API with the settings our recipe would use, so that a
difference between the two is ours.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

__all__ = ["fit_implicit", "fit_lightfm", "lightfm_scores"]


def fit_implicit(matrix: sp.csr_matrix, hyperparameters: Mapping[str, Any], seed: int) -> Any:
    """Fit raw implicit ALS on ``matrix`` with the recipe's settings and return the model.

    Parameters
    ----------
    matrix : csr_matrix of shape (users, items)
        Summed event weights; implicit multiplies them by ``alpha`` (implicit 0.7).
    hyperparameters : mapping
        ``factors``, ``regularization``, ``alpha`` and ``iterations``.
    seed : int
        implicit's ``random_state``.

    Returns
    -------
    implicit.cpu.als.AlternatingLeastSquares
        float32, fitted with all cores for implicit's threads and BLAS on one thread.
    """
    from implicit.cpu.als import AlternatingLeastSquares

    # implicit loads its own BLAS on import, so the limit must come after the import.
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=hyperparameters["factors"],
            regularization=hyperparameters["regularization"],
            alpha=hyperparameters["alpha"],
            iterations=hyperparameters["iterations"],
            dtype=np.float32,
            num_threads=0,
            random_state=seed,
        )
        model.fit(matrix, show_progress=False)
    return model


def fit_lightfm(matrix: sp.csr_matrix, hyperparameters: Mapping[str, Any], seed: int) -> Any:
    """Fit raw LightFM on the positive pairs of ``matrix``, without metadata, on one thread.

    Parameters
    ----------
    matrix : csr_matrix of shape (users, items)
        A pair with a positive value is an interaction.
    hyperparameters : mapping
        The ``hybrid`` recipe's ``loss``, ``no_components``, ``learning_rate``, ``epochs``,
        ``item_alpha``, ``user_alpha`` and ``max_sampled``.
    seed : int
        LightFM's ``random_state``.

    Returns
    -------
    lightfm.LightFM
    """
    with warnings.catch_warnings():
        # LightFM warns at import when it was built without OpenMP; one thread is used anyway.
        warnings.filterwarnings("ignore", message=".*OpenMP.*", category=UserWarning)
        from lightfm import LightFM

    positives = sp.coo_matrix(matrix > 0, dtype=np.float32)
    model = LightFM(
        no_components=hyperparameters["no_components"],
        loss=hyperparameters["loss"],
        learning_rate=hyperparameters["learning_rate"],
        item_alpha=hyperparameters["item_alpha"],
        user_alpha=hyperparameters["user_alpha"],
        max_sampled=hyperparameters["max_sampled"],
        random_state=seed,
    )
    model.fit(positives, epochs=hyperparameters["epochs"], num_threads=1)
    return model


def lightfm_scores(model: Any, users: np.ndarray, num_items: int) -> np.ndarray:
    """``model.predict`` for every item, one row per user: shape ``(len(users), num_items)``."""
    items = np.arange(num_items, dtype=np.int32)
    rows = np.repeat(np.asarray(users, np.int32), num_items)
    scores = model.predict(rows, np.tile(items, len(users)), num_threads=1)
    return np.asarray(scores).reshape(len(users), num_items)

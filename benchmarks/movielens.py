"""MovieLens 100K for the benchmarks: where it is, and imported as training receives it.

The files are never committed (their licence forbids it). They are looked for in order:
the ``RECENGINE_SHARED_DATASETS`` variable, ``../shared/datasets`` beside the checkout, and
``/work/shared/datasets``, as the tests look for them.
"""

from __future__ import annotations

import os
from pathlib import Path

from datasets.movielens import convert_movielens
from engine.store import Store
from engine.training import SolutionConfig, select_interactions, with_features
from recipes import InteractionData

__all__ = ["find_movielens", "load_movielens"]

_CANDIDATES = (
    os.environ.get("RECENGINE_SHARED_DATASETS", ""),
    str(Path(__file__).resolve().parents[2] / "shared" / "datasets"),
    "/work/shared/datasets",
)


def find_movielens() -> Path | None:
    """The MovieLens 100K directory (holding ``u.data``), or ``None`` when it is absent."""
    for candidate in filter(None, _CANDIDATES):
        if (Path(candidate) / "ml-100k" / "u.data").is_file():
            return Path(candidate) / "ml-100k"
    return None


def load_movielens(source: Path, directory: Path) -> InteractionData:
    """Every rating of ``source`` as an event, with the Users and Items columns as features.

    Converts the files into the service's CSV form, imports Interactions, Items and Users
    into a store under ``directory`` and selects the interactions as a solution with every
    event type and every metadata column would.
    """
    paths = convert_movielens(source, directory / "csv")
    group = Store(directory / "store").create_dataset_group("movielens")
    for dataset_type in ("INTERACTIONS", "ITEMS", "USERS"):
        name = dataset_type.lower()
        group.create_dataset(dataset_type, paths[f"{name}_schema"])
        group.import_csv(dataset_type, paths[name])
    cache = group.interaction_cache()
    config = SolutionConfig("popularity-count")
    return with_features(select_interactions(cache, config), group, cache, config)

"""recengine: a local recommender engine that mirrors Amazon Personalize.

The public API, in the service's nouns::

    from engine import Store, create_campaign, create_solution

    store = Store("recengine-data")
    group = store.create_dataset_group("videos")
    group.create_dataset("INTERACTIONS", "schemas/interactions.json")
    group.import_csv("INTERACTIONS", "interactions.csv")
    version = create_solution(group, "als", "user-personalization").train()
    campaign = create_campaign(group, "home", version)
    campaign.get_recommendations(user_id="u42", num_results=10)
    campaign.get_similar_items(item_id="v117", num_results=10)
    campaign.get_personalized_ranking(user_id="u42", input_list=["v3", "v117"])

``implicit`` and ``lightfm`` are imported only by the recipes that train with them, so
importing :mod:`engine` stays fast; the names below are resolved on first use, so importing
one submodule (``engine.errors``, say) does not import the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.campaign import (
        Campaign,
        Ranking,
        Recommendations,
        RecommendedItem,
        create_campaign,
        get_campaign,
        list_campaigns,
    )
    from engine.experiments import ExperimentResult, ExperimentSettings, run_experiment
    from engine.schema import Schema, parse_schema
    from engine.store import Dataset, DatasetGroup, ImportJob, Store
    from engine.training import (
        Solution,
        SolutionConfig,
        SolutionVersion,
        create_solution,
        get_solution,
        list_solutions,
    )

_EXPORTS = {
    "Campaign": "engine.campaign",
    "Dataset": "engine.store",
    "DatasetGroup": "engine.store",
    "ExperimentResult": "engine.experiments",
    "ExperimentSettings": "engine.experiments",
    "ImportJob": "engine.store",
    "Ranking": "engine.campaign",
    "Recommendations": "engine.campaign",
    "RecommendedItem": "engine.campaign",
    "Schema": "engine.schema",
    "Solution": "engine.training",
    "SolutionConfig": "engine.training",
    "SolutionVersion": "engine.training",
    "Store": "engine.store",
    "create_campaign": "engine.campaign",
    "create_solution": "engine.training",
    "get_campaign": "engine.campaign",
    "get_solution": "engine.training",
    "list_campaigns": "engine.campaign",
    "list_solutions": "engine.training",
    "parse_schema": "engine.schema",
    "run_experiment": "engine.experiments",
}

__all__ = [
    "Campaign",
    "Dataset",
    "DatasetGroup",
    "ExperimentResult",
    "ExperimentSettings",
    "ImportJob",
    "Ranking",
    "Recommendations",
    "RecommendedItem",
    "Schema",
    "Solution",
    "SolutionConfig",
    "SolutionVersion",
    "Store",
    "create_campaign",
    "create_solution",
    "get_campaign",
    "get_solution",
    "list_campaigns",
    "list_solutions",
    "parse_schema",
    "run_experiment",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

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
    from engine.batch import run_batch_inference, run_batch_segment
    from engine.campaign import (
        Campaign,
        Ranking,
        Recommendations,
        RecommendedItem,
        create_campaign,
        delete_campaign,
        get_campaign,
        list_campaigns,
        update_campaign,
    )
    from engine.events import (
        EventTracker,
        create_event_tracker,
        get_event_tracker,
        put_events,
        put_items,
        put_users,
    )
    from engine.experiments import ExperimentResult, ExperimentSettings, run_experiment
    from engine.filter_store import Filter, create_filter, delete_filter, get_filter, list_filters
    from engine.schema import Schema, parse_schema
    from engine.serving_rules import Promotion
    from engine.store import Dataset, DatasetGroup, ImportJob, Store
    from engine.training import (
        Solution,
        SolutionConfig,
        SolutionVersion,
        TrainingJob,
        create_solution,
        get_solution,
        list_solutions,
    )
    from engine.versions import (
        delete_solution_version,
        describe_solution_version,
        list_solution_versions,
        stop_solution_version_creation,
    )

_EXPORTS = {
    "Campaign": "engine.campaign",
    "Dataset": "engine.store",
    "DatasetGroup": "engine.store",
    "EventTracker": "engine.events",
    "ExperimentResult": "engine.experiments",
    "ExperimentSettings": "engine.experiments",
    "Filter": "engine.filter_store",
    "ImportJob": "engine.store",
    "Promotion": "engine.serving_rules",
    "Ranking": "engine.campaign",
    "Recommendations": "engine.campaign",
    "RecommendedItem": "engine.campaign",
    "Schema": "engine.schema",
    "Solution": "engine.training",
    "SolutionConfig": "engine.training",
    "SolutionVersion": "engine.training",
    "Store": "engine.store",
    "TrainingJob": "engine.training",
    "create_campaign": "engine.campaign",
    "create_event_tracker": "engine.events",
    "create_filter": "engine.filter_store",
    "create_solution": "engine.training",
    "delete_campaign": "engine.campaign",
    "delete_filter": "engine.filter_store",
    "delete_solution_version": "engine.versions",
    "describe_solution_version": "engine.versions",
    "get_campaign": "engine.campaign",
    "get_event_tracker": "engine.events",
    "get_filter": "engine.filter_store",
    "get_solution": "engine.training",
    "list_campaigns": "engine.campaign",
    "list_filters": "engine.filter_store",
    "list_solution_versions": "engine.versions",
    "list_solutions": "engine.training",
    "parse_schema": "engine.schema",
    "put_events": "engine.events",
    "put_items": "engine.events",
    "put_users": "engine.events",
    "run_batch_inference": "engine.batch",
    "run_batch_segment": "engine.batch",
    "run_experiment": "engine.experiments",
    "stop_solution_version_creation": "engine.versions",
    "update_campaign": "engine.campaign",
}

__all__ = [
    "Campaign",
    "Dataset",
    "DatasetGroup",
    "EventTracker",
    "ExperimentResult",
    "ExperimentSettings",
    "Filter",
    "ImportJob",
    "Promotion",
    "Ranking",
    "Recommendations",
    "RecommendedItem",
    "Schema",
    "Solution",
    "SolutionConfig",
    "SolutionVersion",
    "Store",
    "TrainingJob",
    "create_campaign",
    "create_event_tracker",
    "create_filter",
    "create_solution",
    "delete_campaign",
    "delete_filter",
    "delete_solution_version",
    "describe_solution_version",
    "get_campaign",
    "get_event_tracker",
    "get_filter",
    "get_solution",
    "list_campaigns",
    "list_filters",
    "list_solution_versions",
    "list_solutions",
    "parse_schema",
    "put_events",
    "put_items",
    "put_users",
    "run_batch_inference",
    "run_batch_segment",
    "run_experiment",
    "stop_solution_version_creation",
    "update_campaign",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

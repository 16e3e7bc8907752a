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

``implicit`` and ``lightfm`` are imported only by the recipes that train with them, so
importing :mod:`engine` stays fast.
"""

from engine.campaign import (
    Campaign,
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

__all__ = [
    "Campaign",
    "Dataset",
    "DatasetGroup",
    "ExperimentResult",
    "ExperimentSettings",
    "ImportJob",
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

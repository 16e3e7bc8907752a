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
from engine.schema import Schema, parse_schema
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

__all__ = [
    "Campaign",
    "Dataset",
    "DatasetGroup",
    "EventTracker",
    "ImportJob",
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
    "create_solution",
    "delete_solution_version",
    "describe_solution_version",
    "get_campaign",
    "get_event_tracker",
    "get_solution",
    "list_campaigns",
    "list_solution_versions",
    "list_solutions",
    "parse_schema",
    "put_events",
    "put_items",
    "put_users",
    "stop_solution_version_creation",
    "update_campaign",
]

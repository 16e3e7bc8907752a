"""The main job end to end on the bundled video-on-demand data.

Imports the three datasets, trains popularity and ALS, prints their offline metrics side by
side, deploys ALS and prints the top 10 for two users. This is what ``make demo`` runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from engine.campaign import create_campaign
from engine.evaluation import METRIC_NAMES
from engine.store import DatasetGroup, Store
from engine.training import Solution, create_solution

__all__ = ["DEMO_GROUP", "run_demo"]

logger = logging.getLogger(__name__)

DEMO_GROUP = "vod-demo"
DEMO_SOLUTIONS = {
    "popularity": ("popularity-count", {}),
    # A watch counts by the share watched, a click half as much as a full watch.
    "als": (
        "user-personalization",
        {"factors": 32, "event_weights": "click=0.5", "use_event_value": True},
    ),
}


def run_demo(
    store: Store, show_progress: bool = False, emit: Callable[[str], None] = logger.info
) -> dict[str, Any]:
    """Run the demo in ``store`` (its demo group is rebuilt) and return what it printed."""
    from datasets import vod_paths

    paths = vod_paths()
    if DEMO_GROUP in {existing.name for existing in store.list_dataset_groups()}:
        store.delete_dataset_group(DEMO_GROUP)
    group = store.create_dataset_group(DEMO_GROUP)
    for dataset_type in ("interactions", "users", "items"):
        group.create_dataset(dataset_type, paths[f"{dataset_type}_schema"])
        group.import_csv(dataset_type, paths[dataset_type], show_progress=show_progress)

    versions = {}
    for name, (recipe, hyperparameters) in DEMO_SOLUTIONS.items():
        solution: Solution = create_solution(group, name, recipe, hyperparameters=hyperparameters)
        versions[name] = solution.train(show_progress=show_progress)
    emit("")
    emit(_metrics_table({name: version.metrics for name, version in versions.items()}))

    campaign = create_campaign(group, "home", versions["als"])
    categories = _item_categories(group)
    top = {}
    for user in campaign.user_ids()[:2]:
        answer = campaign.get_recommendations(user, num_results=10)
        top[user] = [item.item_id for item in answer.items]
        emit(f"\ntop 10 for user {user} (ALS):")
        for rank, item in enumerate(answer.items, start=1):
            emit(f"  {rank:>2}. {item.item_id}  {categories.get(item.item_id, '')}")
    return {
        "metrics": {name: version.metrics for name, version in versions.items()},
        "recommendations": top,
    }


def _item_categories(group: DatasetGroup) -> dict[str, str]:
    table = group.dataset("ITEMS").read_table(["ITEM_ID", "CATEGORY", "COMPETITION"])
    rows = zip(*(table.column(name).to_pylist() for name in table.column_names), strict=True)
    return {item: f"{category} / {competition or '-'}" for item, category, competition in rows}


def _metrics_table(metrics: dict[str, dict[str, float]]) -> str:
    names = list(metrics)
    keys = list(METRIC_NAMES)
    width = max(len(key) for key in keys)
    lines = [f"{'metric':<{width}}  " + "  ".join(f"{name:>12}" for name in names)]
    for key in keys:
        values = "  ".join(f"{metrics[name][key]:>12.4f}" for name in names)
        lines.append(f"{key:<{width}}  {values}")
    return "\n".join(lines)

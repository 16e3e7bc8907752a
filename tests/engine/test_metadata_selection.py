"""Metadata selection end to end on the bundled data: columns, event type, value threshold."""

import csv

import numpy as np

from datasets import vod_paths
from engine.training import create_solution

FAST_HYBRID = {"no_components": 4, "epochs": 1}
PLANTED_ITEMS = ["CATEGORY", "COMPETITION", "PLAYERS"]


def feature_columns(names: np.ndarray) -> set[str]:
    """The dataset columns that named features come from (``COLUMN=value``, ``COLUMN:term``)."""
    return {str(name).replace(":", "=").split("=")[0] for name in names}


def test_hybrid_trains_on_the_included_columns_only_and_records_them(vod_group):
    version = create_solution(
        vod_group,
        "hybrid-planted",
        "hybrid",
        hyperparameters=FAST_HYBRID,
        included_columns={"users": ["AGE_GROUP", "COUNTRY"], "items": PLANTED_ITEMS},
    ).train()

    assert version.manifest["training_columns"] == {
        "USERS": ["AGE_GROUP", "COUNTRY"],
        "ITEMS": PLANTED_ITEMS,
    }
    model, _ = version.load_model()
    arrays = model.arrays()
    assert feature_columns(arrays["item_feature_names"]) == set(PLANTED_ITEMS)
    assert feature_columns(arrays["user_feature_names"]) == {"AGE_GROUP", "COUNTRY"}


def test_content_based_leaves_out_the_excluded_columns(vod_group):
    version = create_solution(
        vod_group,
        "content-no-noise",
        "content-based",
        excluded_columns={"ITEMS": ["NOISE_TAG", "DESCRIPTION"]},
    ).train()

    expected = ["CATEGORY", "COMPETITION", "PLAYERS", "DURATION"]
    assert version.manifest["training_columns"] == {
        "USERS": ["AGE_GROUP", "COUNTRY", "SUBSCRIPTION_MODEL"],
        "ITEMS": expected,
    }
    model, _ = version.load_model()
    assert feature_columns(model.arrays()["feature_names"]) == set(expected)


def test_an_empty_inclusion_trains_the_hybrid_on_identities_alone(vod_group):
    version = create_solution(
        vod_group,
        "hybrid-bare",
        "hybrid",
        hyperparameters=FAST_HYBRID,
        included_columns={"USERS": [], "ITEMS": []},
    ).train()

    assert version.manifest["training_columns"] == {"USERS": [], "ITEMS": []}
    model, _ = version.load_model()
    assert model.arrays()["item_feature_names"].size == 0


def test_event_type_and_threshold_choose_the_events_of_a_metadata_recipe(vod_group):
    with vod_paths()["interactions"].open() as stream:
        rows = list(csv.DictReader(stream))
    kept = sum(
        row["EVENT_TYPE"] == "watch" and np.float32(row["EVENT_VALUE"]) >= np.float32(0.6)
        for row in rows
    )
    version = create_solution(
        vod_group, "content-watched", "content-based", event_type="watch", event_value_threshold=0.6
    ).train()

    assert version.manifest["num_interactions"] == kept
    assert version.manifest["config"]["event_type"] == "watch"
    assert version.manifest["config"]["event_value_threshold"] == 0.6

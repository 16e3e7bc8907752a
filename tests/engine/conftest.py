"""Fixtures shared by the engine tests."""

import pytest

from datasets import vod_paths
from engine.store import Store
from engine.training import create_solution
from tests.engine.planted import INTERACTIONS_SCHEMA, planted_rows, write_interactions


@pytest.fixture
def planted_group(tmp_path):
    """A dataset group holding the planted interactions."""
    group = Store(tmp_path / "store").create_dataset_group("planted")
    group.create_dataset("INTERACTIONS", INTERACTIONS_SCHEMA)
    group.import_csv("INTERACTIONS", write_interactions(tmp_path / "i.csv", planted_rows()))
    return group


@pytest.fixture(scope="session")
def vod_group(tmp_path_factory):
    """The bundled video-on-demand data, imported once; tests may add solutions to it."""
    group = Store(tmp_path_factory.mktemp("vod-store")).create_dataset_group("vod")
    paths = vod_paths()
    for dataset_type in ("interactions", "users", "items"):
        group.create_dataset(dataset_type, paths[f"{dataset_type}_schema"])
        group.import_csv(dataset_type, paths[dataset_type])
    return group


@pytest.fixture
def solution(planted_group):
    """An ALS solution with 8 factors on the planted interactions, not trained yet."""
    return create_solution(
        planted_group, "als", "user-personalization", hyperparameters={"factors": 8}
    )

"""Fixtures shared by the engine tests."""

import pytest

from engine.store import Store
from tests.engine.planted import INTERACTIONS_SCHEMA, planted_rows, write_interactions


@pytest.fixture
def planted_group(tmp_path):
    """A dataset group holding the planted interactions."""
    group = Store(tmp_path / "store").create_dataset_group("planted")
    group.create_dataset("INTERACTIONS", INTERACTIONS_SCHEMA)
    group.import_csv("INTERACTIONS", write_interactions(tmp_path / "i.csv", planted_rows()))
    return group

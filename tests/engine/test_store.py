"""Tests of the store: dataset groups, datasets, the writer lock and the interaction cache."""

import os
import stat
import tempfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.store
from engine.errors import AlreadyExistsError, InUseError, InvalidInputError, NotFoundError
from engine.schema import parse_schema
from engine.store import Store
from engine.store import cache as cache_module
from engine.store.files import atomic_open, atomic_write, writer_lock

INTERACTIONS_SCHEMA = {
    "type": "record",
    "name": "Interactions",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": ["null", "float"]},
    ],
    "version": "1.0",
}
PLAIN_INTERACTIONS_SCHEMA = {
    "type": "record",
    "name": "Interactions",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
    ],
}
USERS_SCHEMA = {
    "type": "record",
    "name": "Users",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "AGE", "type": ["null", "int"]},
        {"name": "GENDER", "type": "string", "categorical": True},
        {"name": "MEMBER", "type": ["null", "boolean"]},
    ],
}
ITEMS_SCHEMA = {
    "type": "record",
    "name": "Items",
    "fields": [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "PRICE", "type": "double"},
        {"name": "DESCRIPTION", "type": ["null", "string"], "textual": True},
    ],
}


def write_csv(path: Path, text: str) -> Path:
    """Write ``text`` (a header line and rows) to ``path``."""
    path.write_text(text, encoding="utf-8")
    return path


def make_group(root: Path, name: str = "videos", **schemas: dict) -> engine.store.DatasetGroup:
    """A group in a new store at ``root``, with a dataset per keyword (type=schema)."""
    group = Store(root).create_dataset_group(name)
    for dataset_type, schema in schemas.items():
        group.create_dataset(dataset_type, schema)
    return group


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` with its bytes."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


# The public face


def test_public_names_are_sorted_and_importable():
    assert engine.store.__all__ == sorted(engine.store.__all__)
    assert engine.store.__all__ == [
        "Dataset",
        "DatasetGroup",
        "ImportJob",
        "InteractionCache",
        "Store",
    ]
    for name in engine.store.__all__:
        assert getattr(engine.store, name).__name__ == name


# Dataset groups


def test_create_open_list_and_delete_dataset_groups(tmp_path):
    store = Store(tmp_path)
    store.create_dataset_group("videos")
    store.create_dataset_group("Books_2-a")

    assert [group.name for group in store.list_dataset_groups()] == ["Books_2-a", "videos"]
    assert store.dataset_group("videos").path == tmp_path / "groups" / "videos"
    assert (tmp_path / "groups" / "videos" / "group.json").is_file()

    store.delete_dataset_group("videos")
    assert [group.name for group in store.list_dataset_groups()] == ["Books_2-a"]
    assert not (tmp_path / "groups" / "videos").exists()
    assert [path.name for path in (tmp_path / "groups").iterdir()] == ["Books_2-a"]


def test_store_root_defaults_to_recengine_home(tmp_path, monkeypatch):
    monkeypatch.setenv("RECENGINE_HOME", str(tmp_path / "home"))
    assert Store().root == tmp_path / "home"

    monkeypatch.delenv("RECENGINE_HOME")
    assert Store().root == Path("recengine-data")


def test_opening_a_store_creates_nothing(tmp_path):
    store = Store(tmp_path / "absent")
    assert store.list_dataset_groups() == []
    assert not (tmp_path / "absent").exists()


def test_missing_dataset_group_is_not_found(tmp_path):
    with pytest.raises(NotFoundError, match=r"^dataset group 'nope' does not exist$"):
        Store(tmp_path).dataset_group("nope")
    with pytest.raises(NotFoundError, match="dataset group 'nope' does not exist"):
        Store(tmp_path).delete_dataset_group("nope")


def test_existing_dataset_group_cannot_be_created_again(tmp_path):
    Store(tmp_path).create_dataset_group("videos")
    with pytest.raises(AlreadyExistsError, match="dataset group 'videos' exists already"):
        Store(tmp_path).create_dataset_group("videos")


@pytest.mark.parametrize("name", ["", "-lead", "_lead", "has space", "a/b", "..", "x" * 64, "é"])
def test_malformed_group_names_are_rejected(tmp_path, name):
    with pytest.raises(InvalidInputError, match="is not valid: use 1-63 letters"):
        Store(tmp_path).create_dataset_group(name)
    assert not (tmp_path / "groups").exists()


def test_longest_valid_group_name_is_accepted(tmp_path):
    assert Store(tmp_path).create_dataset_group("a" * 63).name == "a" * 63


# Datasets


def test_datasets_are_created_once_per_type(tmp_path):
    group = make_group(tmp_path, interactions=INTERACTIONS_SCHEMA)
    group.create_dataset("Users", USERS_SCHEMA)

    assert [dataset.dataset_type for dataset in group.datasets()] == ["INTERACTIONS", "USERS"]
    with pytest.raises(AlreadyExistsError, match="has a INTERACTIONS dataset already"):
        group.create_dataset("INTERACTIONS", PLAIN_INTERACTIONS_SCHEMA)
    with pytest.raises(NotFoundError, match="dataset group 'videos' has no ITEMS dataset"):
        group.dataset("items")


def test_create_dataset_accepts_a_schema_object_of_its_type_only(tmp_path):
    group = make_group(tmp_path)
    users = parse_schema(USERS_SCHEMA, "USERS")

    assert group.create_dataset("users", users).schema == users
    with pytest.raises(InvalidInputError, match="the schema is for USERS, not ITEMS"):
        group.create_dataset("items", users)


def test_new_dataset_is_empty_and_described(tmp_path):
    group = make_group(tmp_path, interactions=INTERACTIONS_SCHEMA)
    dataset = group.dataset("interactions")

    assert dataset.num_rows == 0
    assert dataset.read_table().num_rows == 0
    assert dataset.read_table().column_names == [
        "USER_ID",
        "ITEM_ID",
        "TIMESTAMP",
        "EVENT_TYPE",
        "EVENT_VALUE",
    ]
    description = dataset.describe()
    assert description["status"] == "ACTIVE"
    assert description["num_segments"] == 0
    assert description["last_import"] is None
    assert description["schema"] == INTERACTIONS_SCHEMA


def test_each_import_writes_one_typed_parquet_segment(tmp_path):
    group = make_group(tmp_path, interactions=INTERACTIONS_SCHEMA)
    csv = write_csv(
        tmp_path / "i.csv",
        "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE\nu1,i1,10,click,\nu2,i2,20,watch,0.5\n",
    )
    group.import_csv("INTERACTIONS", csv)

    segments = list((group.path / "datasets" / "INTERACTIONS" / "segments").iterdir())
    assert len(segments) == 1
    table = pq.read_table(segments[0])
    assert [str(field.type) for field in table.schema] == [
        "string",
        "string",
        "int64",
        "string",
        "float",
    ]
    assert table.to_pylist()[1] == {
        "USER_ID": "u2",
        "ITEM_ID": "i2",
        "TIMESTAMP": 20,
        "EVENT_TYPE": "watch",
        "EVENT_VALUE": 0.5,
    }


def test_fingerprint_changes_with_each_import(tmp_path):
    group = make_group(tmp_path, interactions=PLAIN_INTERACTIONS_SCHEMA)
    dataset = group.dataset("INTERACTIONS")
    empty = dataset.fingerprint
    csv = write_csv(tmp_path / "i.csv", "USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,10\n")

    group.import_csv("INTERACTIONS", csv)
    first = dataset.fingerprint
    group.import_csv("INTERACTIONS", csv)

    assert len({empty, first, dataset.fingerprint}) == 3
    assert dataset.fingerprint == dataset.fingerprint


def test_read_table_selects_columns_in_any_case(tmp_path):
    group = make_group(tmp_path, interactions=PLAIN_INTERACTIONS_SCHEMA)
    csv = write_csv(tmp_path / "i.csv", "USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,10\nu2,i1,11\n")
    group.import_csv("INTERACTIONS", csv)

    table = group.dataset("INTERACTIONS").read_table(columns=["timestamp", "user_id"])
    assert table.to_pydict() == {"TIMESTAMP": [10, 11], "USER_ID": ["u1", "u2"]}


# The writer lock


def test_writer_lock_refuses_a_second_writer(tmp_path):
    group = make_group(tmp_path, interactions=PLAIN_INTERACTIONS_SCHEMA)
    csv = write_csv(tmp_path / "i.csv", "USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,10\n")
    before = snapshot(group.path)

    with writer_lock(tmp_path):
        with pytest.raises(InUseError, match="another writer holds the lock"):
            group.import_csv("INTERACTIONS", csv)
        with pytest.raises(InUseError, match="another writer holds the lock"):
            Store(tmp_path).create_dataset_group("other")
        # Readers never take the lock.
        assert group.dataset("INTERACTIONS").read_table().num_rows == 0

    assert snapshot(group.path) == before
    assert group.import_csv("INTERACTIONS", csv).rows_imported == 1


# The interaction cache

SMALL_INTERACTIONS = """USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE
u2,i3,30,watch,0.75
u1,i2,10,click,
u3,i1,10,click,1.5
u1,i1,10,watch,2
u2,i2,20,click,
"""


def test_interaction_cache_codes_and_vocabularies_are_exact(tmp_path):
    group = make_group(tmp_path, interactions=INTERACTIONS_SCHEMA, items=ITEMS_SCHEMA)
    group.import_csv("INTERACTIONS", write_csv(tmp_path / "i.csv", SMALL_INTERACTIONS))
    items = "ITEM_ID,PRICE,DESCRIPTION\ni9,1.0,\ni1,2.5,a ball\n"
    group.import_csv("ITEMS", write_csv(tmp_path / "items.csv", items))

    cache = group.interaction_cache()

    assert cache.user_ids.tolist() == ["u1", "u2", "u3"]
    assert cache.item_ids.tolist() == ["i1", "i2", "i3", "i9"]
    assert cache.event_type_names == ("click", "watch")
    # Sorted by timestamp, then user, item and event type.
    assert cache.timestamps.tolist() == [10, 10, 10, 20, 30]
    assert cache.user_indices.tolist() == [0, 0, 2, 1, 1]
    assert cache.item_indices.tolist() == [0, 1, 0, 1, 2]
    assert cache.event_types.tolist() == [1, 0, 0, 0, 1]
    np.testing.assert_array_equal(cache.event_values, [2.0, np.nan, 1.5, np.nan, 0.75])
    assert cache.user_indices.dtype == np.int32
    assert cache.item_indices.dtype == np.int32
    assert cache.event_types.dtype == np.int32
    assert cache.timestamps.dtype == np.int64
    assert cache.event_values.dtype == np.float32
    assert (len(cache), cache.num_users, cache.num_items) == (5, 3, 4)


def test_interaction_cache_without_event_columns(tmp_path):
    group = make_group(tmp_path, interactions=PLAIN_INTERACTIONS_SCHEMA)
    csv = write_csv(tmp_path / "i.csv", "USER_ID,ITEM_ID,TIMESTAMP\nb,x,2\na,y,1\n")
    group.import_csv("INTERACTIONS", csv)

    cache = group.interaction_cache()

    assert cache.event_type_names == ("",)
    assert cache.event_types.tolist() == [0, 0]
    assert np.isnan(cache.event_values).all()
    assert cache.user_ids[cache.user_indices].tolist() == ["a", "b"]


def test_interaction_cache_is_reused_until_the_data_changes(tmp_path, monkeypatch):
    group = make_group(tmp_path, interactions=INTERACTIONS_SCHEMA)
    csv = write_csv(tmp_path / "i.csv", SMALL_INTERACTIONS)
    group.import_csv("INTERACTIONS", csv)
    first = group.interaction_cache()
    saved = list((group.path / "cache").iterdir())
    assert [path.name for path in saved] == [first.fingerprint]
    assert sorted(path.name for path in saved[0].iterdir()) == [
        "event_type_names.npy",
        "event_types.npy",
        "event_values.npy",
        "item_ids.npy",
        "item_indices.npy",
        "log_end.npy",
        "session_ids.npy",
        "session_user_ids.npy",
        "timestamps.npy",
        "user_ids.npy",
        "user_indices.npy",
    ]

    def refuse(*args, **kwargs):
        raise AssertionError("the cache was rebuilt although the data did not change")

    with monkeypatch.context() as patch:
        patch.setattr(cache_module, "_build", refuse)
        again = group.interaction_cache()
    assert again.fingerprint == first.fingerprint
    assert again.user_ids.tolist() == first.user_ids.tolist()
    assert again.event_type_names == first.event_type_names
    np.testing.assert_array_equal(again.event_values, first.event_values)

    more = "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE\nu4,i4,40,click,\n"
    group.import_csv("INTERACTIONS", write_csv(tmp_path / "more.csv", more), "INCREMENTAL")
    rebuilt = group.interaction_cache()
    assert rebuilt.fingerprint != first.fingerprint
    assert rebuilt.user_ids.tolist() == ["u1", "u2", "u3", "u4"]
    assert [path.name for path in (group.path / "cache").iterdir()] == [rebuilt.fingerprint]


def test_interaction_cache_codes_span_segments_with_their_own_dictionaries(tmp_path):
    group = make_group(tmp_path, interactions=INTERACTIONS_SCHEMA)
    group.import_csv("INTERACTIONS", write_csv(tmp_path / "i.csv", SMALL_INTERACTIONS))
    more = "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE\nu0,i2,5,rate,\nu3,i0,40,watch,\n"
    group.import_csv("INTERACTIONS", write_csv(tmp_path / "more.csv", more), "INCREMENTAL")

    cache = group.interaction_cache()

    assert cache.user_ids.tolist() == ["u0", "u1", "u2", "u3"]
    assert cache.user_ids[cache.user_indices].tolist() == ["u0", "u1", "u1", "u3", "u2", "u2", "u3"]
    assert cache.item_ids[cache.item_indices].tolist() == ["i2", "i1", "i2", "i1", "i2", "i3", "i0"]
    assert cache.event_type_names == ("click", "rate", "watch")
    assert cache.event_types.tolist() == [1, 2, 0, 0, 0, 2, 2]


@settings(max_examples=60, deadline=None)
@given(data=st.data(), span=st.sampled_from([100, 2**62]))
def test_cache_rows_are_in_stable_order_of_timestamp_user_item_and_type(data, span):
    # A span of 2**62 leaves no room to pack the keys into 64 bits: the other sort runs.
    size = data.draw(st.integers(0, 40))
    timestamps = data.draw(st.lists(st.integers(-span, span), min_size=size, max_size=size))
    keys = [np.array(timestamps, np.int64)] + [
        np.array(data.draw(st.lists(st.integers(0, 4), min_size=size, max_size=size)), np.int32)
        for _ in range(3)
    ]

    order = cache_module._row_order(keys)

    assert order.tolist() == np.lexsort(keys[::-1]).tolist()


def test_interaction_cache_needs_an_interactions_dataset(tmp_path):
    group = make_group(tmp_path, users=USERS_SCHEMA)
    with pytest.raises(NotFoundError, match="has no INTERACTIONS dataset"):
        group.interaction_cache()


ID_TEXT = st.text(
    alphabet=st.characters(
        codec="utf-8", categories=("L", "N", "P", "S", "Zs"), exclude_characters="\x85"
    ),
    min_size=1,
    max_size=12,
)


def quoted(value: str) -> str:
    """A CSV cell in the service's quoting: backslash escapes inside double quotes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@settings(max_examples=30, deadline=None)
@given(user_ids=st.lists(ID_TEXT, min_size=1, max_size=40))
def test_cache_codes_reproduce_the_imported_user_ids(user_ids):
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        group = make_group(root, interactions=PLAIN_INTERACTIONS_SCHEMA)
        # Distinct increasing timestamps keep the cache in file order.
        rows = [f"{quoted(user)},item,{index}" for index, user in enumerate(user_ids)]
        csv = write_csv(root / "i.csv", "USER_ID,ITEM_ID,TIMESTAMP\n" + "\n".join(rows) + "\n")
        group.import_csv("INTERACTIONS", csv)

        cache = group.interaction_cache()

        assert cache.user_ids[cache.user_indices].tolist() == user_ids
        assert cache.user_ids.tolist() == sorted(set(user_ids))


def test_written_files_are_readable_as_the_umask_allows(tmp_path):
    previous = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.json", b"{}")
        with atomic_open(tmp_path / "b.npy") as stream:
            stream.write(b"x")
    finally:
        os.umask(previous)
    modes = [stat.S_IMODE((tmp_path / name).stat().st_mode) for name in ("a.json", "b.npy")]
    assert modes == [0o644, 0o644]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.json", "b.npy"]

"""Tests of import jobs: the sample files, validation, modes, atomicity and Avro."""

import logging
import re
from pathlib import Path

import fastavro
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInputError, ValidationError
from engine.store import ImportJob, validation
from engine.store.duplicates import duplicate_positions
from engine.store.files import write_json
from tests.engine.test_store import (
    INTERACTIONS_SCHEMA,
    ITEMS_SCHEMA,
    PLAIN_INTERACTIONS_SCHEMA,
    USERS_SCHEMA,
    make_group,
    snapshot,
    write_csv,
)
from tests.shared_datasets import SAMPLES

CSV = SAMPLES / "csv"
SCHEMAS = SAMPLES / "schemas"

MPE_INTERACTIONS_SCHEMA = {
    "type": "record",
    "name": "Interactions",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": ["null", "float"]},
    ],
}
MPE_USERS_SCHEMA = {
    "type": "record",
    "name": "Users",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "AGE", "type": "int"},
        {"name": "GENDER", "type": "string", "categorical": True},
    ],
}
HEADER = "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE\n"


@pytest.fixture
def interactions(tmp_path):
    """A group with an Interactions dataset of :data:`INTERACTIONS_SCHEMA`."""
    return make_group(tmp_path / "store", interactions=INTERACTIONS_SCHEMA)


def problem(file: str, row: int, column: str, value: str, expected: str) -> str:
    """The regex matching one problem line of a ValidationError."""
    return re.escape(f"{file}, row {row}, column {column}: got {value!r}, expected {expected}")


# The public sample files


@pytest.mark.parametrize(
    ("dataset_type", "schema", "csv", "rows", "duplicates"),
    [
        (
            "INTERACTIONS",
            SCHEMAS / "01_pet_interactions.json",
            CSV / "pet_recommendations_seed" / "interactions_mini.csv",
            3717,
            885,
        ),
        (
            "ITEMS",
            SCHEMAS / "02_pet_items.json",
            CSV / "pet_recommendations_seed" / "items_0.csv",
            925,
            0,
        ),
        (
            "INTERACTIONS",
            SCHEMAS / "03_mlops_movielens_interactions.json",
            CSV / "mlops_movielens_click_watch" / "interactions.csv",
            158371,
            0,
        ),
        (
            "INTERACTIONS",
            MPE_INTERACTIONS_SCHEMA,
            CSV / "mpe_test_fixture" / "interactions.csv",
            1000,
            0,
        ),
        ("USERS", MPE_USERS_SCHEMA, CSV / "mpe_test_fixture" / "users.csv", 25, 0),
    ],
)
def test_sample_csv_files_import(tmp_path, dataset_type, schema, csv, rows, duplicates):
    group = make_group(tmp_path, **{dataset_type: schema})

    job = group.import_csv(dataset_type, csv)

    assert isinstance(job, ImportJob)
    assert (job.rows_imported, job.duplicates_dropped) == (rows, duplicates)
    assert (job.dataset_type, job.mode, job.status) == (dataset_type, "FULL", "ACTIVE")
    assert group.dataset(dataset_type).num_rows == rows
    assert group.dataset(dataset_type).read_table().num_rows == rows


def test_pet_items_header_order_and_case_differ_from_the_schema(tmp_path):
    group = make_group(tmp_path, items=SCHEMAS / "02_pet_items.json")
    group.import_csv("ITEMS", CSV / "pet_recommendations_seed" / "items_0.csv")

    table = group.dataset("ITEMS").read_table()

    assert table.column_names[0] == "ITEM_ID"
    assert table.column_names[5] == "item_value"
    assert table.slice(0, 1).to_pylist()[0] == {
        "ITEM_ID": "2-English_Setter-1-1",
        "ANIMAL_BREED": "English_Setter",
        "ANIMAL_AGE": "1",
        "ANIMAL_TYPE": "2",
        "ANIMAL_SIZE": "1",
        "item_value": pytest.approx(0.1),
        "CREATION_TIMESTAMP": 15000000,
    }


def test_mlops_item_metadata_is_rejected_for_its_missing_years(tmp_path):
    # The sample's YEAR column is a non-nullable int, yet 12 rows leave it empty and one
    # holds a range: the import must fail and name them.
    group = make_group(tmp_path, items=SCHEMAS / "04_mlops_movielens_items.json")
    meta = CSV / "mlops_movielens_click_watch" / "item-meta.csv"

    with pytest.raises(
        ValidationError, match=problem("item-meta.csv", 6061, "YEAR", "", "a value")
    ):
        group.import_csv("ITEMS", meta)

    try:
        group.import_csv("ITEMS", meta)
    except ValidationError as error:
        assert error.count == 13
        assert [p.row for p in error.problems][-3:] == [9520, 9527, 9613]
        assert error.problems[-3].value == "2006–2007"
        assert error.problems[-3].expected == "an integer (int), such as 42"
    assert group.dataset("ITEMS").num_rows == 0


# Validation


BAD_ROWS = (
    HEADER + "u1,i1,1500000000,click,1.5\n"  # row 2: fine
    ",i2,1500000001,click,\n"  # row 3: empty USER_ID
    "u3,i3,15e8,click,\n"  # row 4: TIMESTAMP not an integer
    "u4,i4,1500000003,,abc\n"  # row 5: empty EVENT_TYPE and bad EVENT_VALUE
    "u5,i5,1500000004,watch,2\n"  # row 6: fine
    "u6,i6,-5,watch,1e39\n"  # row 7: negative timestamp, float out of range
)


def test_import_reports_every_bad_row_with_row_column_and_value(tmp_path, interactions):
    csv = write_csv(tmp_path / "bad.csv", BAD_ROWS)

    with pytest.raises(ValidationError) as caught:
        interactions.import_csv("INTERACTIONS", csv)

    error = caught.value
    assert error.count == 6
    assert [(p.file, p.row, p.column, p.value) for p in error.problems] == [
        ("bad.csv", 3, "USER_ID", ""),
        ("bad.csv", 4, "TIMESTAMP", "15e8"),
        ("bad.csv", 5, "EVENT_TYPE", ""),
        ("bad.csv", 5, "EVENT_VALUE", "abc"),
        ("bad.csv", 7, "TIMESTAMP", "-5"),
        ("bad.csv", 7, "EVENT_VALUE", "1e39"),
    ]
    message = str(error)
    assert message.startswith("6 invalid value(s) in bad.csv; nothing was imported.")
    assert re.search(problem("bad.csv", 4, "TIMESTAMP", "15e8", "an integer (long)"), message)
    assert re.search(problem("bad.csv", 7, "TIMESTAMP", "-5", "epoch seconds, at least 0"), message)
    expected = "a finite number within the range of a float"
    assert re.search(problem("bad.csv", 7, "EVENT_VALUE", "1e39", expected), message)


def test_failed_import_leaves_every_earlier_file_untouched(tmp_path, interactions):
    good = HEADER + "u1,i1,1500000000,click,1.5\nu2,i2,1500000001,watch,\n"
    interactions.import_csv("INTERACTIONS", write_csv(tmp_path / "good.csv", good))
    before = snapshot(interactions.path)
    table_before = interactions.dataset("INTERACTIONS").read_table()

    bad = write_csv(tmp_path / "bad.csv", BAD_ROWS)
    for mode in ("FULL", "INCREMENTAL"):
        with pytest.raises(ValidationError, match=problem("bad.csv", 3, "USER_ID", "", "a value")):
            interactions.import_csv("INTERACTIONS", bad, mode)

    assert snapshot(interactions.path) == before
    assert not [p for p in interactions.path.rglob("*") if p.name.endswith(".tmp")]
    assert interactions.dataset("INTERACTIONS").read_table().equals(table_before)


def test_problems_are_capped_at_twenty_and_counted(tmp_path, interactions):
    rows = "".join(f"u{n},i{n},later,click,\n" for n in range(45))
    with pytest.raises(ValidationError, match=r"45 invalid value\(s\)[\s\S]*and 25 more") as caught:
        interactions.import_csv("INTERACTIONS", write_csv(tmp_path / "bad.csv", HEADER + rows))
    assert [p.row for p in caught.value.problems] == list(range(2, 22))


@pytest.mark.parametrize(
    ("timestamp", "unit", "divisor"),
    [
        ("1500000000000", "milliseconds", "1000"),
        ("100000000000", "milliseconds", "1000"),
        ("1500000000000000", "microseconds", "1000000"),
        ("1500000000000000000", "nanoseconds", "1000000000"),
    ],
)
def test_import_rejects_timestamps_in_finer_units(tmp_path, interactions, timestamp, unit, divisor):
    csv = write_csv(tmp_path / "ms.csv", HEADER + f"u1,i1,{timestamp},click,\n")
    expected = f"epoch seconds; this looks like {unit}: divide by {divisor}"
    with pytest.raises(
        ValidationError, match=problem("ms.csv", 2, "TIMESTAMP", timestamp, expected)
    ):
        interactions.import_csv("INTERACTIONS", csv)


def test_import_accepts_the_largest_timestamp_in_seconds(tmp_path, interactions):
    csv = write_csv(tmp_path / "s.csv", HEADER + "u1,i1,99999999999,click,\nu1,i1,0,click,\n")
    interactions.import_csv("INTERACTIONS", csv)
    assert interactions.dataset("INTERACTIONS").read_table(["TIMESTAMP"]).column(0).to_pylist() == [
        99999999999,
        0,
    ]


def test_import_rejects_integers_outside_their_type(tmp_path, interactions):
    csv = write_csv(tmp_path / "big.csv", HEADER + "u1,i1,99999999999999999999,click,\n")
    expected = "an integer between -9223372036854775808 and 9223372036854775807 (long)"
    with pytest.raises(
        ValidationError, match=problem("big.csv", 2, "TIMESTAMP", "99999999999999999999", expected)
    ):
        interactions.import_csv("INTERACTIONS", csv)


def test_import_rejects_uppercase_booleans(tmp_path):
    group = make_group(tmp_path / "store", users=USERS_SCHEMA)
    csv = write_csv(
        tmp_path / "users.csv",
        "USER_ID,AGE,GENDER,MEMBER\na,30,F,true\nb,,M,TRUE\nc,2147483648,M,False\nd,7,M,\n",
    )

    with pytest.raises(ValidationError) as caught:
        group.import_csv("USERS", csv)

    assert [(p.row, p.column, p.value, p.expected) for p in caught.value.problems] == [
        (3, "MEMBER", "TRUE", "true or false, in lowercase"),
        (4, "AGE", "2147483648", "an integer between -2147483648 and 2147483647 (int)"),
        (4, "MEMBER", "False", "true or false, in lowercase"),
    ]


def test_nullable_fields_take_empty_cells_as_nulls(tmp_path):
    group = make_group(tmp_path / "store", users=USERS_SCHEMA)
    csv = write_csv(tmp_path / "users.csv", "USER_ID,AGE,GENDER,MEMBER\na,30,F,true\nb,,M,\n")
    group.import_csv("USERS", csv)
    assert group.dataset("USERS").read_table().to_pylist() == [
        {"USER_ID": "a", "AGE": 30, "GENDER": "F", "MEMBER": True},
        {"USER_ID": "b", "AGE": None, "GENDER": "M", "MEMBER": None},
    ]


def test_import_rejects_long_ids_and_categorical_values(tmp_path):
    group = make_group(tmp_path / "store", users=USERS_SCHEMA)
    long_id, long_gender = "u" * 257, "F|" * 500 + "M"
    csv = write_csv(
        tmp_path / "users.csv",
        f"USER_ID,AGE,GENDER,MEMBER\n{'u' * 256},1,F,\n{long_id},1,F,\nok,1,{long_gender},\n",
    )

    with pytest.raises(ValidationError) as caught:
        group.import_csv("USERS", csv)

    assert [(p.row, p.column, p.expected) for p in caught.value.problems] == [
        (3, "USER_ID", "an id of at most 256 characters"),
        (4, "GENDER", "at most 1000 characters including the '|' separators"),
    ]


def test_textual_values_are_truncated_not_rejected(tmp_path, caplog):
    group = make_group(tmp_path / "store", items=ITEMS_SCHEMA)
    text = "é" * 20005
    csv = write_csv(tmp_path / "items.csv", f'ITEM_ID,PRICE,DESCRIPTION\ni1,1.5,"{text}"\ni2,2,\n')

    with caplog.at_level(logging.WARNING, logger="engine.store.validation"):
        group.import_csv("ITEMS", csv)

    descriptions = group.dataset("ITEMS").read_table(["DESCRIPTION"]).column(0).to_pylist()
    assert descriptions == ["é" * 20000, None]
    assert "truncated 1 value(s) of textual field DESCRIPTION to 20000 characters" in caplog.text


def test_quoted_values_follow_the_backslash_escapes(tmp_path):
    group = make_group(tmp_path / "store", items=ITEMS_SCHEMA)
    csv = write_csv(
        tmp_path / "items.csv",
        'ITEM_ID,PRICE,DESCRIPTION\n"a,1",1,"say \\"hi\\" \\\\ bye"\n"b""2",2,"two\nlines"\n',
    )
    group.import_csv("ITEMS", csv)
    assert group.dataset("ITEMS").read_table(["ITEM_ID", "DESCRIPTION"]).to_pydict() == {
        "ITEM_ID": ["a,1", 'b"2'],
        "DESCRIPTION": ['say "hi" \\ bye', "two\nlines"],
    }


def test_rows_of_the_wrong_width_are_reported_with_the_others(tmp_path, interactions):
    csv = write_csv(
        tmp_path / "ragged.csv",
        HEADER + "u1,i1,1,click,\nu2,i2,2\n\nu3,i3,x,click,\nu4,i4,4,click,,extra\n",
    )
    with pytest.raises(ValidationError) as caught:
        interactions.import_csv("INTERACTIONS", csv)
    assert [(p.row, p.column, p.value) for p in caught.value.problems] == [
        (3, "(row)", "u2,i2,2"),
        (4, "TIMESTAMP", "x"),
        (5, "(row)", "u4,i4,4,click,,extra"),
    ]
    assert caught.value.problems[0].expected == "5 values, as the header has (found 3)"


# Columns


def test_import_reports_missing_columns(tmp_path, interactions):
    csv = write_csv(tmp_path / "short.csv", "USER_ID,ITEM_ID\nu1,i1\n")
    expected = (
        "short.csv is missing the following columns: ['TIMESTAMP', 'EVENT_TYPE', 'EVENT_VALUE']"
    )
    with pytest.raises(InvalidInputError, match=re.escape(expected)):
        interactions.import_csv("INTERACTIONS", csv)


def test_import_reports_unknown_and_repeated_columns(tmp_path, interactions):
    csv = write_csv(tmp_path / "wide.csv", HEADER.strip() + ",COLOR,user_id\nu1,i1,1,c,,red,u1\n")
    with pytest.raises(InvalidInputError) as caught:
        interactions.import_csv("INTERACTIONS", csv)
    assert str(caught.value) == (
        "wide.csv has columns that are not in the schema: ['COLOR']; "
        "wide.csv names these columns more than once: ['USER_ID', 'user_id']. "
        "The schema's fields are ['USER_ID', 'ITEM_ID', 'TIMESTAMP', 'EVENT_TYPE', 'EVENT_VALUE']."
    )


def test_header_matches_fields_in_any_case_and_order(tmp_path, interactions):
    csv = write_csv(
        tmp_path / "mixed.csv",
        "\ufeffevent_value, Timestamp ,item_id,User_Id,EVENT_type\n0.5,7,i1,u1,click\n",
    )
    interactions.import_csv("INTERACTIONS", csv)
    assert interactions.dataset("INTERACTIONS").read_table().to_pylist() == [
        {
            "USER_ID": "u1",
            "ITEM_ID": "i1",
            "TIMESTAMP": 7,
            "EVENT_TYPE": "click",
            "EVENT_VALUE": 0.5,
        }
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty.csv is empty"), (HEADER, "empty.csv holds no data rows")],
)
def test_import_refuses_files_without_data(tmp_path, interactions, text, message):
    with pytest.raises(InvalidInputError, match=message):
        interactions.import_csv("INTERACTIONS", write_csv(tmp_path / "empty.csv", text))


def test_import_of_a_missing_file_says_so(tmp_path, interactions):
    with pytest.raises(InvalidInputError, match="absent.csv does not exist"):
        interactions.import_csv("INTERACTIONS", tmp_path / "absent.csv")


# Modes


def test_full_then_incremental_then_full(tmp_path, interactions):
    first = write_csv(tmp_path / "a.csv", HEADER + "u1,i1,1,click,\nu2,i2,2,click,\n")
    second = write_csv(tmp_path / "b.csv", HEADER + "u3,i3,3,watch,\n")
    dataset = interactions.dataset("INTERACTIONS")

    interactions.import_csv("INTERACTIONS", first)
    job = interactions.import_csv("INTERACTIONS", second, mode="incremental")
    assert job.mode == "INCREMENTAL"
    assert dataset.read_table(["USER_ID"]).column(0).to_pylist() == ["u1", "u2", "u3"]
    assert dataset.num_rows == 3

    interactions.import_csv("INTERACTIONS", second, mode="FULL")
    assert dataset.read_table(["USER_ID"]).column(0).to_pylist() == ["u3"]
    assert dataset.describe()["num_segments"] == 1
    assert len(list((dataset.path / "segments").iterdir())) == 1


def test_incremental_needs_an_earlier_import(tmp_path, interactions):
    csv = write_csv(tmp_path / "a.csv", HEADER + "u1,i1,1,click,\n")
    with pytest.raises(InvalidInputError, match="needs an earlier import; import the first file"):
        interactions.import_csv("INTERACTIONS", csv, mode="INCREMENTAL")


def test_unknown_mode_is_refused(tmp_path, interactions):
    csv = write_csv(tmp_path / "a.csv", HEADER + "u1,i1,1,click,\n")
    with pytest.raises(InvalidInputError, match=r"mode must be one of \['FULL', 'INCREMENTAL'\]"):
        interactions.import_csv("INTERACTIONS", csv, mode="APPEND")


def test_full_import_keeps_segments_from_events(tmp_path, interactions):
    csv = write_csv(tmp_path / "a.csv", HEADER + "u1,i1,1,click,\n")
    interactions.import_csv("INTERACTIONS", csv)
    dataset = interactions.dataset("INTERACTIONS")
    # Pretend the first segment came from live events.
    manifest = dataset.manifest()
    manifest["segments"][0]["source"] = "events"
    write_json(dataset.path / "dataset.json", manifest)

    interactions.import_csv(
        "INTERACTIONS", write_csv(tmp_path / "b.csv", HEADER + "u2,i2,2,click,\n")
    )

    assert dataset.read_table(["USER_ID"]).column(0).to_pylist() == ["u1", "u2"]
    assert [entry["source"] for entry in dataset.manifest()["segments"]] == ["events", "bulk"]


def test_users_incremental_replaces_rows_by_id(tmp_path):
    group = make_group(tmp_path / "store", users=USERS_SCHEMA)
    header = "USER_ID,AGE,GENDER,MEMBER\n"
    group.import_csv("USERS", write_csv(tmp_path / "a.csv", header + "a,1,F,\nb,2,M,\nc,3,F,\n"))
    group.import_csv(
        "USERS", write_csv(tmp_path / "b.csv", header + "b,20,M,true\nd,4,M,\n"), "INCREMENTAL"
    )

    dataset = group.dataset("USERS")
    assert dataset.read_table(["USER_ID", "AGE"]).to_pydict() == {
        "USER_ID": ["a", "c", "b", "d"],
        "AGE": [1, 3, 20, 4],
    }
    assert dataset.num_rows == 4
    assert dataset.read_table(["AGE"]).column(0).to_pylist() == [1, 3, 20, 4]


def test_duplicate_interaction_rows_are_dropped(tmp_path, interactions, caplog):
    rows = "u1,i1,1,click,\nu1,i1,1,click,\nu2,i1,1,click,\nu1,i1,1,click,0.5\nu1,i1,1,click,\n"
    csv = write_csv(tmp_path / "dups.csv", HEADER + rows)

    with caplog.at_level(logging.INFO, logger="engine.store"):
        job = interactions.import_csv("INTERACTIONS", csv)

    assert (job.rows_imported, job.duplicates_dropped) == (3, 2)
    assert interactions.dataset("INTERACTIONS").read_table(
        ["USER_ID", "EVENT_VALUE"]
    ).to_pydict() == {
        "USER_ID": ["u1", "u2", "u1"],
        "EVENT_VALUE": [None, None, 0.5],
    }
    assert "dropped 2 exact duplicate row(s) of dups.csv" in caplog.text
    assert "imported 3 rows into INTERACTIONS in" in caplog.text


# Avro


def write_avro(path: Path, schema: dict, records: list[dict]) -> Path:
    """Write an Avro container file."""
    with path.open("wb") as stream:
        fastavro.writer(stream, fastavro.parse_schema(schema), records)
    return path


def test_avro_container_import_round_trip(tmp_path, interactions):
    records = [
        {
            "USER_ID": "u1",
            "ITEM_ID": "i1",
            "TIMESTAMP": 1500000000,
            "EVENT_TYPE": "click",
            "EVENT_VALUE": None,
        },
        {
            "USER_ID": "u2",
            "ITEM_ID": "i2",
            "TIMESTAMP": 1500000001,
            "EVENT_TYPE": "watch",
            "EVENT_VALUE": 0.25,
        },
    ]
    avro = write_avro(tmp_path / "i.avro", INTERACTIONS_SCHEMA, records)

    job = interactions.import_avro("INTERACTIONS", avro)

    assert job.rows_imported == 2
    assert interactions.dataset("INTERACTIONS").read_table().to_pylist() == records


def test_avro_import_validates_like_csv(tmp_path):
    group = make_group(tmp_path / "store", users=USERS_SCHEMA)
    records = [
        {"user_id": "a", "AGE": 3, "GENDER": "F", "MEMBER": True},
        {"user_id": "", "AGE": None, "GENDER": "M", "MEMBER": False},
        {"user_id": "c", "AGE": 3, "GENDER": "M", "MEMBER": None},
    ]
    schema = {
        **USERS_SCHEMA,
        "fields": [{"name": "user_id", "type": "string"}, *USERS_SCHEMA["fields"][1:]],
    }
    avro = write_avro(tmp_path / "users.avro", schema, records)

    with pytest.raises(ValidationError, match=problem("users.avro", 2, "USER_ID", "", "a value")):
        group.import_avro("USERS", avro)

    records[1]["user_id"] = "b"
    group.import_avro("USERS", write_avro(tmp_path / "users.avro", schema, records))
    assert group.dataset("USERS").read_table(["MEMBER"]).column(0).to_pylist() == [
        True,
        False,
        None,
    ]


def test_avro_import_of_a_csv_file_is_refused(tmp_path, interactions):
    csv = write_csv(tmp_path / "i.csv", HEADER + "u1,i1,1,click,\n")
    with pytest.raises(InvalidInputError, match="i.csv is not a readable Avro container"):
        interactions.import_avro("INTERACTIONS", csv)


def test_plain_interactions_need_no_event_columns(tmp_path):
    group = make_group(tmp_path / "store", interactions=PLAIN_INTERACTIONS_SCHEMA)
    job = group.import_csv(
        "INTERACTIONS", write_csv(tmp_path / "i.csv", "USER_ID,ITEM_ID,TIMESTAMP\na,b,1\n")
    )
    assert job.rows_imported == 1


def test_mlops_item_metadata_imports_with_a_schema_that_fits_its_years(tmp_path):
    # Written for the file: YEAR is sometimes empty and once a range, so it is a
    # nullable categorical string rather than the sample schema's int.
    schema = {
        "type": "record",
        "name": "Items",
        "fields": [
            {"name": "ITEM_ID", "type": "string"},
            {"name": "GENRE", "type": "string", "categorical": True},
            {"name": "YEAR", "type": ["null", "string"], "categorical": True},
        ],
    }
    group = make_group(tmp_path, items=schema)
    job = group.import_csv("ITEMS", CSV / "mlops_movielens_click_watch" / "item-meta.csv")
    assert job.rows_imported == 9742
    table = group.dataset("ITEMS").read_table(["ITEM_ID", "YEAR"])
    assert table.column("YEAR").null_count == 12


def test_integers_with_leading_zeros_are_read_as_decimal(tmp_path, interactions):
    csv = write_csv(tmp_path / "z.csv", HEADER + "u1,i1,0000000000000000000000042,click,\n")
    interactions.import_csv("INTERACTIONS", csv, show_progress=True)
    assert interactions.dataset("INTERACTIONS").read_table(["TIMESTAMP"]).column(0).to_pylist() == [
        42
    ]


ROWS = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", ""]),
        st.none() | st.integers(0, 2),
        st.none() | st.sampled_from([0.5, -0.0, 1e30]),
        st.none() | st.booleans(),
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(rows=ROWS, chunk=st.integers(1, 5))
def test_duplicate_positions_match_a_plain_python_reference(rows, chunk):
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
    types = [pa.string(), pa.int64(), pa.float32(), pa.bool_()]
    table = pa.table(
        {
            f"c{index}": pa.chunked_array(
                [
                    pa.array(values[start : start + chunk], type)
                    for start in range(0, len(values), chunk)
                ]
                or [pa.array([], type)],
                type,
            )
            for index, (values, type) in enumerate(zip(columns, types, strict=True))
        }
    )
    seen: set = set()
    expected = []
    for position, row in enumerate(table.to_pylist()):
        key = tuple(row.values())
        if key in seen:
            expected.append(position)
        seen.add(key)

    assert duplicate_positions(table).tolist() == expected


@settings(max_examples=60, deadline=None)
@given(
    cells=st.lists(
        st.one_of(
            st.integers(-(10**12), 10**12).map(str),
            st.text(alphabet="0123456789-+ .e٣", max_size=6),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_integer_cells_are_recognised_as_the_pattern_says(cells):
    values = pa.chunked_array([pa.array(cells, pa.string())])
    present = pc.not_equal(values, "")

    recognised = validation._integer_text(values, present)

    pattern = pc.match_substring_regex(values, validation._INTEGER_PATTERN)
    assert (
        pc.or_(recognised, pc.invert(present)).to_pylist()
        == pc.or_(pattern, pc.invert(present)).to_pylist()
    )

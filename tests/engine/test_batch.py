"""Batch inference and batch segment jobs on the planted campaign."""

import json

import numpy as np
import pytest

from engine.batch import run_batch_inference, run_batch_segment
from engine.campaign import RecommendedItem, create_campaign
from engine.cli import main
from engine.errors import InvalidInputError, NotFoundError
from engine.evaluation import top_items
from engine.events import create_event_tracker, put_users
from engine.filter_store import create_filter
from engine.store import Store
from engine.training import create_solution
from tests.engine.planted import (
    GROUPS,
    INTERACTIONS_SCHEMA,
    USERS_PER_GROUP,
    planted_rows,
    watch,
    write_interactions,
)
from tests.engine.planted_catalogue import add_catalogue

SEEN: dict[str, set[str]] = {}
for user, item, *_ in planted_rows():
    SEEN.setdefault(user, set()).add(item)
USERS = [f"u{g}-{m:02d}" for g in range(GROUPS) for m in range(USERS_PER_GROUP)]
SEVEN_ROWS = 4 * 48 * 7  # bytes of scores: blocks of seven users


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    directory = tmp_path_factory.mktemp("batch")
    group = Store(directory / "store").create_dataset_group("planted")
    group.create_dataset("INTERACTIONS", INTERACTIONS_SCHEMA)
    group.import_csv("INTERACTIONS", write_interactions(directory / "i.csv", planted_rows()))
    add_catalogue(group, directory)
    create_filter(group, "only", "INCLUDE ItemID WHERE Items.GENRES IN ($GENRES)")
    create_filter(group, "cheap", "INCLUDE ItemID WHERE Items.PRICE < 4")
    create_filter(group, "adults", "EXCLUDE UserID WHERE Users.AGE < 18")
    create_filter(group, "members", "INCLUDE UserID WHERE Users.MEMBERSHIP IN ($MEMBERSHIP)")
    solution = create_solution(group, "als", "user-personalization", hyperparameters={"factors": 8})
    version = solution.train()
    return group, version, create_campaign(group, "home", version)


def write_lines(path, lines):
    path.write_text(
        "".join(line if isinstance(line, str) else json.dumps(line) + "\n" for line in lines)
    )
    return path


def read_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_user_gets_what_get_recommendations_gives_in_blocks(served, tmp_path):
    group, version, campaign = served
    requests = [{"userId": user} for user in USERS] + [{"userId": "stranger"}]
    source = write_lines(tmp_path / "users.jsonl", requests)
    summary = run_batch_inference(
        version, source, tmp_path / "out.jsonl", num_results=7, block_bytes=SEVEN_ROWS
    )
    assert (summary.num_lines, summary.num_errors) == (91, 0)

    for request, line in zip(requests, read_lines(tmp_path / "out.jsonl"), strict=True):
        expected = campaign.get_recommendations(request["userId"], 7)
        assert line["input"] == request
        assert line["error"] is None
        assert line["output"]["recommendedItems"] == [item.item_id for item in expected.items]
        # A block's matrix product rounds a little differently from one user's.
        scores = [item.score for item in expected.items]
        assert line["output"]["scores"] == pytest.approx(scores, rel=1e-5)


def test_the_output_does_not_depend_on_the_number_of_workers(served, tmp_path):
    _, version, _ = served
    source = write_lines(tmp_path / "users.jsonl", [{"userId": user} for user in USERS])
    for workers in (1, 3):
        out = tmp_path / f"out-{workers}.jsonl"
        run_batch_inference(version, source, out, block_bytes=SEVEN_ROWS, workers=workers)
    assert (tmp_path / "out-1.jsonl").read_text() == (tmp_path / "out-3.jsonl").read_text()
    with pytest.raises(InvalidInputError, match="^workers must be a positive integer, got 0$"):
        run_batch_inference(version, source, tmp_path / "x.jsonl", workers=0)


def test_filter_values_apply_per_line_and_short_lists_stay_short(served, tmp_path):
    group, version, campaign = served
    requests = [
        {"userId": "u0-01", "filterValues": {"GENRES": '"Horror"'}},
        {"userId": "u1-02", "filterValues": {"GENRES": '"Comedy"'}},
        {"userId": "u2-03", "filterValues": {"GENRES": '"Horror"'}},
    ]
    source = write_lines(tmp_path / "in.jsonl", requests)
    run_batch_inference(campaign, source, tmp_path / "out.jsonl", num_results=20, filter="only")
    lines = read_lines(tmp_path / "out.jsonl")
    assert [{item[:2] for item in line["output"]["recommendedItems"]} for line in lines] == [
        {"i2"},
        {"i0"},
        {"i2"},
    ]
    assert [len(line["output"]["recommendedItems"]) for line in lines] == [
        16,
        16,
        16 - len(SEEN["u2-03"]),
    ]
    for request, line in zip(requests, lines, strict=True):
        expected = campaign.get_recommendations(
            request["userId"], 20, filter="only", filter_values=request["filterValues"]
        )
        assert line["output"]["recommendedItems"] == [item.item_id for item in expected.items]


def test_a_list_a_filter_leaves_short_is_filled_with_popular_items_without_scores(
    served, tmp_path, monkeypatch
):
    group, version, campaign = served
    deployment = campaign.serving()
    score_users = deployment.score_users

    def unscored_horror(user_ids):
        scored = score_users(user_ids)
        scored.scores[:, 40:] = np.nan  # the model has no opinion of i2-08 .. i2-15
        return scored

    monkeypatch.setattr(deployment, "score_users", unscored_horror)
    source = write_lines(
        tmp_path / "in.jsonl", [{"userId": "u0-01", "filterValues": {"GENRES": '"Horror"'}}]
    )
    run_batch_inference(campaign, source, tmp_path / "out.jsonl", num_results=10, filter="only")
    output = read_lines(tmp_path / "out.jsonl")[0]["output"]
    takers = {item: sum(item in seen for seen in SEEN.values()) for item in campaign.item_ids()}
    filled = sorted((f"i2-{n:02d}" for n in range(8, 16)), key=lambda item: -takers[item])
    assert output["recommendedItems"][8:] == filled[:2]
    assert output["scores"][8:] == [None, None]
    assert None not in output["scores"][:8]


BAD_LINES = [
    ('{"userId": "u0-01"\n', "line 1: not valid JSON (Expecting ',' delimiter at column 19)"),
    ('["u0-01"]\n', "line 2: expected a JSON object, got list"),
    (
        '{"userid": "u0-01"}\n',
        "line 3: unknown key 'userid'; a line has userId, itemId, itemList, filterValues",
    ),
    ("{}\n", "line 4: expected userId or itemId"),
    ('{"userId": 7}\n', "line 5: userId must be a string of 1-256 characters, got 7"),
    ('{"itemList": ["i0-01"], "itemId": "i0-01"}\n', "line 6: itemList needs a userId"),
    (
        '{"userId": "u0-01", "filterValues": {"GENRE": "\\"x\\""}}\n',
        "line 7: filter value for $GENRE matches no placeholder of the filter (it uses $GENRES)",
    ),
    (
        '{"userId": "u0-01", "itemList": "i0-01"}\n',
        "line 8: itemList must be a list of item id strings",
    ),
    ("\n", "line 9: not valid JSON (Expecting value at column 1)"),
]


def test_a_bad_line_gets_an_error_line_and_the_others_are_answered(served, tmp_path):
    group, version, campaign = served
    lines = [text for text, _ in BAD_LINES] + [
        '{"userId": "u0-01", "filterValues": {"GENRES": "\\"Drama\\""}}\n'
    ]
    source = write_lines(tmp_path / "mixed.jsonl", lines)
    summary = run_batch_inference(campaign, source, tmp_path / "out.jsonl", filter="only")
    answered = read_lines(tmp_path / "out.jsonl")
    assert (summary.num_lines, summary.num_errors) == (10, 9)
    assert [line["error"] for line in answered[:-1]] == [message for _, message in BAD_LINES]
    assert all(line["output"] is None for line in answered[:-1])
    assert answered[0]["input"] == '{"userId": "u0-01"'
    assert len(answered[-1]["output"]["recommendedItems"]) == 16


def test_related_items_lines_use_the_campaigns_method_when_it_has_one(
    served, tmp_path, monkeypatch
):
    group, version, campaign = served
    calls = []

    def similar(item_id, num_results, **options):
        calls.append((item_id, num_results, options))
        return [RecommendedItem("i0-03", 0.5), RecommendedItem("i0-04", 0.25)]

    monkeypatch.setattr(campaign.serving(), "get_similar_items", similar)
    source = write_lines(
        tmp_path / "items.jsonl", [{"itemId": "i0-01"}, {"itemId": "i0-02", "userId": "u1-01"}]
    )
    run_batch_inference(campaign, source, tmp_path / "out.jsonl", num_results=2)
    assert read_lines(tmp_path / "out.jsonl")[1] == {
        "input": {"itemId": "i0-02", "userId": "u1-01"},
        "output": {"recommendedItems": ["i0-03", "i0-04"]},
        "error": None,
    }
    assert calls == [("i0-01", 2, {}), ("i0-02", 2, {"user_id": "u1-01"})]


def test_ranking_lines_are_the_campaigns_personalized_ranking(served, tmp_path):
    _, version, campaign = served
    request = {"userId": "u1-01", "itemList": ["i0-01", "i1-05", "nope", "i1-03"]}
    source = write_lines(tmp_path / "rank.jsonl", [request])
    run_batch_inference(campaign, source, tmp_path / "out.jsonl")
    expected = campaign.get_personalized_ranking("u1-01", request["itemList"]).items
    assert read_lines(tmp_path / "out.jsonl")[0]["output"] == {
        "recommendedItems": [item.item_id for item in expected],
        "scores": [item.score for item in expected],
    }
    assert expected[-1].item_id == "nope"


def test_a_popularity_version_writes_no_scores(served, tmp_path):
    group, _, _ = served
    popular = create_solution(group, "popular", "popularity-count").train()
    source = write_lines(tmp_path / "users.jsonl", [{"userId": "u0-01"}])
    run_batch_inference(popular, source, tmp_path / "out.jsonl", num_results=3)
    assert list(read_lines(tmp_path / "out.jsonl")[0]["output"]) == ["recommendedItems"]


def test_job_arguments_are_checked_before_any_line(served, tmp_path):
    _, version, _ = served
    source = write_lines(tmp_path / "users.jsonl", [{"userId": "u0-01"}])
    with pytest.raises(InvalidInputError, match="^num_results must be between 1 and 500, got 501$"):
        run_batch_inference(version, source, tmp_path / "out.jsonl", num_results=501)
    with pytest.raises(NotFoundError, match="^filter 'nope' does not exist"):
        run_batch_inference(version, source, tmp_path / "out.jsonl", filter="nope")
    assert not (tmp_path / "out.jsonl").exists()


def test_a_segment_holds_the_likeliest_users_who_have_not_taken_the_item(served, tmp_path):
    _, version, campaign = served
    items = ["i1-03", "i0-00", "i2-15"]
    source = write_lines(
        tmp_path / "items.jsonl", [{"itemId": item} for item in items] + [{"itemId": "zz"}]
    )
    summary = run_batch_segment(
        version, source, tmp_path / "out.jsonl", num_results=10, block_bytes=SEVEN_ROWS
    )
    lines = read_lines(tmp_path / "out.jsonl")
    assert summary.num_errors == 1
    assert lines[-1]["error"] == "line 4: item 'zz' is not in the campaign's catalogue"

    scored = campaign.score_users(USERS)
    catalogue = list(campaign.item_ids())
    for item, line in zip(items, lines, strict=False):
        column = scored.scores[:, catalogue.index(item)].astype(np.float64)
        takers = [row for row, user in enumerate(USERS) if item in SEEN[user]]
        column[takers] = -np.inf
        expected = [USERS[row] for row in top_items(column, 10)]
        assert line["output"]["recommendedUsers"] == expected
    skipped = [user for user in USERS if user.startswith("u1-") and "i1-03" not in SEEN[user]]
    assert set(lines[0]["output"]["recommendedUsers"][: len(skipped)]) == set(skipped)


def test_segment_lines_other_than_an_item_are_error_lines(served, tmp_path):
    _, version, _ = served
    source = write_lines(
        tmp_path / "items.jsonl", [{"userId": "u0-01"}, {"itemId": "i0-01", "userId": "x"}]
    )
    run_batch_segment(version, source, tmp_path / "out.jsonl")
    errors = [line["error"] for line in read_lines(tmp_path / "out.jsonl")]
    assert errors == [
        'line 1: a segment line has "itemId" and optionally "filterValues", nothing else',
        'line 2: a segment line has "itemId" and optionally "filterValues", nothing else',
    ]


def test_the_batch_commands_write_input_dot_out(served, tmp_path, capsys):
    group, version, _ = served
    source = write_lines(tmp_path / "users.jsonl", [{"userId": "u0-01"}, {"userId": "u1-01"}])
    job = f"--json --home {group.root} batch-inference planted --solution als -n 4 --input"
    assert main([*job.split(), str(source)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["num_lines"], summary["num_errors"]) == (2, 0)
    lines = read_lines(tmp_path / "users.jsonl.out")
    assert [len(line["output"]["recommendedItems"]) for line in lines] == [4, 4]

    items = write_lines(tmp_path / "items.jsonl", [{"itemId": "i2-05"}])
    job = f"--json --home {group.root} batch-segment planted --solution als -n 3 --input"
    assert main([*job.split(), str(items), "--output", str(tmp_path / "seg.jsonl")]) == 0
    assert len(read_lines(tmp_path / "seg.jsonl")[0]["output"]["recommendedUsers"]) == 3
    arguments = [*job.split(), str(items), "--filter", "adults", "--output", str(tmp_path / "a")]
    assert main(arguments) == 0
    adults = read_lines(tmp_path / "a")[0]["output"]["recommendedUsers"]
    assert adults == segment_of(served[2], "i2-05", 3, lambda user: 10 + member(user) >= 18)


def test_a_batch_command_whose_every_line_fails_exits_1(served, tmp_path, capsys):
    group = served[0]
    source = write_lines(tmp_path / "bad.jsonl", [{"itemId": "nope"}, {"userId": ""}])
    job = f"--home {group.root} batch-segment planted --solution als -n 3 --input {source}"
    assert main(job.split()) == 1
    assert capsys.readouterr().err.endswith(
        f"recengine: every line of {source} is an error line; see {source}.out\n"
    )
    assert len(read_lines(tmp_path / "bad.jsonl.out")) == 2
    assert main(["--json", *job.split()]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert (summary["num_errors"], summary["error"]) == (2, "BatchJobFailed")

    mixed = write_lines(tmp_path / "mixed.jsonl", [{"itemId": "nope"}, {"itemId": "i2-05"}])
    assert main([*job.split()[:-1], str(mixed)]) == 0


def segment_of(campaign, item, count, allowed=lambda user: True):
    """The ``count`` likeliest users of ``item`` among the allowed ones who did not take it."""
    scored = campaign.score_users(USERS)
    column = scored.scores[:, list(campaign.item_ids()).index(item)].astype(np.float64)
    left_out = [row for row, user in enumerate(USERS) if item in SEEN[user] or not allowed(user)]
    column[left_out] = -np.inf
    return [USERS[row] for row in top_items(column, count)]


def member(user):
    return int(user.split("-")[1])


def test_a_segment_filter_leaves_users_out_and_the_segment_stays_full(served, tmp_path):
    _, version, campaign = served
    items = ["i1-03", "i0-00", "i2-15"]
    source = write_lines(tmp_path / "items.jsonl", [{"itemId": item} for item in items])
    out = tmp_path / "out.jsonl"
    run_batch_segment(version, source, out, num_results=30, filter="adults", block_bytes=SEVEN_ROWS)

    for item, line in zip(items, read_lines(out), strict=True):
        adult = segment_of(campaign, item, 30, lambda user: 10 + member(user) >= 18)
        assert line["output"]["recommendedUsers"] == adult
        assert len(adult) == 30
        assert adult != segment_of(campaign, item, 30)


def test_segment_filter_values_apply_per_line_and_bad_ones_are_error_lines(served, tmp_path):
    _, version, campaign = served
    gold, basic = {"MEMBERSHIP": '"gold"'}, {"MEMBERSHIP": '"basic"'}
    lines = [
        {"itemId": "i0-05", "filterValues": gold},
        {"itemId": "i0-05", "filterValues": basic},
        {"itemId": "i2-07", "filterValues": gold},
        {"itemId": "i0-05"},
        {"itemId": "i0-05", "filterValues": {"MEMBERSHIP": "gold"}},
        {"itemId": "i0-05", "filterValues": {"TIER": '"gold"'}},
    ]
    source = write_lines(tmp_path / "items.jsonl", lines)
    out = tmp_path / "out.jsonl"
    summary = run_batch_segment(
        version, source, out, num_results=20, filter="members", block_bytes=SEVEN_ROWS
    )
    answered = read_lines(out)
    assert (summary.num_lines, summary.num_errors) == (6, 3)

    even, odd = (lambda user: member(user) % 2 == 0), (lambda user: member(user) % 2 == 1)
    expected = [
        segment_of(campaign, "i0-05", 20, even),
        segment_of(campaign, "i0-05", 20, odd),
        segment_of(campaign, "i2-07", 20, even),
    ]
    assert [line["output"]["recommendedUsers"] for line in answered[:3]] == expected
    assert [line["error"] for line in answered[3:]] == [
        "line 4: filter value for $MEMBERSHIP is missing; an INCLUDE expression needs a value "
        "for each of its placeholders",
        "line 5: filter value for $MEMBERSHIP: at position 1: expected a quoted string or a "
        "number, found 'gold'",
        "line 6: filter value for $TIER matches no placeholder of the filter (it uses $MEMBERSHIP)",
    ]


def test_filter_values_without_a_segment_filter_are_an_error_line(served, tmp_path):
    _, version, campaign = served
    lines = [{"itemId": "i0-05", "filterValues": {"MEMBERSHIP": '"gold"'}}, {"itemId": "i0-05"}]
    source = write_lines(tmp_path / "items.jsonl", lines)
    run_batch_segment(version, source, tmp_path / "out.jsonl", num_results=5)
    first, second = read_lines(tmp_path / "out.jsonl")
    assert first["error"] == "line 1: filterValues were given but the job has no filter"
    assert second["output"]["recommendedUsers"] == segment_of(campaign, "i0-05", 5)


def test_a_filter_of_the_wrong_target_is_refused_naming_it(served, tmp_path):
    _, version, campaign = served
    source = write_lines(tmp_path / "items.jsonl", [{"itemId": "i0-05"}])
    with pytest.raises(
        InvalidInputError,
        match=r"^filter 'cheap' is an ItemID filter \(it selects items\); a batch segment job "
        r"needs a UserID filter$",
    ):
        run_batch_segment(version, source, tmp_path / "out.jsonl", filter="cheap")
    with pytest.raises(
        InvalidInputError,
        match=r"^filter 'adults' is a UserID filter \(it selects users\); a batch inference job "
        r"needs an ItemID filter$",
    ):
        run_batch_inference(version, source, tmp_path / "out.jsonl", filter="adults")
    assert not (tmp_path / "out.jsonl").exists()
    with pytest.raises(
        InvalidInputError,
        match=r"^filter 'members' is a UserID filter \(it selects users\); recommending items "
        r"needs an ItemID filter$",
    ):
        campaign.get_recommendations("u0-01", 5, filter="members")


def test_segment_filters_see_training_data_logged_events_and_logged_users(tmp_path):
    group = Store(tmp_path / "store").create_dataset_group("planted")
    group.create_dataset("INTERACTIONS", INTERACTIONS_SCHEMA)
    clicks = [("u0-04", "i0-01", "click", "", 1_700_000_000), ("u1-07", "i1-02", "click", "", 1)]
    group.import_csv(
        "INTERACTIONS", write_interactions(tmp_path / "i.csv", planted_rows() + clicks)
    )
    add_catalogue(group, tmp_path)
    create_filter(group, "clickers", 'INCLUDE UserID WHERE Interactions.EVENT_TYPE IN ("CLICK")')
    create_filter(group, "adults", "EXCLUDE UserID WHERE Users.AGE < 18")
    version = create_solution(
        group, "als", "user-personalization", hyperparameters={"factors": 8}
    ).train()
    campaign = create_campaign(group, "home", version)
    source = write_lines(tmp_path / "items.jsonl", [{"itemId": "i0-05"}])

    def segment(name):
        out = tmp_path / f"{name}.jsonl"
        run_batch_segment(campaign, source, out, num_results=len(USERS), filter=name)
        return sorted(read_lines(out)[0]["output"]["recommendedUsers"])

    assert segment("clickers") == ["u0-04", "u1-07"]
    adults = [user for user in USERS if member(user) >= 8 and "i0-05" not in SEEN[user]]
    assert segment("adults") == adults

    create_event_tracker(group, "web").put_events(
        "s1", [watch("i2-03", event_type="click")], user_id="u2-03"
    )
    put_users(group, [{"user_id": "u2-05", "properties": '{"age": 40, "membership": "gold"}'}])
    assert segment("clickers") == ["u0-04", "u1-07", "u2-03"]
    assert segment("adults") == sorted([*adults, "u2-05"])

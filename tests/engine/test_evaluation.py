import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from engine.evaluation import evaluate_rankings, rank_top, split_users, top_items


def _rows(lists: list[list[int]], num_items: int) -> sp.csr_matrix:
    rows = [row for row, items in enumerate(lists) for _ in items]
    cols = [item for items in lists for item in items]
    return sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(lists), num_items))


def test_ndcg_matches_the_services_worked_example():
    # Relevant items ranked 2nd and 5th at K=5: (1/log3 + 1/log6) / (1/log2 + 1/log3).
    scores = np.array([[10.0, 9.0, 8.0, 7.0, 6.0, 5.0] + [0.0] * 30])
    metrics = evaluate_rankings(
        lambda histories: scores, _rows([[]], 36), _rows([[1, 4]], 36), np.array([0]), 36
    )
    assert metrics.values["normalized_discounted_cumulative_gain_at_5"] == pytest.approx(
        0.6241, abs=1e-4
    )
    assert metrics.values["precision_at_5"] == pytest.approx(0.4)
    assert metrics.values["mean_reciprocal_rank_at_25"] == pytest.approx(0.5)
    assert metrics.values["coverage"] == pytest.approx(25 / 36)


def test_history_items_are_never_ranked_and_users_without_truth_are_skipped():
    scores = np.tile(np.arange(10, 0, -1, dtype=float), (2, 1))
    metrics = evaluate_rankings(
        lambda histories: scores[: histories.shape[0]],
        _rows([[0], [0]], 10),
        _rows([[1], []], 10),
        np.array([3, 7]),
        10,
    )
    assert metrics.test_users.tolist() == [3]
    assert metrics.num_test_users_skipped == 1
    assert metrics.values["mean_reciprocal_rank_at_25"] == pytest.approx(1.0)


def test_top_items_breaks_ties_by_lower_index_even_at_the_cut():
    scores = np.array([1.0, 3.0, 1.0, 3.0, 1.0, -np.inf])
    assert top_items(scores, 3).tolist() == [1, 3, 0]
    assert top_items(scores, 10).tolist() == [1, 3, 0, 2, 4]


def test_rank_top_pads_rows_with_too_few_items():
    ranked = rank_top(np.array([[0.5, 0.2, 0.9]]), _rows([[2]], 3), 4)
    assert ranked.tolist() == [[0, 1, -1, -1]]


def test_split_holds_out_newest_tenth_of_each_test_user():
    users = np.repeat(np.arange(40), 20)
    timestamps = np.tile(np.arange(20), 40)
    split = split_users(users, timestamps, 0.1, seed=7)
    assert split.test_users.size == 4
    for user in split.test_users:
        truth_times = timestamps[(users == user) & split.truth]
        assert sorted(truth_times.tolist()) == [18, 19]
    assert not (split.train & (split.history | split.truth)).any()
    again = split_users(users, timestamps, 0.1, seed=7)
    assert np.array_equal(again.test_users, split.test_users)


@given(st.lists(st.integers(0, 30), min_size=2, max_size=200), st.integers(0, 2**31))
def test_split_partitions_every_event(users: list[int], seed: int):
    user_indices = np.array(users)
    timestamps = np.arange(user_indices.size)[::-1]
    split = split_users(user_indices, timestamps, 0.3, seed)
    total = split.train.astype(int) + split.history + split.truth
    assert (total == 1).all()
    for user in split.test_users:
        assert split.truth[user_indices == user].sum() >= 1


def test_recall_counts_hits_over_the_truth_when_asked_for():
    from engine.evaluation import METRIC_NAMES, RECALL_NAMES, evaluate_scores

    # Truth of three items, ranked 2nd, 5th and 12th.
    scores = np.array([[10.0, 9.0, 8.0, 7.0, 6.0, 5.0] + [4.0] * 5 + [3.5] + [0.0] * 24])
    metrics = evaluate_scores(
        lambda rows: scores[rows],
        _rows([[]], 36),
        _rows([[1, 4, 11]], 36),
        np.array([0]),
        36,
        metric_names=METRIC_NAMES + RECALL_NAMES,
    )
    assert metrics.values["recall_at_5"] == pytest.approx(2 / 3)
    assert metrics.values["recall_at_10"] == pytest.approx(2 / 3)
    assert metrics.values["recall_at_25"] == pytest.approx(1.0)
    assert sorted(metrics.per_user) == sorted(set(METRIC_NAMES + RECALL_NAMES) - {"coverage"})

"""Training windows: which events a solution keeps in time."""

import datetime

import numpy as np
import pytest

from engine.errors import InvalidInputError
from engine.selection import TrainingWindow, epoch_seconds

DAY = 86400


def test_times_are_read_as_epoch_seconds_iso_dates_or_datetimes():
    assert epoch_seconds(1_772_323_200.9, "start") == 1_772_323_200
    assert epoch_seconds("1772323200", "start") == 1_772_323_200
    assert epoch_seconds("2026-03-01", "start") == 1_772_323_200
    assert epoch_seconds("2026-03-01T01:00:00+01:00", "start") == 1_772_323_200
    assert epoch_seconds(datetime.datetime(2026, 3, 1), "start") == 1_772_323_200
    assert epoch_seconds(None, "start") is None


@pytest.mark.parametrize("value", ["last week", True, float("nan"), [1]])
def test_a_time_that_is_not_one_is_refused_naming_the_setting(value):
    message = "training_window_end must be epoch seconds or an ISO 8601 date such as '2026-03-01'"
    with pytest.raises(InvalidInputError, match=message):
        TrainingWindow.checked(None, value, None)


def test_start_and_end_keep_the_events_from_start_to_before_end():
    window = TrainingWindow.checked(10 * DAY, 20 * DAY, None)
    timestamps = np.array([0, 10, 15, 20, 25]) * DAY

    np.testing.assert_array_equal(window.mask(timestamps), [False, True, True, False, False])


def test_days_count_back_from_the_newest_event_including_it():
    window = TrainingWindow.checked(None, None, 10)
    timestamps = np.array([0, 14, 15, 20, 25]) * DAY

    assert window.bounds(25 * DAY) == (15 * DAY + 1, 25 * DAY + 1)
    np.testing.assert_array_equal(window.mask(timestamps), [False, False, False, True, True])


def test_days_count_back_from_the_end_when_it_is_given():
    window = TrainingWindow.checked(None, 20 * DAY, 10)
    timestamps = np.array([0, 9, 10, 19, 20]) * DAY

    np.testing.assert_array_equal(window.mask(timestamps), [False, False, True, True, False])


def test_no_window_keeps_everything():
    window = TrainingWindow.checked(None, None, None)
    assert not window.is_set
    assert window.mask(np.array([0, 5])).all()


def test_start_with_days_and_an_empty_window_are_refused():
    with pytest.raises(InvalidInputError, match="give training_window_start or training_window_d"):
        TrainingWindow.checked(0, None, 30)
    with pytest.raises(InvalidInputError, match=r"training_window_start \(20\) must be before"):
        TrainingWindow.checked(20, 10, None)
    with pytest.raises(InvalidInputError, match="training_window_days must be a positive number"):
        TrainingWindow.checked(None, None, 0)

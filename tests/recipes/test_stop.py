"""A stop of the training ends a long fit between two iterations, not at its end."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from recipes.als import UserPersonalization
from recipes.base import check_stop, stop_checks
from recipes.hybrid import Hybrid
from tests.recipes.test_als import planted_blocks
from tests.recipes.test_hybrid import planted_genres


class StoppedError(Exception):
    """What the installed check raises."""


def stopping_after(calls: int, made: list[int]) -> Callable[[], None]:
    """A check that counts its calls into ``made`` and raises on call number ``calls``."""

    def check() -> None:
        made.append(len(made) + 1)
        if len(made) == calls:
            raise StoppedError

    return check


def test_check_stop_does_nothing_outside_a_training() -> None:
    check_stop()  # no check installed: a fit called directly never stops


def test_an_als_fit_stops_at_the_iteration_it_was_asked_to() -> None:
    recipe, made = UserPersonalization(), []
    hyperparameters = recipe.validate_hyperparameters({"factors": "4", "iterations": "100"})
    with stop_checks(stopping_after(3, made)), pytest.raises(StoppedError):
        recipe.fit(planted_blocks((0, 0)), hyperparameters, seed=3)
    assert made == [1, 2, 3]  # implicit called back after iterations 1, 2 and 3 of 100


def test_a_hybrid_fit_stops_at_the_epoch_it_was_asked_to() -> None:
    recipe, made = Hybrid(), []
    hyperparameters = recipe.validate_hyperparameters({"no_components": "4", "epochs": "100"})
    with stop_checks(stopping_after(2, made)), pytest.raises(StoppedError):
        recipe.fit(planted_genres(), hyperparameters, seed=5)
    assert made == [1, 2]  # checked before epochs 1 and 2 of 100


def test_the_check_is_removed_when_its_block_ends() -> None:
    made: list[int] = []
    with stop_checks(stopping_after(99, made)):
        check_stop()
    check_stop()
    assert made == [1]

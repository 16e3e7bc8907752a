"""Campaigns: a solution version loaded for serving.

A campaign memory-maps its version's arrays and answers with numpy alone: the recipe's
model scores, items the user already interacted with are removed, and the top N are chosen
with ties going to the lower item index. A user the model never saw gets the most popular
items, each marked with the reason ``"Popular item"``.

Events put after the version was trained take effect at the next request (see
:mod:`engine.live_events`): their items are excluded for that user, and the user, known or
new, is scored from their whole history by the model's fold-in.

A request may name a filter of the campaign's dataset group, with its values, and one
promotion; :mod:`engine.serving_rules` applies them to the scores, and
:meth:`Campaign.score_users` scores blocks of users for batch jobs (:mod:`engine.batch`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from engine.filter_store import Filter
from engine.live_events import LiveHistories
from engine.serving_data import ServingData, group_of
from engine.serving_rules import Promotion, RecommendedItem, ScoredUsers, ServingRules
from engine.store import DatasetGroup
from engine.store.files import read_json, write_json, writer_lock
from engine.store.store import check_name
from engine.training import SolutionVersion, get_solution

__all__ = [
    "MAX_RESULTS",
    "Campaign",
    "RecommendedItem",
    "Recommendations",
    "create_campaign",
    "get_campaign",
    "list_campaigns",
]

logger = logging.getLogger(__name__)

MAX_RESULTS = 500


@dataclass(frozen=True)
class Recommendations:
    """The answer to one request, in the service's shape."""

    items: list[RecommendedItem]
    recommendation_id: str
    solution_version: str
    fallback: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The service's response shape: ``itemList`` and ``recommendationId``."""
        return {
            "itemList": [item.to_dict() for item in self.items],
            "recommendationId": self.recommendation_id,
        }


@dataclass
class Campaign:
    """A solution version deployed for serving.

    Create one with :func:`create_campaign`; open an existing one with :func:`get_campaign`.
    """

    name: str
    version: SolutionVersion
    _arrays: dict[str, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._model, self._arrays = self.version.load_model()
        self._user_index = {str(user): index for index, user in enumerate(self._arrays["user_ids"])}
        self._item_ids = self._arrays["item_ids"]
        self._live = LiveHistories(self.version, self._model, self._arrays)
        serving_data = ServingData(group_of(self.version.path), self._item_ids)
        self._rules = ServingRules(serving_data, self._arrays["item_popularity"])
        logger.info(
            "campaign %s serves %s/%s: %d users, %d items",
            self.name,
            self.version.manifest["solution"],
            self.version.version_id,
            len(self._user_index),
            self._item_ids.size,
        )

    @property
    def num_items(self) -> int:
        """Size of the catalogue the campaign serves."""
        return int(self._item_ids.size)

    def user_ids(self) -> list[str]:
        """The users the version was trained on, in their dense-index order."""
        return [str(user) for user in self._arrays["user_ids"]]

    def item_ids(self) -> np.ndarray:
        """The catalogue, in item-index order: what masks and score rows are aligned to."""
        return self._item_ids

    @property
    def rules(self) -> ServingRules:
        """The campaign's filters, fill-up and promotions (see :mod:`engine.serving_rules`)."""
        return self._rules

    def get_recommendations(
        self,
        user_id: str,
        num_results: int = 25,
        *,
        filter: Filter | str | None = None,
        filter_values: Mapping[str, str] | None = None,
        promotion: Promotion | None = None,
    ) -> Recommendations:
        """Top ``num_results`` items for ``user_id``, never an item the user already took.

        Exactly ``num_results`` items come back whenever the catalogue has that many items
        the user has not interacted with and the filter lets through. Scores are the model's
        raw scores. The filter and the promotion apply as :mod:`engine.serving_rules` says.

        Parameters
        ----------
        user_id : str
            A user of the training data or of live events; any other id gets the popular
            items.
        num_results : int
            1 to 500, default 25.
        filter : Filter or str, optional
            A filter of the campaign's dataset group, or its name.
        filter_values : Mapping[str, str], optional
            The filter's placeholder values as the service passes them, e.g.
            ``{"GENRES": '"Comedy","Drama"'}``.
        promotion : Promotion, optional
            One promotion: a share of the slots for items that pass its own filter.

        Raises
        ------
        InvalidInputError
            ``num_results`` outside 1-500, an empty ``user_id``, or bad filter values.
        NotFoundError
            No filter of that name in the campaign's dataset group.

        Examples
        --------
        >>> campaign.get_recommendations(user_id="u42", num_results=10).items[0].item_id
        'v117'
        >>> campaign.get_recommendations(
        ...     "u42", 10, filter="by-genre", filter_values={"GENRES": '"Comedy"'}
        ... ).items[0].item_id
        'v031'
        """
        _check_request(user_id, num_results)
        scored = self.score_users([str(user_id)])
        popular = bool(scored.popular[0])
        items = self._rules.finish(
            scored.scores[0],
            num_results,
            excluded=scored.excluded_items(0),
            popular=popular,
            user_id=str(user_id),
            filter=filter,
            filter_values=filter_values,
            promotion=promotion,
        )
        return self._answer(items, fallback="popularity" if popular else None)

    def score_users(self, user_ids: Sequence[str]) -> ScoredUsers:
        """Score several users at once, before filters: what batch jobs rank in blocks.

        A training user is scored by the model, a user with events the version was not
        trained on from their whole history (fold-in), and any other user gets the item
        popularity (``popular`` is set for that row). The items each user took are in
        ``excluded``.

        Parameters
        ----------
        user_ids : sequence of str

        Returns
        -------
        ScoredUsers
            ``(len(user_ids), num_items)`` float32 scores.
        """
        self._live.refresh()
        ids = [str(user) for user in user_ids]
        indices = np.array([self._user_index.get(user, -1) for user in ids], np.int64)
        live = np.array([self._live.has_events(user) for user in ids], bool)

        popular = (indices < 0) & ~live
        scores = self._block_scores(ids, indices, live, popular)
        return ScoredUsers(scores, *self._excluded(indices, ids, live), popular)

    def _block_scores(
        self, ids: list[str], indices: np.ndarray, live: np.ndarray, popular: np.ndarray
    ) -> np.ndarray:
        """Model scores of training users, fold-in of live ones, popularity for the rest."""
        plain = (indices >= 0) & ~live
        if plain.all():
            return np.asarray(self._model.score_users(indices), dtype=np.float32)
        scores = np.empty((len(ids), self.num_items), np.float32)
        rows = np.flatnonzero(plain)
        if rows.size:
            scores[rows] = self._model.score_users(indices[rows])
        for row in np.flatnonzero(live).tolist():
            user = int(indices[row]) if indices[row] >= 0 else None
            scores[row] = self._live.scores(user, ids[row])
        scores[popular] = self._arrays["item_popularity"]
        return scores

    def _excluded(
        self, indices: np.ndarray, ids: list[str], live: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per user, the items they took (training history and new events), CSR-style."""
        seen_indptr = np.asarray(self._arrays["seen_indptr"])
        known = np.maximum(indices, 0)
        starts = np.where(indices >= 0, seen_indptr[known], 0)
        counts = np.where(indices >= 0, seen_indptr[known + 1] - starts, 0)
        indptr = np.zeros(indices.size + 1, np.int64)
        indptr[1:] = np.cumsum(counts)
        positions = np.arange(indptr[-1]) + np.repeat(starts - indptr[:-1], counts)
        seen = np.asarray(self._arrays["seen_indices"][positions], dtype=np.int64)
        if not live.any():
            return indptr, seen

        rows = np.split(seen, indptr[1:-1])
        for row in np.flatnonzero(live).tolist():
            rows[row] = np.concatenate((rows[row], self._live.new_items(ids[row])))
        indptr[1:] = np.cumsum([row.size for row in rows])
        return indptr, np.concatenate(rows)

    def _answer(self, items: list[RecommendedItem], fallback: str | None = None) -> Recommendations:
        return Recommendations(
            items=items,
            recommendation_id=f"RID-{uuid.uuid4()}",
            solution_version=self.version.version_id,
            fallback=fallback,
        )


def _check_request(user_id: str, num_results: int) -> None:
    if not user_id or len(str(user_id)) > 256:
        raise InvalidInputError("user_id must be 1-256 characters")
    if isinstance(num_results, bool) or not isinstance(num_results, int | np.integer):
        raise InvalidInputError(f"num_results must be an integer, got {num_results!r}")
    if not 1 <= num_results <= MAX_RESULTS:
        raise InvalidInputError(
            f"num_results must be between 1 and {MAX_RESULTS}, got {num_results}"
        )


def _campaigns_root(group: DatasetGroup) -> Path:
    return Path(group.path) / "campaigns"


def create_campaign(group: DatasetGroup, name: str, version: SolutionVersion) -> Campaign:
    """Deploy ``version`` as campaign ``name`` of ``group``.

    Raises
    ------
    InvalidInputError
        A bad name.
    AlreadyExistsError
        The group has a campaign of that name.
    InvalidStateError
        The version is not ACTIVE.
    """
    check_name(name)
    campaign = Campaign(name, version)
    path = _campaigns_root(group) / f"{name}.json"
    with writer_lock(_campaigns_root(group)):
        if path.exists():
            raise AlreadyExistsError(
                f"campaign {name!r} already exists in dataset group {group.name!r}"
            )
        record = {"name": name, "solution": version.manifest["solution"]}
        write_json(path, record | {"version_id": version.version_id})
    return campaign


def get_campaign(group: DatasetGroup, name: str) -> Campaign:
    """Open the campaign called ``name``.

    Raises
    ------
    NotFoundError
        The group has no such campaign.
    """
    path = _campaigns_root(group) / f"{name}.json"
    if not path.is_file():
        raise NotFoundError(f"campaign {name!r} does not exist in dataset group {group.name!r}")
    record = read_json(path)
    version = get_solution(group, record["solution"]).version(record["version_id"])
    return Campaign(name, version)


def list_campaigns(group: DatasetGroup) -> list[str]:
    """Names of the campaigns of ``group``."""
    return sorted(path.stem for path in _campaigns_root(group).glob("*.json"))

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
:meth:`Deployment.score_users` scores blocks of users for batch jobs (:mod:`engine.batch`).

Beside top-N, a campaign answers related items (:meth:`Campaign.get_similar_items`) for a
model that can relate items, and re-ranks a given list for a user with any model
(:meth:`Campaign.get_personalized_ranking`).

A campaign can be switched to another version, or made to follow its solution's latest
ACTIVE version (:func:`update_campaign`, :meth:`Campaign.update`). A :class:`Campaign`
serves through one immutable :class:`Deployment` at a time and replaces it whole, after the
new version is loaded, so no request fails or mixes two versions. Its record on disk is
described in :mod:`engine.campaign_records`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from engine.campaign_records import (
    campaign_records,
    campaigns_root,
    new_record,
    read_campaign_record,
    record_path,
    served_version,
    write_campaign_record,
)
from engine.campaign_updates import SwitchingCampaign, update_campaign
from engine.errors import AlreadyExistsError, InvalidInputError, InvalidStateError
from engine.filter_store import Filter
from engine.live_events import LiveHistories
from engine.serving_data import ServingData, group_of
from engine.serving_rules import Promotion, RecommendedItem, ScoredUsers, ServingRules
from engine.store import DatasetGroup
from engine.store.files import fsync_directory, writer_lock
from engine.store.store import check_name
from engine.training import SolutionVersion, get_solution

__all__ = [
    "MAX_RESULTS",
    "Campaign",
    "Deployment",
    "Ranking",
    "RecommendedItem",
    "Recommendations",
    "create_campaign",
    "delete_campaign",
    "get_campaign",
    "list_campaigns",
    "update_campaign",
]

logger = logging.getLogger(__name__)

MAX_RESULTS = 500
POPULAR_REASON = "Popular item"


@dataclass(frozen=True)
class Recommendations:
    """The answer to one request, in the service's shape."""

    items: list[RecommendedItem]
    recommendation_id: str
    solution_version: str
    fallback: str | None = None

    #: The key of the item list in the service's response.
    list_key: ClassVar[str] = "itemList"

    def to_dict(self) -> dict[str, Any]:
        """The service's response shape: ``itemList`` and ``recommendationId``."""
        return {
            self.list_key: [item.to_dict() for item in self.items],
            "recommendationId": self.recommendation_id,
        }


@dataclass(frozen=True)
class Ranking(Recommendations):
    """A re-ranked input list; its response key is ``personalizedRanking``."""

    list_key: ClassVar[str] = "personalizedRanking"


@dataclass
class Deployment:
    """One solution version loaded for serving; it never changes once loaded.

    Only its live histories grow as events arrive. A :class:`Campaign` serves through one
    deployment at a time and switches by replacing it whole.
    """

    name: str
    version: SolutionVersion
    _arrays: dict[str, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._model, self._arrays = self.version.load_model()
        self._user_index = {str(user): index for index, user in enumerate(self._arrays["user_ids"])}
        self._item_ids = self._arrays["item_ids"]
        self._item_position = {str(item): index for index, item in enumerate(self._item_ids)}
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
            items (or, from a model that scores every user alike, its scores).
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
        trained on from their whole history (fold-in), and any other user by a model that
        scores every user alike, or else with the item popularity (``popular`` is set for
        that row). The items each user took are in ``excluded``.

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
        unknown = (indices < 0) & ~live
        popular = unknown & (not self._model.same_for_every_user)
        scores = self._block_scores(ids, indices, live, unknown)
        return ScoredUsers(scores, *self._excluded(indices, ids, live), popular)

    def _block_scores(
        self, ids: list[str], indices: np.ndarray, live: np.ndarray, unknown: np.ndarray
    ) -> np.ndarray:
        """Model scores of training users, fold-in of live ones, a fallback for the rest."""
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
        if unknown.any():
            scores[unknown] = self._fallback_scores()
        return scores

    def _fallback_scores(self) -> np.ndarray:
        """What a user the model knows nothing about gets: the model's scores for everyone,
        from a model that gives everyone the same, or else item popularity."""
        if self._model.same_for_every_user:
            empty = sp.csr_matrix((1, self.num_items), dtype=np.float32)
            return np.asarray(self._model.score_histories(empty)[0], dtype=np.float32)
        return np.asarray(self._arrays["item_popularity"], dtype=np.float32)

    def _excluded(
        self, indices: np.ndarray, ids: list[str], live: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per user, the items they took (training history and new events), CSR-style."""
        seen_indptr = np.asarray(self._arrays["seen_indptr"])
        if indices.size == 1 and not live[0]:
            # One request for a user without new events: a slice of the training history.
            if indices[0] < 0:
                return np.zeros(2, np.int64), np.zeros(0, np.int64)
            start, stop = int(seen_indptr[indices[0]]), int(seen_indptr[indices[0] + 1])
            seen = np.asarray(self._arrays["seen_indices"][start:stop], dtype=np.int64)
            return np.array([0, stop - start], np.int64), seen
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

    def get_similar_items(
        self,
        item_id: str,
        num_results: int = 25,
        *,
        user_id: str | None = None,
        filter: Filter | str | None = None,
        filter_values: Mapping[str, str] | None = None,
        promotion: Promotion | None = None,
    ) -> Recommendations:
        """The ``num_results`` items most related to ``item_id``, never the item itself.

        A similar-items version reads its neighbour table; a factor model (ALS, hybrid,
        content-based) ranks items by the cosine of their factors or vectors. When the
        item has fewer related items than asked for, popular items fill the list, each
        with the reason ``"Popular item"`` and no score; an item the version never saw gets
        popular items only, as the service does. A filter may name ``CurrentItem`` fields
        (the item asked about) and, with ``user_id``, the user's interactions.

        Parameters
        ----------
        item_id : str
            An item of the catalogue; any other id gets the popular items.
        num_results : int
            1 to 500, default 25.
        user_id : str, optional
            The user asking, for filters on ``Interactions`` or ``CurrentUser``.
        filter, filter_values, promotion
            As for :meth:`get_recommendations`.

        Raises
        ------
        InvalidInputError
            ``num_results`` outside 1-500, or an empty ``item_id``.
        InvalidStateError
            The campaign's recipe cannot relate items (popularity-count, trending-now).

        Examples
        --------
        >>> campaign.get_similar_items("v117", num_results=5).items[0].item_id
        'v121'
        """
        _check_request(item_id, num_results, "item_id")
        if not self._model.supports_similar_items:
            raise InvalidStateError(
                f"campaign {self.name!r} serves a {self.version.recipe} version, which cannot "
                "relate items; deploy a similar-items version (or a factor model such as "
                "user-personalization) to get similar items"
            )
        item = self._item_position.get(str(item_id))
        scores = np.full(self.num_items, np.nan)
        if item is not None:
            # A filter or promotion may pass over the first neighbours: rank every one.
            wanted = num_results if filter is None and promotion is None else self.num_items
            indices, similarities = self._model.similar_items(item, wanted)
            scores[indices] = similarities
        items = self._rules.finish(
            scores,
            num_results,
            excluded=None if item is None else np.array([item]),
            popular=item is None,
            user_id=user_id,
            current_item=item,
            filter=filter,
            filter_values=filter_values,
            promotion=promotion,
        )
        return self._answer(items, fallback="popularity" if item is None else None)

    def get_personalized_ranking(
        self,
        user_id: str,
        input_list: Sequence[str],
        *,
        filter: Filter | str | None = None,
        filter_values: Mapping[str, str] | None = None,
    ) -> Ranking:
        """``input_list`` re-ordered for ``user_id``, best first, as the model scores it.

        Every item of the list comes back once: items the model knows in order of their
        scores (ties keep the list's order), then items it does not know, in the list's
        order and without a score, as the service appends them. An item of the catalogue
        without interactions is scored like any other, and items the user already took are
        ranked too. A user the model knows nothing about gets the known items
        ranked by popularity, each with the reason ``"Popular item"``. A filter drops the
        catalogue items it does not let through, as the service's filtered ranking does.

        Limitation: an id the catalogue does not know has no fields for a filter to read,
        so a filter never drops it; it stays at the end, unscored.

        Parameters
        ----------
        user_id : str
            The user to rank for.
        input_list : sequence of str
            1 to 500 distinct item ids.
        filter, filter_values
            As for :meth:`get_recommendations`.

        Raises
        ------
        InvalidInputError
            An empty ``user_id``, or an input list that is empty, longer than 500 or holds
            an item twice.

        Examples
        --------
        >>> ranking = campaign.get_personalized_ranking("u42", ["v3", "v117", "nope"])
        >>> [(item.item_id, item.score is None) for item in ranking.items]
        [('v117', False), ('v3', False), ('nope', True)]
        """
        _check_user(user_id)
        wanted = _checked_input_list(input_list)
        scores = self._user_scores(str(user_id))
        reason: tuple[str, ...] = ()
        if scores is None:
            scores = np.asarray(self._arrays["item_popularity"], dtype=np.float64)
            reason = (POPULAR_REASON,)

        positions = np.array([self._item_position.get(item, -1) for item in wanted])
        allowed = self._rules.allowed_items(filter, filter_values, user_id=str(user_id))
        if allowed is not None:
            keep = (positions < 0) | allowed[np.maximum(positions, 0)]
            wanted = [item for item, kept in zip(wanted, keep.tolist(), strict=True) if kept]
            positions = positions[keep]
        known = np.flatnonzero(positions >= 0)
        order = known[np.argsort(-scores[positions[known]], kind="stable")]
        ranked = [RecommendedItem(wanted[k], float(scores[positions[k]]), reason) for k in order]
        unscored = [RecommendedItem(wanted[k], None) for k in np.flatnonzero(positions < 0)]
        return Ranking(
            items=ranked + unscored,
            recommendation_id=f"RID-{uuid.uuid4()}",
            solution_version=self.version.version_id,
            fallback="popularity" if reason else None,
        )

    def _user_scores(self, user_id: str) -> np.ndarray | None:
        """The model's float64 scores of every item for the user; ``None`` if it cannot say.

        A user with new events is folded in from them; a user the model never saw is
        scored only by a model that gives everyone the same scores.
        """
        user = self._user_index.get(user_id)
        self._live.refresh()
        if self._live.has_events(user_id):
            return self._live.scores(user, user_id)
        if user is not None:
            return np.asarray(self._model.score_users(np.array([user]))[0], dtype=np.float64)
        if self._model.same_for_every_user:
            empty = sp.csr_matrix((1, self.num_items), dtype=np.float32)
            return np.asarray(self._model.score_histories(empty)[0], dtype=np.float64)
        return None

    def _items(
        self, indices: np.ndarray, scores: np.ndarray, reason: tuple[str, ...] = ()
    ) -> list[RecommendedItem]:
        """Answer items for catalogue ``indices``; one read of the memory-mapped ids."""
        item_ids = self._item_ids[np.asarray(indices, dtype=np.int64)].tolist()
        return [
            RecommendedItem(str(item), score, reason)
            for item, score in zip(
                item_ids, np.asarray(scores, dtype=np.float64).tolist(), strict=True
            )
        ]

    def _answer(self, items: list[RecommendedItem], fallback: str | None = None) -> Recommendations:
        return Recommendations(
            items=items,
            recommendation_id=f"RID-{uuid.uuid4()}",
            solution_version=self.version.version_id,
            fallback=fallback,
        )


def _check_user(user_id: str) -> None:
    if not user_id or len(str(user_id)) > 256:
        raise InvalidInputError("user_id must be 1-256 characters")


def _checked_input_list(input_list: Sequence[str]) -> list[str]:
    """The list as strings, refused when empty, over 500 items or holding an item twice."""
    if isinstance(input_list, str):
        raise InvalidInputError("input_list must be a list of item ids, not one string")
    wanted = [str(item) for item in input_list]
    if not 1 <= len(wanted) <= MAX_RESULTS:
        raise InvalidInputError(
            f"input_list must hold 1 to {MAX_RESULTS} item ids, got {len(wanted)}"
        )
    seen: set[str] = set()
    for item in wanted:
        if item in seen:
            raise InvalidInputError(f"input_list holds item {item!r} more than once")
        seen.add(item)
    return wanted


def _check_request(user_id: str, num_results: int, id_name: str = "user_id") -> None:
    if not user_id or len(str(user_id)) > 256:
        raise InvalidInputError(f"{id_name} must be 1-256 characters")
    if isinstance(num_results, bool) or not isinstance(num_results, int | np.integer):
        raise InvalidInputError(f"num_results must be an integer, got {num_results!r}")
    if not 1 <= num_results <= MAX_RESULTS:
        raise InvalidInputError(
            f"num_results must be between 1 and {MAX_RESULTS}, got {num_results}"
        )


def create_campaign(
    group: DatasetGroup, name: str, version: SolutionVersion, *, sync_with_latest: bool = False
) -> Campaign:
    """Deploy ``version`` as campaign ``name`` of ``group``.

    Parameters
    ----------
    group
        The dataset group.
    name
        The campaign's name.
    version
        An ACTIVE solution version.
    sync_with_latest
        Serve the solution's latest ACTIVE version from now on, switching to each new one
        as it becomes ACTIVE (the service's ``syncWithLatestSolutionVersion``).

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
    if sync_with_latest:
        version = get_solution(group, version.manifest["solution"]).version()
    deployment = Deployment(name, version)
    with writer_lock(campaigns_root(group)):
        if record_path(group, name).exists():
            raise AlreadyExistsError(
                f"campaign {name!r} already exists in dataset group {group.name!r}"
            )
        record = new_record(name, version, sync_with_latest)
        write_campaign_record(group, record)
    return Campaign(name, version, group, deployment=deployment, record=record)


def get_campaign(group: DatasetGroup, name: str) -> Campaign:
    """Open the campaign called ``name``, serving the version its record names.

    Raises
    ------
    NotFoundError
        The group has no such campaign.
    """
    record = read_campaign_record(group, name)
    version = served_version(group, record)
    return Campaign(name, version, group, record=record)


def list_campaigns(group: DatasetGroup) -> list[str]:
    """Names of the campaigns of ``group``."""
    return [record["name"] for record in campaign_records(group)]


def delete_campaign(group: DatasetGroup, name: str) -> None:
    """Delete campaign ``name`` of ``group``: its record goes, its versions stay.

    The versions it served can then be deleted. A process that has the campaign open keeps
    serving the version it loaded (and logs that its record is gone) until it closes it.

    Raises
    ------
    NotFoundError
        The group has no such campaign.
    InUseError
        Another writer is changing the group's campaigns.
    """
    with writer_lock(campaigns_root(group)):
        path = record_path(group, name)
        read_campaign_record(group, name)  # NotFoundError naming the campaign and group
        path.unlink()
        fsync_directory(path.parent)
    logger.info("deleted campaign %s of dataset group %s", name, group.name)


class Campaign(SwitchingCampaign[Deployment]):
    """A campaign: a solution version deployed for serving, which can be switched.

    Create one with :func:`create_campaign`; open an existing one with :func:`get_campaign`.
    It serves through one :class:`Deployment` at a time; :meth:`update` and :meth:`refresh`
    switch it whole, and a campaign opened from a store follows its record (see
    :class:`~engine.campaign_updates.SwitchingCampaign`). Every attribute not defined here
    (``num_items``, ``user_ids``, ...) is the served deployment's.

    Parameters
    ----------
    name
        The campaign's name.
    version
        The version to serve.
    group
        The dataset group whose record the campaign follows; ``None`` for a campaign that
        only serves ``version``.
    check_interval
        Seconds between checks of the record.
    """

    def __init__(
        self,
        name: str,
        version: SolutionVersion,
        group: DatasetGroup | None = None,
        *,
        check_interval: float = 1.0,
        deployment: Deployment | None = None,
        record: dict[str, Any] | None = None,
    ) -> None:
        load = partial(Deployment, name)
        super().__init__(
            name,
            version,
            group,
            load,
            check_interval=check_interval,
            deployment=deployment,
            record=record,
        )

    def get_recommendations(self, *args: Any, **kwargs: Any) -> Recommendations:
        """Top-N for a user from the version served now; the parameters are those of
        :meth:`Deployment.get_recommendations`."""
        return self.serving().get_recommendations(*args, **kwargs)

    def get_similar_items(self, *args: Any, **kwargs: Any) -> Recommendations:
        """Related items from the version served now; the parameters are those of
        :meth:`Deployment.get_similar_items`."""
        return self.serving().get_similar_items(*args, **kwargs)

    def get_personalized_ranking(self, *args: Any, **kwargs: Any) -> Ranking:
        """A re-ranked list from the version served now; the parameters are those of
        :meth:`Deployment.get_personalized_ranking`."""
        return self.serving().get_personalized_ranking(*args, **kwargs)

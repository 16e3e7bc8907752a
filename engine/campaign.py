"""Campaigns: a solution version loaded for serving.

A campaign memory-maps its version's arrays and answers with numpy alone: the recipe's
model scores, items the user already interacted with are removed, and the top N are chosen
with ties going to the lower item index. A user the model never saw gets the most popular
items, each marked with the reason ``"Popular item"``.

Events put after the version was trained take effect at the next request (see
:mod:`engine.live_events`): their items are excluded for that user, and the user, known or
new, is scored from their whole history by the model's fold-in.

A campaign can be switched to another version, or made to follow its solution's latest
ACTIVE version (:func:`update_campaign`, :meth:`Campaign.update`). A :class:`Campaign`
serves through one immutable :class:`Deployment` at a time and replaces it whole, after the
new version is loaded, so no request fails or mixes two versions. Its record on disk is
described in :mod:`engine.campaign_records`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

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
from engine.errors import AlreadyExistsError, InvalidInputError
from engine.evaluation import top_items
from engine.live_events import LiveHistories
from engine.store import DatasetGroup
from engine.store.files import writer_lock
from engine.store.store import check_name
from engine.training import SolutionVersion, get_solution

__all__ = [
    "MAX_RESULTS",
    "Campaign",
    "Deployment",
    "RecommendedItem",
    "Recommendations",
    "create_campaign",
    "get_campaign",
    "list_campaigns",
    "update_campaign",
]

logger = logging.getLogger(__name__)

MAX_RESULTS = 500
POPULAR_REASON = "Popular item"


@dataclass(frozen=True)
class RecommendedItem:
    """One recommended item, its score and, for fallback items, why it is there."""

    item_id: str
    score: float
    reason: tuple[str, ...] = ()


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
            "itemList": [
                {"itemId": item.item_id, "score": item.score}
                | ({"reason": list(item.reason)} if item.reason else {})
                for item in self.items
            ],
            "recommendationId": self.recommendation_id,
        }


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
        self._live = LiveHistories(self.version, self._model, self._arrays)
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

    def get_recommendations(self, user_id: str, num_results: int = 25) -> Recommendations:
        """Top ``num_results`` items for ``user_id``, never an item the user already took.

        Exactly ``num_results`` items come back whenever the catalogue has that many items
        the user has not interacted with. Scores are the model's raw scores.

        Parameters
        ----------
        user_id : str
            A user of the training data; any other id gets the popular items.
        num_results : int
            1 to 500, default 25.

        Raises
        ------
        InvalidInputError
            ``num_results`` outside 1-500, or an empty ``user_id``.

        Examples
        --------
        >>> campaign.get_recommendations(user_id="u42", num_results=10).items[0].item_id
        'v117'
        """
        _check_request(user_id, num_results)
        user = self._user_index.get(str(user_id))
        self._live.refresh()
        live = self._live.has_events(str(user_id))
        if user is None and not live:
            return self._popular(num_results)
        if live:
            scores = self._live.scores(user, str(user_id))
            scores[self._live.new_items(str(user_id))] = -np.inf
        else:
            scores = np.asarray(self._model.score_users(np.array([user]))[0], dtype=np.float64)
        if user is not None:
            scores[self._seen_items(user)] = -np.inf
        best = top_items(scores, num_results)
        items = [RecommendedItem(str(self._item_ids[i]), float(scores[i])) for i in best]
        return self._answer(items)

    def _seen_items(self, user: int) -> np.ndarray:
        indptr = self._arrays["seen_indptr"]
        return np.asarray(self._arrays["seen_indices"][indptr[user] : indptr[user + 1]])

    def _popular(self, num_results: int) -> Recommendations:
        popularity = np.asarray(self._arrays["item_popularity"], dtype=np.float64)
        best = top_items(popularity, num_results)
        items = [
            RecommendedItem(str(self._item_ids[i]), float(popularity[i]), (POPULAR_REASON,))
            for i in best
        ]
        return self._answer(items, fallback="popularity")

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

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
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from engine.campaign_records import (
    campaign_records,
    campaigns_root,
    new_record,
    read_campaign_record,
    record_path,
    served_version,
    updated_record,
    write_campaign_record,
)
from engine.errors import AlreadyExistsError, InvalidInputError, InvalidStateError, RecengineError
from engine.evaluation import top_items
from engine.lifecycle import CHANGED
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
Prepared = TypeVar("Prepared")
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
    return Campaign(name, version, group, _deployment=deployment, _record=record)


def get_campaign(group: DatasetGroup, name: str) -> Campaign:
    """Open the campaign called ``name``, serving the version its record names.

    Raises
    ------
    NotFoundError
        The group has no such campaign.
    """
    record = read_campaign_record(group, name)
    version = served_version(group, record)
    return Campaign(name, version, group, _record=record)


def list_campaigns(group: DatasetGroup) -> list[str]:
    """Names of the campaigns of ``group``."""
    return [record["name"] for record in campaign_records(group)]


def update_campaign(
    group: DatasetGroup,
    name: str,
    version: SolutionVersion | None = None,
    *,
    sync_with_latest: bool | None = None,
) -> dict[str, Any]:
    """Point campaign ``name`` at another version, or at its solution's latest one.

    Processes serving the campaign switch at their next check (see :class:`Campaign`); the
    artifact is verified first, so a damaged version is refused before any campaign
    names it.

    Parameters
    ----------
    group
        The dataset group.
    name
        The campaign.
    version
        The ACTIVE version to serve. ``None`` keeps the current one, or when the campaign
        follows its solution, takes the latest ACTIVE version.
    sync_with_latest
        ``True``: follow the latest ACTIVE version of the solution (of ``version``, if
        given) from now on. ``False``: stop following and serve ``version`` (or the one
        served now). ``None``: stop following if a version is given, else keep the
        campaign's setting.

    Returns
    -------
    dict
        The campaign's new record (see :mod:`engine.campaign_records`).

    Raises
    ------
    NotFoundError
        No such campaign, or no ACTIVE version to follow.
    InvalidStateError
        The version is not ACTIVE.
    ArtifactError
        The version's artifact is damaged.
    InUseError
        Another writer is changing the group's campaigns.
    """
    record, _ = _update(group, name, version, sync_with_latest, lambda chosen: chosen.load_model())
    return record


def _update(
    group: DatasetGroup,
    name: str,
    version: SolutionVersion | None,
    sync_with_latest: bool | None,
    prepare: Callable[[SolutionVersion], Prepared],
) -> tuple[dict[str, Any], Prepared]:
    """Choose the version, ``prepare`` it (load it), then write the updated record."""
    with writer_lock(campaigns_root(group)):
        record = read_campaign_record(group, name)
        sync = _sync_setting(record, version, sync_with_latest)
        if version is None:
            current = get_solution(group, record["solution"])
            version = current.version() if sync else current.version(record["version_id"])
        elif sync:
            version = get_solution(group, version.manifest["solution"]).version()
        _check_same_group(group, version)
        prepared = prepare(version)
        record = updated_record(record, version, sync)
        write_campaign_record(group, record)
    logger.info("campaign %s now serves %s/%s", name, record["solution"], record["version_id"])
    return record, prepared


def _sync_setting(
    record: dict[str, Any], version: SolutionVersion | None, sync_with_latest: bool | None
) -> bool:
    """Whether the campaign follows its solution's latest version after the update.

    A version given without ``sync_with_latest`` means "serve this one": following stops.
    """
    if sync_with_latest is not None:
        return sync_with_latest
    return version is None and bool(record.get("sync_with_latest", False))


def _check_same_group(group: DatasetGroup, version: SolutionVersion) -> None:
    if version.manifest["dataset_group"] != group.name:
        raise InvalidInputError(
            f"solution version {version.manifest['solution']}/{version.version_id} belongs "
            f"to dataset group {version.manifest['dataset_group']!r}, not {group.name!r}"
        )


class Campaign:
    """A campaign: a solution version deployed for serving, which can be switched.

    Create one with :func:`create_campaign`; open an existing one with :func:`get_campaign`.

    The campaign serves through one :class:`Deployment`, the loaded version, held by a
    single reference. A switch loads the new version completely first and then replaces
    the reference in one assignment, so every request runs wholly on one version: requests
    in flight finish on the old one, later ones get the new one, and none fails.

    A campaign opened from a store follows its record: every ``check_interval`` seconds a
    request ``stat``s the record (and, when the campaign follows its solution's latest
    version, the solution's change marker); on a change, a background thread loads the
    version the record names and switches. :meth:`refresh` does the same at once.

    Every attribute not defined here (``num_items``, ``user_ids``, ...) is the served
    deployment's, read at the moment of the lookup.

    Parameters
    ----------
    name
        The campaign's name.
    version
        The version to serve.
    group
        The dataset group whose record the campaign follows; ``None`` for a campaign that
        only serves ``version`` (it cannot be updated).
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
        _deployment: Deployment | None = None,
        _record: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.group = group
        self.check_interval = check_interval
        self._deployment = _deployment or Deployment(name, version)
        self._record = _record
        self._switching = threading.Lock()
        self._reloading = False
        self._next_check = time.monotonic() + check_interval
        self._seen = self._signature()

    def __repr__(self) -> str:
        return f"Campaign({self.name!r}, {self.version.version_id!r})"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        self._follow()
        return getattr(self._deployment, name)

    @property
    def version(self) -> SolutionVersion:
        """The version served now."""
        return self._deployment.version

    def get_recommendations(self, *args: Any, **kwargs: Any) -> Recommendations:
        """Top-N for a user from the version served now; see
        :meth:`Deployment.get_recommendations` for the parameters."""
        self._follow()
        return self._deployment.get_recommendations(*args, **kwargs)

    def update(
        self, version: SolutionVersion | None = None, *, sync_with_latest: bool | None = None
    ) -> Campaign:
        """Switch to ``version`` (or the solution's latest), recording it; see
        :func:`update_campaign` for the parameters and errors.

        The new version is loaded before the record changes and before the switch, so this
        campaign keeps serving the old one until then, and not at all if loading fails.
        """
        group = self._store_group()
        with self._switching:
            record, deployment = _update(
                group, self.name, version, sync_with_latest, partial(Deployment, self.name)
            )
            self._switch(deployment, record)
        return self

    def refresh(self) -> bool:
        """Serve what the record names now, loading it first; return whether it switched.

        Raises
        ------
        InvalidStateError
            The campaign was not opened from a store.
        NotFoundError
            The record names a version that is gone.
        """
        group = self._store_group()
        with self._switching:
            record = read_campaign_record(group, self.name)
            target = served_version(group, record)
            current = self._deployment.version
            self._record = record
            if _same_version(target, current):
                return False
            self._switch(Deployment(self.name, target), record)
        return True

    def describe(self) -> dict[str, Any]:
        """The campaign's record and the version it serves now."""
        served = self._deployment.version
        return {
            **(self._record or {"name": self.name, "status": "ACTIVE"}),
            "serving": {"solution": served.manifest["solution"], "version_id": served.version_id},
        }

    def _switch(self, deployment: Deployment, record: dict[str, Any]) -> None:
        old = self._deployment.version
        self._deployment = deployment
        self._record = record
        self._seen = self._signature()
        logger.info(
            "campaign %s switched from %s/%s to %s/%s",
            self.name,
            old.manifest["solution"],
            old.version_id,
            deployment.version.manifest["solution"],
            deployment.version.version_id,
        )

    def _store_group(self) -> DatasetGroup:
        if self.group is None:
            raise InvalidStateError(
                f"campaign {self.name!r} was not opened from a store, so it cannot be updated; "
                "open it with get_campaign"
            )
        return self.group

    def _follow(self) -> None:
        """Every ``check_interval`` seconds, switch in the background if the record changed."""
        if self.group is None or time.monotonic() < self._next_check:
            return
        self._next_check = time.monotonic() + self.check_interval
        signature = self._signature()
        if signature == self._seen or self._reloading:
            return
        self._seen = signature
        self._reloading = True
        threading.Thread(target=self._reload, name=f"campaign-{self.name}", daemon=True).start()

    def _reload(self) -> None:
        try:
            self.refresh()
        except RecengineError as error:
            logger.warning("campaign %s keeps serving %s: %s", self.name, self.version, error)
        finally:
            self._reloading = False

    def _signature(self) -> tuple[Any, ...]:
        """What changes when the record or the solution's versions change."""
        if self.group is None:
            return ()
        solution = self._deployment.version.path.parent
        return (_stat(record_path(self.group, self.name)), _stat(solution / CHANGED))


def _same_version(one: SolutionVersion, other: SolutionVersion) -> bool:
    return one.path == other.path


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return (found.st_ino, found.st_mtime_ns, found.st_size)

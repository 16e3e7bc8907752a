"""Campaign updates: switching the version a campaign serves, without a failed request.

A campaign serves through one *deployment*, a solution version loaded for serving, held by
a single reference. A switch loads the new version completely first and then replaces the
reference in one assignment, so every request runs wholly on one version: requests in
flight finish on the old one, later ones get the new one, and none fails.

:func:`update_campaign` points a campaign's record (see :mod:`engine.campaign_records`) at
another version, or makes it follow its solution's latest ACTIVE version; a serving
:class:`SwitchingCampaign` notices within ``check_interval`` seconds and switches.
:class:`engine.campaign.Campaign` is the one used for serving.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, Protocol, Self, TypeVar

from engine.campaign_records import (
    campaigns_root,
    read_campaign_record,
    record_path,
    served_version,
    updated_record,
    write_campaign_record,
)
from engine.errors import InvalidInputError, InvalidStateError, RecengineError
from engine.lifecycle import CHANGED
from engine.store import DatasetGroup
from engine.store.files import writer_lock
from engine.training import SolutionVersion, get_solution

__all__ = ["SwitchingCampaign", "update_campaign"]

logger = logging.getLogger(__name__)


class Deployed(Protocol):
    """What a campaign serves through: a loaded version."""

    @property
    def version(self) -> SolutionVersion:
        """The version loaded."""
        ...


Served = TypeVar("Served", bound=Deployed)
Prepared = TypeVar("Prepared")


def update_campaign(
    group: DatasetGroup,
    name: str,
    version: SolutionVersion | None = None,
    *,
    sync_with_latest: bool | None = None,
) -> dict[str, Any]:
    """Point campaign ``name`` at another version, or at its solution's latest one.

    Processes serving the campaign switch at their next check (see
    :class:`SwitchingCampaign`); the artifact is verified first, so a damaged version is
    refused before any campaign names it.

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


class SwitchingCampaign(Generic[Served]):
    """The part of a campaign that switches the version it serves.

    The campaign serves through one deployment, the loaded version, held by a
    single reference. A switch loads the new version completely first and then replaces
    the reference in one assignment, so every request runs wholly on one version: requests
    in flight finish on the old one, later ones get the new one, and none fails.

    A campaign opened from a store follows its record: every ``check_interval`` seconds a
    request ``stat``s the record (and, when the campaign follows its solution's latest
    version, the solution's change marker); on a change, a background thread loads the
    version the record names and switches. :meth:`refresh` does the same at once.

    Every attribute not defined here is the served deployment's, read at the moment of
    the lookup.

    Parameters
    ----------
    name
        The campaign's name.
    version
        The version to serve.
    group
        The dataset group whose record the campaign follows; ``None`` for a campaign that
        only serves ``version`` (it cannot be updated).
    load
        Loads a version for serving: the deployment.
    check_interval
        Seconds between checks of the record.
    deployment, record
        The deployment of ``version`` and the record, when the caller has them already.
    """

    def __init__(
        self,
        name: str,
        version: SolutionVersion,
        group: DatasetGroup | None,
        load: Callable[[SolutionVersion], Served],
        *,
        check_interval: float = 1.0,
        deployment: Served | None = None,
        record: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.group = group
        self.check_interval = check_interval
        self._load = load
        self._deployment = deployment or load(version)
        self._record = record
        self._switching = threading.Lock()
        self._reloading = False
        self._next_check = time.monotonic() + check_interval
        self._seen = self._signature()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.version.version_id!r})"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        self._follow()
        return getattr(self._deployment, name)

    @property
    def version(self) -> SolutionVersion:
        """The version served now."""
        return self._deployment.version

    def serving(self) -> Served:
        """The deployment serving now, after the periodic check of the record."""
        self._follow()
        return self._deployment

    def update(
        self, version: SolutionVersion | None = None, *, sync_with_latest: bool | None = None
    ) -> Self:
        """Switch to ``version`` (or the solution's latest), recording it; see
        :func:`update_campaign` for the parameters and errors.

        The new version is loaded before the record changes and before the switch, so this
        campaign keeps serving the old one until then, and not at all if loading fails.
        """
        group = self._store_group()
        with self._switching:
            record, deployment = _update(group, self.name, version, sync_with_latest, self._load)
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
            self._switch(self._load(target), record)
        return True

    def describe(self) -> dict[str, Any]:
        """The campaign's record and the version it serves now."""
        served = self._deployment.version
        return {
            **(self._record or {"name": self.name, "status": "ACTIVE"}),
            "serving": {"solution": served.manifest["solution"], "version_id": served.version_id},
        }

    def _switch(self, deployment: Served, record: dict[str, Any]) -> None:
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

"""Batch inference and batch segment jobs: JSON Lines in, JSON Lines out, as the service does.

Batch inference reads one request per line, in the service's input formats::

    {"userId": "4638"}                                    recommendations for a user
    {"userId": "891", "itemList": ["27", "886", "101"]}   personalized ranking of a list
    {"itemId": "105"}                                     related items (userId optional)

and any line may add ``"filterValues": {"GENRES": "\\"horror\\",\\"comedy\\""}`` for the job's
filter. Each input line gets exactly one output line, in order::

    {"input": {"userId": "4638"}, "output": {"recommendedItems": [...], "scores": [...]},
     "error": null}

A user's line holds what :meth:`~engine.campaign.Campaign.get_recommendations` gives for
the user, except that a block's matrix product rounds a little differently from one user's
(scores agree to about one part in a million). A line that cannot be answered (not JSON,
unknown keys, bad filter values, an item outside the catalogue) gets ``"output": null`` and
an ``"error"`` that names the line and the problem; the other lines are unaffected. As in the
service, a popularity-count version and related items carry no ``scores``; a popular item
that fills a list a filter left short has a null score.

A batch segment job reads ``{"itemId": "105"}`` lines and writes the users most likely to
take each item, most likely first: ``"output": {"recommendedUsers": [...]}``. The users who
already took the item are left out, and so are those the job's user-segment (``UserID``)
filter leaves out; a line may add ``"filterValues"`` for that filter, as in batch inference.

Memory stays bounded whatever the size of the job: lines are read, answered and written a
block at a time, a few blocks ahead; each worker thread (one per core) scores a block of
users at a time (at most ``block_bytes`` of scores), so a job over every user of a large
catalogue never holds a users-by-items matrix; a segment job keeps only each item's best
users so far while it passes once over the users (per 500 items). A segment job's filter adds
one byte per user for each distinct ``filterValues`` among those 500 lines. The output is
written to a temporary file and renamed into place when the job succeeds.

Limitation: jobs are not stored as named resources (no describe or list); a segment job ranks
the users the version was trained on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import IO, Any

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from engine.campaign import MAX_RESULTS, Campaign, Deployment
from engine.errors import InvalidInputError, RecengineError
from engine.filter_store import Filter
from engine.serving_rules import RankedBlock, top_n_rows
from engine.store.files import atomic_open
from engine.training import SolutionVersion

__all__ = [
    "DEFAULT_BLOCK_BYTES",
    "MAX_SEGMENT_ITEMS",
    "BatchJobSummary",
    "run_batch_inference",
    "run_batch_segment",
]

logger = logging.getLogger(__name__)

DEFAULT_BLOCK_BYTES = 64 * 1024 * 1024
MAX_SEGMENT_ITEMS = 500
MAX_BLOCK_ROWS = 4096
MAX_WORKERS = 8
MAX_ID = 256
_KEYS = frozenset({"userId", "itemId", "itemList", "filterValues"})
_UNSCORED_RECIPES = ("popularity-count",)


@dataclass(frozen=True)
class BatchJobSummary:
    """What a job did: its lines, how many of them are error lines, and how long it took."""

    job_type: str
    input_path: str
    output_path: str
    num_lines: int
    num_errors: int
    seconds: float

    def describe(self) -> dict[str, Any]:
        """The summary as a dict, with lines per second."""
        rate = self.num_lines / self.seconds if self.seconds > 0 else 0.0
        return {
            "job_type": self.job_type,
            "input": self.input_path,
            "output": self.output_path,
            "num_lines": self.num_lines,
            "num_errors": self.num_errors,
            "seconds": round(self.seconds, 3),
            "lines_per_second": round(rate, 1),
        }


@dataclass
class _Line:
    """One input line and, once answered, its output (or its output's JSON text) or error.

    ``source`` is the line's JSON text when it parsed, echoed as it came.
    """

    number: int
    input: Any
    source: str | None = None
    kind: str = ""
    error: str | None = None
    output: dict[str, Any] | None = None
    render: Callable[[], str] | None = None

    def fail(self, message: str) -> None:
        self.error = f"line {self.number}: {message}"

    def text(self) -> str:
        """The output line; ``render``, when set, builds the output's JSON text now."""
        if self.render is not None and self.error is None:
            return f'{{"input": {self.source}, "output": {self.render()}, "error": null}}\n'
        record = {"input": self.input, "output": self.output, "error": self.error}
        return json.dumps(record, allow_nan=False) + "\n"

    @property
    def values(self) -> Mapping[str, str] | None:
        return self.input.get("filterValues") if isinstance(self.input, dict) else None


@lru_cache(maxsize=MAX_RESULTS + 1)
def _score_format(count: int) -> str:
    """A %-format for ``count`` scores: one formatting call per line instead of one a score."""
    return ", ".join(["%.9g"] * count)


def _campaign(source: Campaign | SolutionVersion) -> Deployment:
    """The deployment a job runs on from start to end, even if the campaign switches."""
    if isinstance(source, Campaign):
        return source.serving()
    name = f"batch-{source.manifest['solution']}-{source.version_id}"
    return Campaign(name, source).serving()


def _check_num_results(num_results: int, maximum: int) -> None:
    if isinstance(num_results, bool) or not isinstance(num_results, int):
        raise InvalidInputError(f"num_results must be an integer, got {num_results!r}")
    if not 1 <= num_results <= maximum:
        raise InvalidInputError(f"num_results must be between 1 and {maximum}, got {num_results}")


def _block_rows(campaign: Deployment, block_bytes: int) -> int:
    """How many users fit in ``block_bytes`` of float32 scores."""
    if block_bytes < 1:
        raise InvalidInputError(f"block_bytes must be positive, got {block_bytes}")
    return int(min(MAX_BLOCK_ROWS, max(1, block_bytes // (4 * max(1, campaign.num_items)))))


def run_batch_inference(
    source: Campaign | SolutionVersion,
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    num_results: int = 25,
    filter: Filter | str | None = None,
    show_progress: bool = False,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    workers: int | None = None,
) -> BatchJobSummary:
    """Answer every line of a JSON Lines file with recommendations, a ranking or related items.

    Parameters
    ----------
    source : Campaign or SolutionVersion
        What answers; a version is served as the campaign it would be. The version a
        campaign serves when the job starts serves the whole job.
    input_path, output_path
        JSON Lines files; the output is replaced only when the job succeeds.
    num_results : int
        Items per user or per item, 1-500 (default 25).
    filter : Filter or str, optional
        The job's item (``ItemID``) filter; each line gives its values in ``filterValues``.
    show_progress : bool
        Show a progress bar over the input's bytes.
    block_bytes : int
        At most this many bytes of scores per worker at once (64 MiB by default).
    workers : int, optional
        Threads scoring blocks at once; one per core by default. With more than one, BLAS
        runs one thread per call in this process while the job runs.

    Returns
    -------
    BatchJobSummary

    Raises
    ------
    InvalidInputError
        A bad ``num_results``, ``block_bytes`` or ``workers``, or a ``UserID`` filter; a bad
        line is an error line, not an error.
    NotFoundError
        No filter of that name.

    Examples
    --------
    >>> run_batch_inference(campaign, "users.jsonl", "users.jsonl.out").num_lines
    943
    """
    campaign = _campaign(source)
    _check_num_results(num_results, MAX_RESULTS)
    chosen = _filter(campaign, filter, "ItemID", "a batch inference job")
    job = _InferenceJob(campaign, num_results, chosen)
    rows = _block_rows(campaign, block_bytes)
    paths = (Path(input_path), Path(output_path))
    return _run("BATCH_INFERENCE", job.answer, paths, rows, _workers(workers), show_progress)


def _filter(
    campaign: Deployment, chosen: Filter | str | None, target: str, use: str
) -> Filter | None:
    """The job's filter, read once, refused unless it is a ``target`` filter."""
    if chosen is None:
        return None
    found = campaign.rules.data.resolve(chosen)
    found.check_target(target, use)
    return found


def _run(
    job_type: str,
    answer: Callable[[list[_Line]], None],
    paths: tuple[Path, Path],
    block_rows: int,
    workers: int,
    show_progress: bool,
) -> BatchJobSummary:
    """Read, answer and write lines a block at a time; count lines and errors.

    ``workers`` threads answer blocks at once (numpy and BLAS mostly run without the GIL) while
    this thread reads the next blocks and writes the answered ones in order; with more than
    one worker, BLAS runs one thread per call meanwhile, as implicit asks of its own batched
    ``recommend``, since one BLAS thread per worker beats BLAS threads sharing the cores. At
    most ``workers + 1`` blocks are read ahead.
    """
    started = time.perf_counter()
    input_path, output_path = paths
    counts = {"lines": 0, "errors": 0}

    def answered(read: tuple[list[_Line], int]) -> tuple[list[_Line], int]:
        answer(read[0])
        return read

    with (
        input_path.open("rb") as source,
        atomic_open(output_path) as sink,
        _progress(input_path, job_type, show_progress) as bar,
        _worker_pool(workers) as pool,
    ):
        for block, size in _in_order(pool, answered, _blocks(source, block_rows), workers):
            sink.write("".join([line.text() for line in block]).encode())
            counts["lines"] += len(block)
            counts["errors"] += sum(line.error is not None for line in block)
            bar.update(size)
    seconds = time.perf_counter() - started
    logger.info(
        "%s wrote %d lines (%d errors) to %s in %.1f s",
        job_type,
        counts["lines"],
        counts["errors"],
        output_path,
        seconds,
    )
    return BatchJobSummary(
        job_type, str(input_path), str(output_path), counts["lines"], counts["errors"], seconds
    )


@contextlib.contextmanager
def _worker_pool(workers: int) -> Iterator[ThreadPoolExecutor]:
    """Threads for the workers; with several, BLAS on one thread per call meanwhile."""
    limit = threadpool_limits(1, "blas") if workers > 1 else contextlib.nullcontext()
    with limit, ThreadPoolExecutor(max_workers=workers, thread_name_prefix="batch") as pool:
        yield pool


def _in_order(
    pool: ThreadPoolExecutor, function: Callable[[Any], Any], arguments: Iterable[Any], ahead: int
) -> Iterator[Any]:
    """``function`` of each argument, computed in ``pool``, yielded in order, at most
    ``ahead + 1`` submitted at a time."""
    pending: deque[Future[Any]] = deque()
    for argument in arguments:
        pending.append(pool.submit(function, argument))
        if len(pending) > ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _workers(workers: int | None) -> int:
    """The number of worker threads: one per core this process may use, by default."""
    if workers is None:
        return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0))))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidInputError(f"workers must be a positive integer, got {workers!r}")
    return workers


def _progress(path: Path, job_type: str, show_progress: bool) -> tqdm[Any]:
    total = path.stat().st_size
    description = job_type.lower().replace("_", " ")
    return tqdm(total=total, unit="B", unit_scale=True, desc=description, disable=not show_progress)


def _blocks(source: IO[bytes], block_rows: int) -> Iterator[tuple[list[_Line], int]]:
    """Parsed lines in blocks of ``block_rows``, and the bytes each block read."""
    block: list[_Line] = []
    size = 0
    for number, raw in enumerate(source, start=1):
        block.append(_parse(number, raw))
        size += len(raw)
        if len(block) == block_rows:
            yield block, size
            block, size = [], 0
    if block:
        yield block, size


def _parse(number: int, raw: bytes) -> _Line:
    """One input line, its kind decided, or an error line saying what is wrong with it."""
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        line = _Line(number, text)
        line.fail(f"not valid JSON ({error.msg} at column {error.colno})")
        return line
    line = _Line(number, value, text.strip())
    problem = _problem(value)
    if problem:
        line.fail(problem)
    elif "itemList" in value:
        line.kind = "ranking"
    else:
        line.kind = "related" if "itemId" in value else "user"
    return line


def _problem(value: Any) -> str | None:
    """Why a parsed line is not a request, or None."""
    if not isinstance(value, dict):
        return f"expected a JSON object, got {type(value).__name__}"
    unknown = sorted(value.keys() - _KEYS)
    if unknown:
        return f"unknown key {unknown[0]!r}; a line has userId, itemId, itemList, filterValues"
    if "userId" not in value and "itemId" not in value:
        return "expected userId or itemId"
    for key in ("userId", "itemId"):
        if key in value and not (isinstance(value[key], str) and 1 <= len(value[key]) <= MAX_ID):
            return f"{key} must be a string of 1-{MAX_ID} characters, got {value[key]!r}"
    if "itemList" in value:
        return _list_problem(value)
    if "filterValues" in value and not isinstance(value["filterValues"], dict):
        return "filterValues must be a JSON object of placeholder to value"
    return None


def _list_problem(value: dict[str, Any]) -> str | None:
    items = value["itemList"]
    if "userId" not in value:
        return "itemList needs a userId"
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        return "itemList must be a list of item id strings"
    if not 1 <= len(items) <= MAX_RESULTS:
        return f"itemList must hold 1-{MAX_RESULTS} items, got {len(items)}"
    return None


class _InferenceJob:
    """Answers blocks of inference lines with one campaign."""

    def __init__(self, campaign: Deployment, num_results: int, chosen: Filter | None) -> None:
        self.campaign = campaign
        self.num_results = num_results
        self.filter = chosen
        self.encoded_ids = [json.dumps(str(item)) for item in campaign.item_ids().tolist()]
        self.scored = campaign.version.recipe not in _UNSCORED_RECIPES

    def answer(self, lines: list[_Line]) -> None:
        """Fill in every line's output or error."""
        self._recommend([line for line in lines if line.kind == "user"])
        for line in lines:
            if line.kind in ("ranking", "related"):
                self._delegate(line)

    def _recommend(self, lines: list[_Line]) -> None:
        """Rank a block of users at once: score, filter, top N, fill-up."""
        masks, ready = self._masks(lines)
        if not ready:
            return
        scored = self.campaign.score_users([line.input["userId"] for line in ready])
        ranked = self.campaign.rules.rank_block(scored, self.num_results, masks)
        has_fill = np.asarray(ranked.filled.any(axis=1)).tolist()
        for row, line in enumerate(ready):
            line.render = partial(self._recommended, ranked, row, has_fill[row])

    def _masks(self, lines: list[_Line]) -> tuple[list[np.ndarray | None], list[_Line]]:
        """Each line's filter mask, and the lines whose filter values work."""
        self.campaign.rules.data.refresh()  # once for the block, not for each line
        known: dict[str, np.ndarray | None] = {}
        masks, ready = [], []
        for line in lines:
            try:
                mask = self._mask(line, known)
            except RecengineError as error:
                line.fail(str(error))
                continue
            masks.append(mask)
            ready.append(line)
        return masks, ready

    def _mask(self, line: _Line, known: dict[str, np.ndarray | None]) -> np.ndarray | None:
        """The line's mask; lines with the same values share one unless it depends on the user."""
        rules = self.campaign.rules
        if self.filter is not None and self.filter.expression.depends_on_user:
            user = line.input["userId"]
            return rules.allowed_items(self.filter, line.values, user_id=user, refresh=False)
        key = json.dumps(line.values, sort_keys=True)
        if key not in known:
            known[key] = rules.allowed_items(self.filter, line.values, refresh=False)
        return known[key]

    def _recommended(self, ranked: RankedBlock, row: int, has_fill: bool) -> str:
        """The output's JSON text, built from pre-encoded item ids (the hot loop of a job)."""
        chosen = ranked.indices[row]
        count = int(np.count_nonzero(chosen >= 0))  # the chosen items come first
        items = ", ".join([self.encoded_ids[i] for i in chosen[:count].tolist()])
        if not self.scored:
            return f'{{"recommendedItems": [{items}]}}'
        # Nine significant digits give back the float32 score exactly, in a third of the time
        # that repr takes to write the 17 digits of the float64.
        scores = ranked.scores[row, :count].astype(np.float64).tolist()
        if has_fill:
            filled = ranked.filled[row, :count].tolist()
            pairs = zip(scores, filled, strict=True)
            shown = ", ".join(["null" if fill else f"{score:.9g}" for score, fill in pairs])
        else:
            shown = _score_format(count) % tuple(scores)
        return f'{{"recommendedItems": [{items}], "scores": [{shown}]}}'

    def _delegate(self, line: _Line) -> None:
        """Personalized ranking or related items, through the campaign's own method."""
        name = "get_personalized_ranking" if line.kind == "ranking" else "get_similar_items"
        method = getattr(self.campaign, name, None)
        if method is None:
            line.fail(f"this campaign cannot answer {line.kind} lines: it has no {name} method")
            return
        request = line.input
        options: dict[str, Any] = {}
        if self.filter is not None or line.values:
            options = {"filter": self.filter, "filter_values": line.values}
        try:
            if line.kind == "ranking":
                answer = method(request["userId"], request["itemList"], **options)
            else:
                user = {"user_id": request["userId"]} if "userId" in request else {}
                answer = method(request["itemId"], self.num_results, **user, **options)
        except (RecengineError, TypeError) as error:
            line.fail(str(error))
            return
        items = list(getattr(answer, "items", answer))
        line.output = {"recommendedItems": [item.item_id for item in items]}
        if line.kind == "ranking" and self.scored:
            line.output["scores"] = [item.score for item in items]


def run_batch_segment(
    source: Campaign | SolutionVersion,
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    num_results: int = 25,
    filter: Filter | str | None = None,
    show_progress: bool = False,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    workers: int | None = None,
) -> BatchJobSummary:
    """For every ``{"itemId": ...}`` line, the users most likely to take the item.

    Parameters
    ----------
    source : Campaign or SolutionVersion
        What scores the users.
    input_path, output_path
        JSON Lines files; the output is replaced only when the job succeeds.
    num_results : int
        Users per item (default 25), at most the number of users.
    filter : Filter or str, optional
        The job's user-segment (``UserID``) filter: a segment holds the best-scored users it
        lets through, ``num_results`` of them when enough pass. Each line may give its values
        in ``filterValues``; a line whose values are bad is an error line.
    show_progress : bool
        Show a progress bar over the users scored.
    block_bytes : int
        At most this many bytes of scores per worker at once.
    workers : int, optional
        Threads scoring blocks of users at once, as for :func:`run_batch_inference`.

    Returns
    -------
    BatchJobSummary

    Raises
    ------
    InvalidInputError
        A bad ``num_results``, ``block_bytes`` or ``workers``, or an ``ItemID`` filter.
    NotFoundError
        No filter of that name.

    Examples
    --------
    >>> run_batch_segment(campaign, "items.jsonl", "items.jsonl.out", filter="gold").num_errors
    0
    """
    campaign = _campaign(source)
    _check_num_results(num_results, max(1, len(campaign.user_ids())))
    chosen = _filter(campaign, filter, "UserID", "a batch segment job")
    rows = _block_rows(campaign, block_bytes)
    job = _SegmentJob(campaign, num_results, chosen, rows, _workers(workers), show_progress)
    paths = (Path(input_path), Path(output_path))
    return _run("BATCH_SEGMENT", job.answer, paths, MAX_SEGMENT_ITEMS, 1, False)


@dataclass
class _Segments:
    """A block's segments: one per distinct (item, filter values), each a column of scores.

    ``items[c]`` is column ``c``'s item index and ``mask_of_column[c]`` its row in ``masks``
    (the distinct user masks; empty without a filter); ``lines`` pairs each line to answer
    with its column.
    """

    items: list[int] = field(default_factory=list)
    mask_of_column: list[int] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)
    lines: list[tuple[_Line, int]] = field(default_factory=list)
    _columns: dict[tuple[int, int], int] = field(default_factory=dict)

    def column(self, item: int, mask: int) -> int:
        """The column of ``item`` under mask ``mask``, added if new."""
        if (item, mask) not in self._columns:
            self._columns[item, mask] = len(self.items)
            self.items.append(item)
            self.mask_of_column.append(mask)
        return self._columns[item, mask]


class _SegmentJob:
    """Answers blocks of item lines with one pass over the users per block."""

    def __init__(
        self,
        campaign: Deployment,
        num_results: int,
        chosen: Filter | None,
        block_rows: int,
        workers: int,
        show_progress: bool,
    ) -> None:
        self.campaign = campaign
        self.num_results = num_results
        self.filter = chosen
        self.block_rows = block_rows
        self.workers = workers
        self.show_progress = show_progress
        self.user_ids = np.asarray(campaign.user_ids())
        self.item_index = {str(item): i for i, item in enumerate(campaign.item_ids().tolist())}

    def answer(self, lines: list[_Line]) -> None:
        """Fill in every line's users or error."""
        ready = [(line, index) for line in lines if (index := self._item(line)) is not None]
        segments = self._segments(ready)
        if not segments.lines:
            return
        users = self._best_users(segments)
        for line, column in segments.lines:
            chosen = users[column][users[column] >= 0]
            line.output = {"recommendedUsers": self.user_ids[chosen].tolist()}

    def _item(self, line: _Line) -> int | None:
        if line.error is not None:
            return None
        if line.kind != "related" or set(line.input) - {"filterValues"} != {"itemId"}:
            line.fail('a segment line has "itemId" and optionally "filterValues", nothing else')
            return None
        index = self.item_index.get(line.input["itemId"])
        if index is None:
            line.fail(f"item {line.input['itemId']!r} is not in the campaign's catalogue")
        return index

    def _segments(self, ready: list[tuple[_Line, int]]) -> _Segments:
        """The block's columns: lines with the same item and values share one."""
        segments = _Segments()
        mask_of: dict[str, int | str] = {}
        if self.filter is not None:
            self.campaign.rules.data.refresh()  # once for the block, not for each line
        for line, index in ready:
            key = json.dumps(line.values, sort_keys=True)
            if key not in mask_of:
                mask_of[key] = self._mask(line.values, segments.masks)
            mask = mask_of[key]
            if isinstance(mask, str):
                line.fail(mask)
            else:
                segments.lines.append((line, segments.column(index, mask)))
        return segments

    def _mask(self, values: Mapping[str, str] | None, masks: list[np.ndarray]) -> int | str:
        """The row in ``masks`` of the users these values let through, or what is wrong."""
        if self.filter is None:
            return "filterValues were given but the job has no filter" if values else -1
        try:
            data = self.campaign.rules.data
            mask = data.user_mask(self.filter.expression, values, self.user_ids, refresh=False)
        except RecengineError as error:
            return str(error)
        masks.append(mask)
        return len(masks) - 1

    def _best_users(self, segments: _Segments) -> np.ndarray:
        """Per column, the indices of its ``num_results`` best users (-1 past the last)."""
        items, item_of_column = np.unique(segments.items, return_inverse=True)
        column_of = np.full(self.campaign.num_items, -1, np.int64)
        column_of[items] = np.arange(items.size)
        masks = None
        if segments.masks:
            masks = (np.stack(segments.masks), np.asarray(segments.mask_of_column))
        best = _RunningTop(len(segments.items), self.num_results)
        total = self.user_ids.size
        starts = range(0, total, self.block_rows)
        score = partial(
            self._scores,
            items=items,
            column_of=column_of,
            item_of_column=item_of_column,
            masks=masks,
        )
        bar = tqdm(total=total, unit="user", desc="batch segment", disable=not self.show_progress)
        with bar, _worker_pool(self.workers) as pool:
            for start, block in zip(
                starts, _in_order(pool, score, starts, self.workers), strict=True
            ):
                best.add(block, start)
                bar.update(block.shape[0])
        return best.users

    def _scores(
        self,
        start: int,
        items: np.ndarray,
        column_of: np.ndarray,
        item_of_column: np.ndarray,
        masks: tuple[np.ndarray, np.ndarray] | None,
    ) -> np.ndarray:
        """A block of users' scores per column; -inf where one took the item or is filtered.

        ``masks`` holds the distinct user masks and each column's row among them.
        """
        block = self._item_scores(start, items, column_of)[:, item_of_column]
        if masks is not None:
            distinct, mask_of_column = masks
            allowed = distinct[mask_of_column, start : start + block.shape[0]]
            block[~allowed.T] = -np.inf
        return block

    def _item_scores(self, start: int, items: np.ndarray, column_of: np.ndarray) -> np.ndarray:
        """Scores of a block of users from ``start`` for ``items``; -inf where one took it."""
        stop = min(self.user_ids.size, start + self.block_rows)
        scored = self.campaign.score_users(self.user_ids[start:stop].tolist())
        block = scored.scores[:, items]
        rows, excluded = scored.excluded_pairs()
        column = column_of[excluded]
        taken = column >= 0
        block[rows[taken], column[taken]] = -np.inf
        return block


class _RunningTop:
    """The best users of each item among the blocks seen so far; ties to the earlier user."""

    def __init__(self, num_items: int, count: int) -> None:
        self.scores = np.full((num_items, count), -np.inf, np.float32)
        self.users = np.full((num_items, count), -1, np.int64)

    def add(self, block: np.ndarray, start: int) -> None:
        """Merge a ``(users, items)`` block of scores of users ``start``, ``start + 1``, ..."""
        block_users = np.arange(start, start + block.shape[0])
        candidates = np.concatenate((self.scores, block.T), axis=1)
        users = np.concatenate(
            (self.users, np.broadcast_to(block_users, (block.shape[1], block_users.size))), axis=1
        )
        chosen, scores = top_n_rows(candidates, self.scores.shape[1])
        found = chosen >= 0
        self.users = np.where(found, np.take_along_axis(users, np.maximum(chosen, 0), 1), -1)
        self.scores = np.where(found, scores, -np.inf).astype(np.float32)

"""Convert MovieLens files into the service's CSV form, with matching Avro schemas.

Two families of files are recognised by what the source directory holds:

``u.data`` family (MovieLens 100K)
    ``u.data`` (tab-separated ``user item rating timestamp``), ``u.item`` (ISO-8859-1,
    ``id|title|release date|video release date|url|`` then 19 genre flags), ``u.genre`` (genre
    names in flag order) and ``u.user`` (``id|age|gender|occupation|zip``).
``ratings.csv`` family (MovieLens 25M, 32M, latest)
    ``ratings.csv`` (``userId,movieId,rating,timestamp``) and ``movies.csv``
    (``movieId,title,genres`` with genres joined by ``|``); there is no users file.

Ratings become events with ``EVENT_TYPE`` ``rating`` and the rating as ``EVENT_VALUE``.
The MovieLens files themselves are never bundled: their licence forbids redistribution.
"""

from __future__ import annotations

import csv
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datasets.service_files import age_group, schema_field, write_csv, write_schema
from engine.errors import InvalidInputError, NotFoundError

__all__ = ["convert_movielens"]

logger = logging.getLogger(__name__)

EVENT_TYPE = "rating"
INTERACTIONS_HEADER = ("USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP")
ITEMS_HEADER = ("ITEM_ID", "GENRES", "YEAR", "TITLE")
USERS_HEADER = ("USER_ID", "AGE", "GENDER", "OCCUPATION", "AGE_GROUP")

#: Genre names of MovieLens 100K in flag order, used when ``u.genre`` is absent.
DEFAULT_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
NO_GENRES = "(no genres listed)"
U_ITEM_ENCODING = "iso-8859-1"
_TITLE_YEAR = re.compile(r"\((\d{4})(?:[-–]\d{0,4})?\)\s*$")


def convert_movielens(source_dir: str | Path, output_dir: str | Path) -> dict[str, Path]:
    """Convert a MovieLens directory into interactions, items and users files plus schemas.

    Parameters
    ----------
    source_dir : str or Path
        A directory holding either ``u.data`` (with ``u.item``, ``u.user`` and optionally
        ``u.genre``) or ``ratings.csv`` (with optionally ``movies.csv``).
    output_dir : str or Path
        Where to write ``interactions.csv``, ``items.csv``, ``users.csv`` and their
        ``.json`` schemas; created if missing. Existing files are overwritten.

    Returns
    -------
    dict of str to Path
        Paths keyed ``"interactions"``, ``"items"``, ``"users"`` for the CSV files and
        ``"interactions_schema"``, ``"items_schema"``, ``"users_schema"`` for the schemas.
        A file the source has nothing for (users, in the ``ratings.csv`` family) is absent.

    Raises
    ------
    NotFoundError
        If ``source_dir`` is not a directory.
    InvalidInputError
        If the directory holds neither ``u.data`` nor ``ratings.csv``.

    Examples
    --------
    >>> paths = convert_movielens("../shared/datasets/ml-100k", "/tmp/ml-100k")  # doctest: +SKIP
    >>> sorted(paths)  # doctest: +SKIP
    ['interactions', 'interactions_schema', 'items', 'items_schema', 'users', 'users_schema']
    """
    source, output = Path(source_dir), Path(output_dir)
    if not source.is_dir():
        raise NotFoundError(f"MovieLens folder {source} does not exist")
    output.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    if (source / "u.data").is_file():
        paths = _convert_u_data_family(source, output)
    elif (source / "ratings.csv").is_file():
        paths = _convert_ratings_csv_family(source, output)
    else:
        raise InvalidInputError(
            f"{source} holds no MovieLens ratings: expected u.data (MovieLens 100K) "
            "or ratings.csv (MovieLens 25M/32M/latest)."
        )

    logger.info(
        "converted MovieLens %s into %s in %.2f s", source, output, time.perf_counter() - started
    )
    return paths


# -- the u.data family ------------------------------------------------------------------------


def _convert_u_data_family(source: Path, output: Path) -> dict[str, Path]:
    paths = _write_interactions(output, _read_u_data(source / "u.data"))

    genres = _read_u_genre(source / "u.genre")
    paths |= _write_items(output, _read_u_item(source / "u.item", genres))

    if (source / "u.user").is_file():
        paths |= _write_users(output, _read_u_user(source / "u.user"))
    return paths


def _read_u_data(path: Path) -> Iterator[tuple[str, str, str, str, str]]:
    with path.open(encoding="ascii") as handle:
        for line in handle:
            user, item, rating, timestamp = line.split()
            yield user, item, EVENT_TYPE, str(float(rating)), timestamp


def _read_u_genre(path: Path) -> list[str]:
    if not path.is_file():
        return list(DEFAULT_GENRES)
    pairs = []
    for line in path.read_text(encoding=U_ITEM_ENCODING).splitlines():
        if line.strip():
            name, index = line.rsplit("|", 1)
            pairs.append((int(index), name))
    return [name for _, name in sorted(pairs)]


def _read_u_item(path: Path, genres: list[str]) -> Iterator[tuple[str, str | None, Any, str]]:
    with path.open(encoding=U_ITEM_ENCODING) as handle:
        for line in handle:
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("|")
            item, title, release = fields[0], fields[1], fields[2]
            flags = fields[-len(genres) :]
            names = [name for name, flag in zip(genres, flags, strict=True) if flag == "1"]
            # The film's year is in its title; the release date is often the video's (Return
            # of the Jedi (1983) has 14-Mar-1997), so it only stands in for a title without one.
            year = _year_from_title(title) or _year(release[-4:])
            yield item, "|".join(names) or None, year, title


def _read_u_user(path: Path) -> Iterator[tuple[str, int, str, str, str]]:
    with path.open(encoding=U_ITEM_ENCODING) as handle:
        for line in handle:
            if line.strip():
                user, age, gender, occupation, _zip = line.rstrip("\r\n").split("|")
                yield user, int(age), gender, occupation, age_group(int(age))


# -- the ratings.csv family -------------------------------------------------------------------


def _convert_ratings_csv_family(source: Path, output: Path) -> dict[str, Path]:
    paths = _write_interactions(output, _read_ratings_csv(source / "ratings.csv"))
    if (source / "movies.csv").is_file():
        paths |= _write_items(output, _read_movies_csv(source / "movies.csv"))
    return paths


def _read_ratings_csv(path: Path) -> Iterator[tuple[str, str, str, str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            rating = str(float(row["rating"]))
            yield row["userId"], row["movieId"], EVENT_TYPE, rating, row["timestamp"]


def _read_movies_csv(path: Path) -> Iterator[tuple[str, str | None, Any, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            genres = row["genres"] if row["genres"] not in ("", NO_GENRES) else None
            title = row["title"].strip()
            yield row["movieId"], genres, _year_from_title(title), title


# -- shared steps -----------------------------------------------------------------------------


def _year(text: str) -> int | None:
    return int(text) if len(text) == 4 and text.isdigit() else None


def _year_from_title(title: str) -> int | None:
    match = _TITLE_YEAR.search(title)
    return int(match.group(1)) if match else None


def _write_interactions(output: Path, rows: Iterator[tuple[str, ...]]) -> dict[str, Path]:
    csv_path = output / "interactions.csv"
    count = write_csv(csv_path, INTERACTIONS_HEADER, rows)
    fields = [
        schema_field("USER_ID", "string"),
        schema_field("ITEM_ID", "string"),
        schema_field("EVENT_TYPE", "string"),
        schema_field("EVENT_VALUE", "float"),
        schema_field("TIMESTAMP", "long"),
    ]
    schema_path = write_schema(output / "interactions.json", "Interactions", fields)
    logger.info("wrote %d interactions to %s", count, csv_path)
    return {"interactions": csv_path, "interactions_schema": schema_path}


def _write_items(output: Path, rows: Iterator[tuple[Any, ...]]) -> dict[str, Path]:
    csv_path = output / "items.csv"
    count = write_csv(csv_path, ITEMS_HEADER, rows)
    fields = [
        schema_field("ITEM_ID", "string"),
        schema_field("GENRES", "string", nullable=True, categorical=True),
        schema_field("YEAR", "int", nullable=True),
        schema_field("TITLE", "string", textual=True),
    ]
    schema_path = write_schema(output / "items.json", "Items", fields)
    logger.info("wrote %d items to %s", count, csv_path)
    return {"items": csv_path, "items_schema": schema_path}


def _write_users(output: Path, rows: Iterator[tuple[Any, ...]]) -> dict[str, Path]:
    csv_path = output / "users.csv"
    count = write_csv(csv_path, USERS_HEADER, rows)
    fields = [
        schema_field("USER_ID", "string"),
        schema_field("AGE", "int"),
        schema_field("GENDER", "string", categorical=True),
        schema_field("OCCUPATION", "string", categorical=True),
        schema_field("AGE_GROUP", "string", categorical=True),
    ]
    schema_path = write_schema(output / "users.json", "Users", fields)
    logger.info("wrote %d users to %s", count, csv_path)
    return {"users": csv_path, "users_schema": schema_path}

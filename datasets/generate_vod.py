"""Generate the embedded default: a football club's video-on-demand site, with planted structure.

Run ``python -m datasets.generate_vod`` to rewrite ``datasets/vod/``; the same seed always gives
the same bytes (for a given numpy version and platform).

What is planted, so that recipes and metadata choices show real differences:

- **Stable personal tastes.** Each user has a taste for every video category, competition and a
  couple of favourite players, plus a hidden "style" vector that no metadata field shows. Tastes
  do not drift over the four months, so collaborative filtering (ALS) clearly beats popularity.
- **Metadata that explains part of the taste.** Age group shifts the taste for categories
  (teenagers like academy and training clips, older fans documentaries and full matches),
  country shifts the taste for competitions (US fans follow the women's league...).
- **Skewed popularity.** Videos differ in appeal (star players, category), so a few videos
  collect most clicks: popularity is a fair baseline, not a strawman.
- **Freshness.** Most videos are released during the window; a video can only be clicked after
  its CREATION_TIMESTAMP and gets a burst of interest in its first weeks.
- **Event values.** Every view is a ``click``; most clicks are followed by a ``watch`` whose
  EVENT_VALUE is the share of the video watched (0..1), higher for videos matching the user's
  taste. Free users only see a preview of full matches (share at most 0.2).
- **Noise.** ``NOISE_TAG`` is drawn independently of everything: it should not help any recipe.
"""

from __future__ import annotations

import argparse
import calendar
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datasets import service_files
from datasets.embedded import VOD_DIR
from datasets.service_files import schema_field, write_csv, write_schema

__all__ = ["DEFAULT_SEED", "generate_vod", "main"]

logger = logging.getLogger(__name__)

DEFAULT_SEED = 2026
NUM_USERS = 2000
NUM_VIDEOS = 600
STYLE_DIMENSIONS = 8
DAY = 86_400
WINDOW_START = calendar.timegm((2026, 1, 5, 0, 0, 0))
WINDOW_END = calendar.timegm((2026, 5, 4, 0, 0, 0))

CATEGORIES = (
    "highlights",
    "match",
    "interview",
    "training",
    "documentary",
    "press-conference",
    "behind-the-scenes",
    "academy",
)
CATEGORY_SHARE = (0.26, 0.10, 0.15, 0.12, 0.06, 0.10, 0.12, 0.09)
CATEGORY_APPEAL = (0.8, 0.3, 0.2, 0.0, 0.1, -0.4, 0.2, -0.3)
DURATION_RANGE = (
    (90, 600),
    (5400, 6300),
    (120, 900),
    (60, 420),
    (1500, 3600),
    (600, 1800),
    (120, 900),
    (120, 1200),
)
CATEGORY_PHRASES = (
    "Goals and key moments",
    "Full match replay",
    "Sit-down interview",
    "Training ground session",
    "Documentary",
    "Press conference",
    "Behind the scenes",
    "Academy spotlight",
)

COMPETITIONS = (
    "league",
    "national-cup",
    "continental-cup",
    "friendly",
    "women-league",
    "youth-league",
)
COMPETITION_SHARE = (0.40, 0.14, 0.20, 0.10, 0.11, 0.05)
COMPETITION_PHRASES = (
    "from the league",
    "from the national cup",
    "from the continental cup",
    "from a friendly",
    "from the women's league",
    "from the youth league",
)
#: Categories that are usually not about one competition.
LOOSE_CATEGORIES = frozenset({"training", "behind-the-scenes", "documentary"})

#: Squads: first team, women's team, academy. Names are invented.
SQUADS = {
    "first-team": (
        "Mateo Alvarez", "Kwame Mensah", "Lukas Brandt", "Rafael Costa", "Yusuf Demir",
        "Oliver Hughes", "Hiro Tanaka", "Samuel Okoye", "Pierre Laurent", "Diego Ramos",
        "Erik Lindqvist", "Tomasz Nowak", "Andre Silva", "Callum Reid",
    ),
    "women": (
        "Amara Diallo", "Sofia Marin", "Grace Thompson", "Lena Fischer", "Maya Patel",
        "Julia Kowalska",
    ),
    "academy": ("Noah Bennett", "Ibrahim Sow", "Leo Moretti", "Kai Nakamura"),
}  # fmt: skip
PLAYERS = tuple(name for squad in SQUADS.values() for name in squad)

COUNTRIES = ("GB", "ES", "US", "NG", "IN", "FR", "BR", "JP", "DE", "AU")
COUNTRY_SHARE = (0.30, 0.10, 0.14, 0.08, 0.09, 0.07, 0.07, 0.05, 0.06, 0.04)
#: The competitions each country's fans lean towards.
COUNTRY_COMPETITIONS = {
    "GB": ("league", "national-cup"),
    "ES": ("continental-cup", "league"),
    "US": ("women-league", "friendly"),
    "NG": ("league", "continental-cup"),
    "IN": ("friendly", "league"),
    "FR": ("continental-cup", "women-league"),
    "BR": ("youth-league", "continental-cup"),
    "JP": ("friendly", "youth-league"),
    "DE": ("national-cup", "continental-cup"),
    "AU": ("women-league", "league"),
}

AGE_GROUPS = tuple(label for _, label in service_files.AGE_GROUPS)
AGE_GROUP_SHARE = (0.08, 0.22, 0.27, 0.19, 0.13, 0.07, 0.04)
#: The categories each age group leans towards.
AGE_GROUP_CATEGORIES = {
    "0-17": ("academy", "training", "highlights"),
    "18-24": ("highlights", "behind-the-scenes"),
    "25-34": ("highlights", "match"),
    "35-44": ("match", "interview"),
    "45-54": ("match", "press-conference", "documentary"),
    "55-64": ("documentary", "interview"),
    "65+": ("documentary", "match"),
}

SUBSCRIPTION_MODELS = ("free", "premium", "season-pass")
SUBSCRIPTION_SHARE = (0.6, 0.3, 0.1)
SUBSCRIPTION_ACTIVITY = (1.0, 1.5, 1.8)
PREVIEW_SHARE = 0.2

NOISE_TAGS = ("amber", "cobalt", "coral", "jade", "onyx", "slate")
FILLER_SENTENCES = (
    "Filmed at the club's home ground.",
    "Exclusive to club members.",
    "With commentary from the club's media team.",
    "Recorded this season.",
    "Shot in high definition.",
    "A fan favourite.",
    "",
)

MEDIAN_CLICKS = 20.0
ACTIVITY_SPREAD = 0.7
CLICK_RANGE = (6, 160)
FRESH_BOOST = 3.0
FRESH_DAYS = 10.0


@dataclass
class Catalogue:
    """Videos as arrays of codes; ``competition`` is -1 where there is none."""

    category: np.ndarray
    competition: np.ndarray
    players: list[list[int]]
    duration: np.ndarray
    created: np.ndarray
    appeal: np.ndarray
    style: np.ndarray
    noise_tag: np.ndarray
    description: list[str]


@dataclass
class Audience:
    """Users as arrays of codes, with their latent tastes."""

    age_group: np.ndarray
    country: np.ndarray
    subscription: np.ndarray
    category_taste: np.ndarray
    competition_taste: np.ndarray
    player_taste: np.ndarray
    style: np.ndarray
    num_clicks: np.ndarray
    first_active: np.ndarray


def generate_vod(output_dir: str | Path = VOD_DIR, seed: int = DEFAULT_SEED) -> dict[str, Path]:
    """Generate the video-on-demand dataset and write its CSV files and schemas.

    Parameters
    ----------
    output_dir : str or Path
        Destination directory, created if missing; defaults to the bundled ``datasets/vod``.
    seed : int
        Seed of every random draw; the default reproduces the bundled files byte for byte.

    Returns
    -------
    dict of str to Path
        ``"interactions"``, ``"items"``, ``"users"`` and their ``*_schema`` paths.

    Examples
    --------
    >>> paths = generate_vod("/tmp/vod", seed=7)  # doctest: +SKIP
    """
    started = time.perf_counter()
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    catalogue_rng, audience_rng, event_rng, noise_rng = (
        np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(4)
    )

    catalogue = _make_catalogue(catalogue_rng, noise_rng)
    audience = _make_audience(audience_rng)
    events = _simulate_events(event_rng, audience, catalogue)

    paths = _write_users(output, audience)
    paths |= _write_items(output, catalogue)
    paths |= _write_interactions(output, events)
    logger.info(
        "generated %d users, %d videos, %d events into %s in %.2f s",
        NUM_USERS,
        NUM_VIDEOS,
        len(events),
        output,
        time.perf_counter() - started,
    )
    return paths


# -- the catalogue ----------------------------------------------------------------------------


def _make_catalogue(rng: np.random.Generator, noise_rng: np.random.Generator) -> Catalogue:
    category = _draw(rng, CATEGORY_SHARE, NUM_VIDEOS)
    competition = np.array([_draw_competition(rng, CATEGORIES[c]) for c in category])
    players = [
        _draw_players(rng, CATEGORIES[c], k) for c, k in zip(category, competition, strict=True)
    ]

    low, high = np.array(DURATION_RANGE, dtype=float)[category].T
    duration = np.round(np.exp(rng.uniform(np.log(low), np.log(high))), 1)
    created = _draw_creation_times(rng)

    # Appeal: category, star players and the video itself; exp() of it is heavily skewed.
    star = np.array([sum(_star_power(p) for p in group) for group in players])
    appeal = (
        np.array(CATEGORY_APPEAL)[category] + 0.6 * star + 0.8 * rng.standard_normal(NUM_VIDEOS)
    )
    style = rng.standard_normal((NUM_VIDEOS, STYLE_DIMENSIONS))

    noise_tag = noise_rng.integers(0, len(NOISE_TAGS), NUM_VIDEOS)
    description = [
        _describe(rng, c, k, group)
        for c, k, group in zip(category, competition, players, strict=True)
    ]
    return Catalogue(
        category, competition, players, duration, created, appeal, style, noise_tag, description
    )


def _draw(rng: np.random.Generator, shares: Sequence[float], size: int) -> np.ndarray:
    """Draw ``size`` codes with the given shares (normalised)."""
    cumulative = np.cumsum(shares) / np.sum(shares)
    return np.minimum(np.searchsorted(cumulative, rng.random(size), side="right"), len(shares) - 1)


def _draw_competition(rng: np.random.Generator, category: str) -> int:
    if category == "academy":
        return COMPETITIONS.index("youth-league") if rng.random() < 0.7 else -1
    if category in LOOSE_CATEGORIES and rng.random() < 0.6:
        return -1
    return int(_draw(rng, COMPETITION_SHARE, 1)[0])


def _draw_players(rng: np.random.Generator, category: str, competition: int) -> list[int]:
    squad = _squad_for(category, competition)
    offset = PLAYERS.index(SQUADS[squad][0])
    size = len(SQUADS[squad])

    many = category in ("highlights", "match", "training", "behind-the-scenes")
    count = int(rng.integers(2, 5)) if many else int(rng.integers(1, 3))
    weights = 1.0 / np.arange(1, size + 1) ** 0.8
    chosen = rng.choice(size, size=min(count, size), replace=False, p=weights / weights.sum())
    return sorted(offset + int(index) for index in chosen)


def _squad_for(category: str, competition: int) -> str:
    if competition >= 0 and COMPETITIONS[competition] == "women-league":
        return "women"
    if category == "academy" or (competition >= 0 and COMPETITIONS[competition] == "youth-league"):
        return "academy"
    return "first-team"


def _star_power(player: int) -> float:
    """Stars are the first names of each squad: 1.0 for the first, fading after."""
    name = PLAYERS[player]
    rank = next(squad.index(name) for squad in SQUADS.values() if name in squad)
    return 1.0 / (1.0 + rank)


def _draw_creation_times(rng: np.random.Generator) -> np.ndarray:
    """A back catalogue from the previous half-year, the rest released during the window."""
    back_catalogue = rng.random(NUM_VIDEOS) < 0.3
    before = WINDOW_START - rng.uniform(1, 180, NUM_VIDEOS) * DAY
    during = rng.uniform(WINDOW_START, WINDOW_END - 7 * DAY, NUM_VIDEOS)
    return np.where(back_catalogue, before, during).astype(np.int64)


def _describe(rng: np.random.Generator, category: int, competition: int, group: list[int]) -> str:
    names = [PLAYERS[p] for p in group]
    featuring = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    where = f" {COMPETITION_PHRASES[competition]}" if competition >= 0 else ""
    filler = FILLER_SENTENCES[int(rng.integers(0, len(FILLER_SENTENCES)))]
    return f"{CATEGORY_PHRASES[category]}{where} featuring {featuring}. {filler}".strip()


# -- the audience -----------------------------------------------------------------------------


def _make_audience(rng: np.random.Generator) -> Audience:
    age = _draw(rng, AGE_GROUP_SHARE, NUM_USERS)
    country = _draw(rng, COUNTRY_SHARE, NUM_USERS)
    subscription = _draw(rng, SUBSCRIPTION_SHARE, NUM_USERS)

    category_taste = _leaning(AGE_GROUPS, AGE_GROUP_CATEGORIES, CATEGORIES)[age]
    category_taste = category_taste + 1.0 * rng.standard_normal(category_taste.shape)
    competition_taste = _leaning(COUNTRIES, COUNTRY_COMPETITIONS, COMPETITIONS)[country]
    competition_taste = competition_taste + 0.8 * rng.standard_normal(competition_taste.shape)
    player_taste = _favourite_players(rng)
    style = rng.standard_normal((NUM_USERS, STYLE_DIMENSIONS)) * (1.2 / np.sqrt(STYLE_DIMENSIONS))

    activity = np.exp(np.log(MEDIAN_CLICKS) + ACTIVITY_SPREAD * rng.standard_normal(NUM_USERS))
    num_clicks = np.clip(activity * np.array(SUBSCRIPTION_ACTIVITY)[subscription], *CLICK_RANGE)
    first_active = WINDOW_START + rng.uniform(0, 0.5, NUM_USERS) * (WINDOW_END - WINDOW_START)
    return Audience(
        age,
        country,
        subscription,
        category_taste,
        competition_taste,
        player_taste,
        style,
        num_clicks.astype(np.int64),
        first_active,
    )


def _leaning(
    groups: Sequence[str], favourites: Mapping[str, Sequence[str]], values: Sequence[str]
) -> np.ndarray:
    """A (group x value) matrix: 1.5 where the group leans towards the value, else 0."""
    matrix = np.zeros((len(groups), len(values)))
    for row, group in enumerate(groups):
        for value in favourites[group]:
            matrix[row, values.index(value)] = 1.5
    return matrix


def _favourite_players(rng: np.random.Generator) -> np.ndarray:
    """Two favourite players per user, stars more often, each worth 1.5."""
    weights = np.array([_star_power(p) for p in range(len(PLAYERS))])
    taste = np.zeros((NUM_USERS, len(PLAYERS)))
    for user in range(NUM_USERS):
        chosen = rng.choice(len(PLAYERS), size=2, replace=False, p=weights / weights.sum())
        taste[user, chosen] = 1.5
    return taste


# -- the events -------------------------------------------------------------------------------


def _affinity(audience: Audience, catalogue: Catalogue) -> np.ndarray:
    """How much each user likes each video, from tastes only (users x videos)."""
    affinity = audience.category_taste[:, catalogue.category]

    has_competition = catalogue.competition >= 0
    competition = np.where(has_competition, catalogue.competition, 0)
    affinity = affinity + audience.competition_taste[:, competition] * has_competition

    featured = np.zeros((NUM_VIDEOS, len(PLAYERS)))
    for video, group in enumerate(catalogue.players):
        featured[video, group] = 1.0
    return affinity + audience.player_taste @ featured.T + audience.style @ catalogue.style.T


def _simulate_events(
    rng: np.random.Generator, audience: Audience, catalogue: Catalogue
) -> list[tuple[str, str, str, str, int]]:
    affinity = _affinity(audience, catalogue)
    is_match = catalogue.category == CATEGORIES.index("match")
    events: list[tuple[str, str, str, str, int]] = []
    for user in range(NUM_USERS):
        free = SUBSCRIPTION_MODELS[audience.subscription[user]] == "free"
        clicks = _user_clicks(rng, audience, catalogue, affinity[user], user)
        events.extend(_user_events(rng, user, clicks, affinity[user], is_match & free))
    events.sort(key=lambda event: (event[4], event[0], event[1], event[2]))
    return events


def _user_clicks(
    rng: np.random.Generator,
    audience: Audience,
    catalogue: Catalogue,
    affinity: np.ndarray,
    user: int,
) -> list[tuple[int, int]]:
    """Draw one user's clicks as (timestamp, video), each video at most once."""
    count = int(audience.num_clicks[user])
    times = np.sort(rng.uniform(audience.first_active[user], WINDOW_END, count)).astype(np.int64)

    age_days = (times[:, None] - catalogue.created[None, :]) / DAY
    freshness = np.log1p(FRESH_BOOST * np.exp(-np.maximum(age_days, 0.0) / FRESH_DAYS))
    logits = affinity[None, :] + catalogue.appeal[None, :] + freshness
    logits = np.where(age_days >= 0, logits, -np.inf)
    logits += -np.log(-np.log(rng.random(logits.shape)))  # Gumbel: argmax samples softmax

    clicks = []
    for row, timestamp in enumerate(times):
        video = int(np.argmax(logits[row]))
        if np.isfinite(logits[row, video]):
            clicks.append((int(timestamp), video))
            logits[:, video] = -np.inf
    return clicks


def _user_events(
    rng: np.random.Generator,
    user: int,
    clicks: list[tuple[int, int]],
    affinity: np.ndarray,
    preview_only: np.ndarray,
) -> list[tuple[str, str, str, str, int]]:
    """A click per video, then a watch with the share watched for most of them."""
    videos = np.array([video for _, video in clicks], dtype=np.int64)
    relative = affinity[videos] - np.median(affinity[videos])
    watched = rng.random(len(videos)) < _sigmoid(0.5 + 0.8 * relative)
    share = _sigmoid(0.2 + 1.0 * relative + 0.6 * rng.standard_normal(len(videos)))
    share = np.where(preview_only[videos], np.minimum(share, PREVIEW_SHARE), share)
    delay = rng.integers(5, 90, len(videos))

    user_id = _user_id(user)
    events = []
    for index, (timestamp, video) in enumerate(clicks):
        events.append((user_id, _video_id(video), "click", "", timestamp))
        if watched[index]:
            value = f"{max(float(share[index]), 0.001):.3f}"
            events.append(
                (user_id, _video_id(video), "watch", value, timestamp + int(delay[index]))
            )
    return events


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-values))


def _user_id(user: int) -> str:
    return f"u{user + 1:04d}"


def _video_id(video: int) -> str:
    return f"v{video + 1:04d}"


# -- the files --------------------------------------------------------------------------------


def _write_users(output: Path, audience: Audience) -> dict[str, Path]:
    rows = (
        (
            _user_id(user),
            AGE_GROUPS[audience.age_group[user]],
            COUNTRIES[audience.country[user]],
            SUBSCRIPTION_MODELS[audience.subscription[user]],
        )
        for user in range(NUM_USERS)
    )
    csv_path = output / "users.csv"
    write_csv(csv_path, ("USER_ID", "AGE_GROUP", "COUNTRY", "SUBSCRIPTION_MODEL"), rows)
    fields = [
        schema_field("USER_ID", "string"),
        schema_field("AGE_GROUP", "string", categorical=True),
        schema_field("COUNTRY", "string", categorical=True),
        schema_field("SUBSCRIPTION_MODEL", "string", categorical=True),
    ]
    return {"users": csv_path, "users_schema": write_schema(output / "users.json", "Users", fields)}


ITEMS_HEADER = (
    "ITEM_ID",
    "CATEGORY",
    "COMPETITION",
    "PLAYERS",
    "DURATION",
    "CREATION_TIMESTAMP",
    "NOISE_TAG",
    "DESCRIPTION",
)


def _write_items(output: Path, catalogue: Catalogue) -> dict[str, Path]:
    rows = (
        (
            _video_id(video),
            CATEGORIES[catalogue.category[video]],
            COMPETITIONS[catalogue.competition[video]] if catalogue.competition[video] >= 0 else "",
            "|".join(PLAYERS[p] for p in catalogue.players[video]),
            f"{catalogue.duration[video]:.1f}",
            int(catalogue.created[video]),
            NOISE_TAGS[catalogue.noise_tag[video]],
            catalogue.description[video],
        )
        for video in range(NUM_VIDEOS)
    )
    csv_path = output / "items.csv"
    write_csv(csv_path, ITEMS_HEADER, rows)
    fields = [
        schema_field("ITEM_ID", "string"),
        schema_field("CATEGORY", "string", categorical=True),
        schema_field("COMPETITION", "string", nullable=True, categorical=True),
        schema_field("PLAYERS", "string", categorical=True),
        schema_field("DURATION", "float"),
        schema_field("CREATION_TIMESTAMP", "long"),
        schema_field("NOISE_TAG", "string", categorical=True),
        schema_field("DESCRIPTION", "string", textual=True),
    ]
    return {"items": csv_path, "items_schema": write_schema(output / "items.json", "Items", fields)}


def _write_interactions(
    output: Path, events: list[tuple[str, str, str, str, int]]
) -> dict[str, Path]:
    csv_path = output / "interactions.csv"
    write_csv(csv_path, ("USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP"), events)
    fields = [
        schema_field("USER_ID", "string"),
        schema_field("ITEM_ID", "string"),
        schema_field("EVENT_TYPE", "string"),
        schema_field("EVENT_VALUE", "float", nullable=True),
        schema_field("TIMESTAMP", "long"),
    ]
    schema_path = write_schema(output / "interactions.json", "Interactions", fields)
    return {"interactions": csv_path, "interactions_schema": schema_path}


# -- command line -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the dataset from the command line and print a one-line summary per file."""
    parser = argparse.ArgumentParser(
        prog="python -m datasets.generate_vod",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument("--output", type=Path, default=VOD_DIR, help="destination directory")
    arguments = parser.parse_args(argv)

    paths = generate_vod(arguments.output, arguments.seed)
    for name, path in paths.items():
        content = path.read_bytes()
        lines = content.count(b"\n")
        rows = f"{lines - 1} rows, " if path.suffix == ".csv" else ""
        print(f"{name:20} {path}  ({rows}{len(content):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The embedded default dataset: a small video-on-demand site bundled with the package.

The files live in ``datasets/vod/`` and are produced by :mod:`datasets.generate_vod`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["VOD_DIR", "vod_paths"]

#: Directory holding the bundled video-on-demand files.
VOD_DIR = Path(__file__).resolve().parent / "vod"

_DATASET_TYPES = ("interactions", "items", "users")


def vod_paths() -> dict[str, Path]:
    """Return the paths of the bundled video-on-demand files.

    Returns
    -------
    dict of str to Path
        ``"interactions"``, ``"items"``, ``"users"`` for the CSV files and
        ``"interactions_schema"``, ``"items_schema"``, ``"users_schema"`` for their Avro
        schemas.

    Examples
    --------
    >>> vod_paths()["items"].name
    'items.csv'
    """
    paths: dict[str, Path] = {}
    for name in _DATASET_TYPES:
        paths[name] = VOD_DIR / f"{name}.csv"
        paths[f"{name}_schema"] = VOD_DIR / f"{name}.json"
    return paths

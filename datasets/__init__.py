"""Bundled data and converters for public formats.

- :func:`vod_paths`: the embedded default, a small video-on-demand site (``datasets/vod/``),
  regenerated with ``python -m datasets.generate_vod``.
- :func:`convert_movielens`: MovieLens files (the ``u.data`` and ``ratings.csv`` families) into
  the service's CSV form with Avro schemas.
"""

from datasets.embedded import VOD_DIR, vod_paths
from datasets.movielens import convert_movielens

__all__ = ["VOD_DIR", "convert_movielens", "vod_paths"]

"""Where the read-only shared datasets are: MovieLens and the service's samples.

They are never committed (MovieLens' licence forbids it). Looked for in order: the
``RECENGINE_SHARED_DATASETS`` variable, ``../shared/datasets`` beside the checkout, and
``/work/shared/datasets``, so that a clone made anywhere on this machine finds them.
"""

import os
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[1]
_CANDIDATES = [
    os.environ.get("RECENGINE_SHARED_DATASETS", ""),
    str(_REPO.parent / "shared" / "datasets"),
    "/work/shared/datasets",
]


def _find() -> Path | None:
    for candidate in _CANDIDATES:
        if candidate and Path(candidate, "ml-100k").is_dir():
            return Path(candidate)
    return None


SHARED_DATASETS = _find()
ML_100K = SHARED_DATASETS / "ml-100k" if SHARED_DATASETS else Path("missing/ml-100k")
SAMPLES = SHARED_DATASETS / "personalize-samples" if SHARED_DATASETS else Path("missing/samples")
needs_shared_datasets = pytest.mark.skipif(
    SHARED_DATASETS is None, reason="the shared datasets (../shared/datasets) are not present"
)

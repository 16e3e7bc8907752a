"""Training overhead: our ALS recipe against raw ``implicit`` fit on the same matrix.

Ours is ``UserPersonalization().fit`` on :class:`~recipes.InteractionData` (weighting the
events, building the CSR matrix, fitting). The reference is
``implicit.cpu.als.AlternatingLeastSquares.fit`` on that CSR matrix, built beforehand, with
identical settings: float32, the same factors, regularization, alpha, iterations and seed,
all cores for implicit's own threads and BLAS held to one thread (as implicit asks and as
the recipe does). The two alternate so that drift in the machine hits both.
"""

from __future__ import annotations

from benchmarks.measure import median_seconds, time_call
from benchmarks.references import fit_implicit
from benchmarks.report import Result, Row
from benchmarks.synthetic import skewed_interactions
from recipes.als import UserPersonalization

__all__ = ["NAME", "run"]

NAME = "training_overhead"
TITLE = "UserPersonalization.fit vs implicit ALS fit on the same CSR matrix (seconds)"
TARGET_RATIO = 1.15
HYPERPARAMETERS = {"factors": 64, "regularization": 0.01, "iterations": 15, "alpha": 10.0}

# (label, users, items, interactions, runs)
FULL_SIZES = (("ML-100K size", 943, 1682, 100_000, 7), ("10M synthetic", 160_000, 60_000, 10**7, 3))
QUICK_SIZES = (("ML-100K size", 943, 1682, 100_000, 5), ("1M synthetic", 40_000, 15_000, 10**6, 3))


def run(quick: bool) -> Result:
    """Median fit seconds of ours and of raw implicit at each size, and their ratio.

    Parameters
    ----------
    quick : bool
        1M interactions instead of 10M for the large size.

    Returns
    -------
    Result
        One row per size; the ratio is ours / implicit (target at most 1.15).
    """
    result = Result(NAME, TITLE, details={"hyperparameters": HYPERPARAMETERS})
    for label, users, items, interactions, runs in QUICK_SIZES if quick else FULL_SIZES:
        ours, theirs = _measure(users, items, interactions, runs)
        ratio = median_seconds(ours) / median_seconds(theirs)
        result.details[label] = {"ours_s": ours, "implicit_s": theirs, "runs": runs}
        result.rows.append(
            Row(
                f"{label} ({interactions:,} events, {users:,} x {items:,})",
                f"{median_seconds(ours):.3f} s",
                f"{median_seconds(theirs):.3f} s",
                ratio,
                "within target" if ratio <= TARGET_RATIO else f"above target {TARGET_RATIO}",
            )
        )
    return result


def _measure(
    users: int, items: int, interactions: int, runs: int
) -> tuple[list[float], list[float]]:
    data = skewed_interactions(users, items, interactions, seed=interactions).data()
    recipe = UserPersonalization()
    hyperparameters = recipe.validate_hyperparameters(HYPERPARAMETERS)
    matrix = data.matrix()

    ours, theirs = [], []
    for _ in range(runs):
        ours.append(time_call(lambda: recipe.fit(data, hyperparameters, seed=0))[0])
        theirs.append(time_call(lambda: fit_implicit(matrix, hyperparameters, seed=0))[0])
    return ours, theirs

"""Training overhead: our ALS recipe against raw ``implicit`` fit on the same matrix.

Ours is ``UserPersonalization().fit`` on :class:`~recipes.InteractionData` (weighting the
events, building the CSR matrix, fitting). The reference is
``implicit.cpu.als.AlternatingLeastSquares.fit`` on that CSR matrix, built beforehand, with
identical settings: float32, the same factors, regularization, alpha, iterations and seed,
all cores for implicit's own threads and BLAS held to one thread (as implicit asks and as
the recipe does). The two alternate, in the order ours-theirs then theirs-ours, so that
drift in the machine and any advantage of going second hit both alike.

On a shared machine the fits' own variation is larger than our overhead, so the work we
add before implicit's fit (weighing the events and building the matrix) is also timed on
its own, as a share of implicit's fit.
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
FULL_SIZES = (("ML-100K size", 943, 1682, 100_000, 8), ("10M synthetic", 160_000, 60_000, 10**7, 4))
QUICK_SIZES = (("ML-100K size", 943, 1682, 100_000, 6), ("1M synthetic", 40_000, 15_000, 10**6, 4))


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
        ours, theirs, preparing = _measure(users, items, interactions, runs)
        ratio = median_seconds(ours) / median_seconds(theirs)
        pairs = median_seconds([mine / other for mine, other in zip(ours, theirs, strict=True)])
        share = median_seconds(preparing) / median_seconds(theirs)
        result.details[label] = {
            "ours_s": ours,
            "implicit_s": theirs,
            "preparation_s": preparing,
            "runs": runs,
        }
        verdict = "within target" if ratio <= TARGET_RATIO else f"above target {TARGET_RATIO}"
        result.rows.append(
            Row(
                f"{label} ({interactions:,} events, {users:,} x {items:,})",
                f"{median_seconds(ours):.3f} s",
                f"{median_seconds(theirs):.3f} s",
                ratio,
                f"{verdict}; median of per-run ratios {pairs:.3f}; our work before "
                f"implicit's fit {median_seconds(preparing):.3f} s = {share:.1%} of the fit",
            )
        )
    return result


def _measure(
    users: int, items: int, interactions: int, runs: int
) -> tuple[list[float], list[float], list[float]]:
    """Seconds of our fit, of implicit's fit and of our work before implicit's fit, per run."""
    data = skewed_interactions(users, items, interactions, seed=interactions).data()
    recipe = UserPersonalization()
    hyperparameters = recipe.validate_hyperparameters(HYPERPARAMETERS)
    matrix = data.matrix()

    def ours() -> float:
        return time_call(lambda: recipe.fit(data, hyperparameters, seed=0))[0]

    def theirs() -> float:
        return time_call(lambda: fit_implicit(matrix, hyperparameters, seed=0))[0]

    def preparing() -> float:
        return time_call(lambda: data.matrix(recipe.event_weights(data, hyperparameters)))[0]

    timings: dict[str, list[float]] = {"ours": [], "theirs": [], "preparing": []}
    for run_index in range(runs):
        order = (("ours", ours), ("theirs", theirs))
        for name, timed in order if run_index % 2 == 0 else order[::-1]:
            timings[name].append(timed())
        timings["preparing"].append(preparing())
    return timings["ours"], timings["theirs"], timings["preparing"]

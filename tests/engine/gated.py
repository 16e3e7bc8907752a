"""A recipe whose fit waits at a gate, so tests can act while a version is training.

``fit`` creates ``<gate>.entered`` and then waits until the file ``<gate>`` exists. Tests
in other processes import this module to register the recipe too.
"""

import time
from pathlib import Path

from recipes import Hyperparameter, register_recipe
from recipes.popularity import PopularityCount

WAIT_SECONDS = 30.0


@register_recipe
class GatedPopularity(PopularityCount):
    """Popularity-Count whose fit waits for its gate file."""

    name = "gated-popularity"
    hyperparameters = (Hyperparameter("gate", str, ""),)

    def fit(self, data, hyperparameters, seed, show_progress=False):
        gate = Path(hyperparameters["gate"])
        gate.with_suffix(".entered").touch()
        wait_for(gate)
        defaults = PopularityCount.validate_hyperparameters({})
        return super().fit(data, defaults, seed, show_progress)


def wait_for(path: Path) -> None:
    """Poll until ``path`` exists; fail after half a minute rather than hang."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.005)

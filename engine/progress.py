"""A progress bar over a known number of named steps, shown only when asked for."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["progress_steps"]


@contextmanager
def progress_steps(
    show_progress: bool, total: int, description: str, unit: str = "step"
) -> Iterator[Callable[[str], None]]:
    """Yield a function that marks the start of each step, on a tqdm bar if asked.

    The bar advances when the next step starts and when the block ends, and names the
    running step beside it. Without ``show_progress`` the function does nothing.
    """
    if not show_progress:
        yield lambda name: None
        return

    from tqdm.auto import tqdm

    with tqdm(total=total, desc=description, unit=unit) as bar:
        started = [False]

        def step(name: str) -> None:
            if started[0]:
                bar.update(1)
            started[0] = True
            bar.set_postfix_str(name)

        yield step
        bar.update(1)

"""PNG bar charts of metrics, drawn with matplotlib on its Agg canvas.

The figure is built from ``matplotlib.figure.Figure`` and rendered by the Agg canvas
directly: no display is needed, no GUI toolkit is loaded, and the process-wide backend that
``pyplot`` would set is left alone, so the library can draw from servers, tests and other
people's programs alike. matplotlib is imported only when a chart is drawn.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

__all__ = ["bar_chart"]

logger = logging.getLogger(__name__)

PANEL_WIDTH, BAR_HEIGHT, MIN_PANEL_HEIGHT = 4.2, 0.38, 2.2


def bar_chart(
    path: Path,
    panels: Mapping[tuple[str, str], Mapping[str, float]],
    num_columns: int,
    title: str,
) -> Path:
    """Draw one horizontal bar panel per ``(column title, metric)`` and write a PNG.

    Parameters
    ----------
    path : Path
        Where to write the PNG; its directory is created.
    panels : mapping
        ``{(column title, metric label): {bar label: value}}``, filled row by row.
    num_columns : int
        Panels per row.
    title : str
        The figure's title.

    Returns
    -------
    Path
        ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = list(next(iter(panels.values())))
    num_rows = -(-len(panels) // num_columns)
    height = max(MIN_PANEL_HEIGHT, BAR_HEIGHT * len(labels) + 1.0)
    figure = Figure(figsize=(PANEL_WIDTH * num_columns + 1.5, height * num_rows + 0.6))
    FigureCanvasAgg(figure)
    axes = figure.subplots(num_rows, num_columns, squeeze=False, sharey=True)
    colors = [f"C{index % 10}" for index in range(len(labels))]

    for position, ((column_title, metric), values) in enumerate(panels.items()):
        axis = axes[position // num_columns][position % num_columns]
        numbers = [values[label] for label in labels]
        bars = axis.barh(range(len(labels)), numbers, color=colors)
        axis.bar_label(bars, fmt="%.3f", padding=2, fontsize=8)
        axis.set_yticks(range(len(labels)), labels)
        axis.set_xlim(0, max(max(numbers), 1e-9) * 1.25)
        axis.set_title(f"{column_title}: {metric}", fontsize=10)
        axis.tick_params(labelsize=8)

    axes[0][0].invert_yaxis()  # the shared axis, once: the first label on top
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=110)
    logger.info("wrote chart %s", path)
    return path

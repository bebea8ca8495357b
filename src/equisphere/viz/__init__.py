"""Plots: signals and label maps on the sphere (Mollweide, orthographic), sample sheets.

matplotlib is needed only when a function here is called (``pip install
equisphere[plot]``); it is imported lazily and drawn on an Agg canvas.
"""

from equisphere.viz.sheets import classification_sheet, save_figure, segmentation_sheet
from equisphere.viz.sphere import (
    LABEL_COLOURS,
    add_label_legend,
    new_figure,
    orthographic_view,
    plot_mollweide,
    plot_orthographic,
    sample_on_grid,
)

__all__ = [
    "LABEL_COLOURS",
    "add_label_legend",
    "classification_sheet",
    "new_figure",
    "orthographic_view",
    "plot_mollweide",
    "plot_orthographic",
    "sample_on_grid",
    "save_figure",
    "segmentation_sheet",
]

"""Pictures of signals and label maps on an equiangular sphere grid.

Two views: a Mollweide map of the whole sphere (longitude ``phi`` to the right,
seen from outside, north up) and an orthographic view of one hemisphere as a
camera outside the sphere sees it, centred on a chosen direction. Label maps
use one fixed palette (:data:`LABEL_COLOURS`: background dark grey, then the
ten ``tab10`` colours) and get a legend with the class names.

matplotlib is imported inside the functions and only its object API with the
Agg canvas is used (no pyplot, no global backend change), so this module is
cheap to import and safe in scripts and servers.

Conventions: signals ``(2B, 2B)`` on the equiangular grid of docs/conventions.md,
row 0 nearest the north pole; colatitude from +z, longitude from +x to +y.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "LABEL_COLOURS",
    "add_label_legend",
    "new_figure",
    "orthographic_view",
    "plot_mollweide",
    "plot_orthographic",
    "sample_on_grid",
]

LABEL_COLOURS = np.array(
    [
        (0.20, 0.20, 0.20),  # background
        (0.122, 0.467, 0.706),
        (1.000, 0.498, 0.055),
        (0.173, 0.627, 0.173),
        (0.839, 0.153, 0.157),
        (0.580, 0.404, 0.741),
        (0.549, 0.337, 0.294),
        (0.890, 0.467, 0.761),
        (0.498, 0.498, 0.498),
        (0.737, 0.741, 0.133),
        (0.090, 0.745, 0.812),
    ]
)
"""RGB colours of labels 0 (background) to 10, fixed so that every picture agrees."""


def _as_grid_array(signal: torch.Tensor | np.ndarray) -> np.ndarray:
    array = (
        signal.detach().cpu().numpy() if isinstance(signal, torch.Tensor) else np.asarray(signal)
    )
    array = np.squeeze(array)
    if array.ndim != 2 or array.shape[0] != array.shape[1] or array.shape[0] % 2:
        raise ValueError(
            f"expected one signal of shape (2B, 2B) on an equiangular grid (a leading 1 is "
            f"allowed), got shape {tuple(np.shape(signal))}"
        )
    return array


def sample_on_grid(
    signal: torch.Tensor | np.ndarray,
    colatitude: np.ndarray,
    longitude: np.ndarray,
    nearest: bool = False,
) -> np.ndarray:
    """Values of an equiangular-grid signal at arbitrary angles.

    Bilinear in (colatitude, longitude) between the four surrounding grid
    points, wrapping in longitude and clamping at the first and last rings;
    ``nearest=True`` takes the nearest grid point (for labels).

    Parameters
    ----------
    signal : array, shape (2B, 2B)
    colatitude, longitude : numpy.ndarray, radians, same shape

    Returns
    -------
    numpy.ndarray, the shape of ``colatitude``
    """
    values = _as_grid_array(signal)
    size = values.shape[0]
    # Fractional indices: theta_j = pi (2j + 1) / (4B), so j = theta 2B / pi - 1/2;
    # phi_k = 2 pi k / 2B.
    row = np.clip(np.asarray(colatitude) * size / math.pi - 0.5, 0, size - 1)
    col = np.mod(np.asarray(longitude) * size / (2 * math.pi), size)
    if nearest:
        return values[np.rint(row).astype(int), np.rint(col).astype(int) % size]
    row0 = np.minimum(np.floor(row).astype(int), size - 2)
    col0 = np.floor(col).astype(int) % size
    col1 = (col0 + 1) % size
    dr, dc = row - row0, col - np.floor(col)
    top = values[row0, col0] * (1 - dc) + values[row0, col1] * dc
    bottom = values[row0 + 1, col0] * (1 - dc) + values[row0 + 1, col1] * dc
    return top * (1 - dr) + bottom * dr


def new_figure(width: float, height: float) -> Figure:
    """A matplotlib Figure on an Agg canvas (no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _colour_args(labels: bool, num_labels: int, cmap: str, vmin: float | None, vmax: float | None):
    if not labels:
        return {"cmap": cmap, "vmin": vmin, "vmax": vmax}
    from matplotlib.colors import BoundaryNorm, ListedColormap

    colours = LABEL_COLOURS[:num_labels]
    return {
        "cmap": ListedColormap(colours),
        "norm": BoundaryNorm(np.arange(num_labels + 1) - 0.5, num_labels),
    }


def plot_mollweide(
    signal: torch.Tensor | np.ndarray,
    ax: Axes | None = None,
    *,
    labels: bool = False,
    num_labels: int = 11,
    cmap: str = "gray",
    vmin: float | None = None,
    vmax: float | None = None,
    resolution: int = 180,
    title: str | None = None,
) -> Axes:
    """Draw a whole-sphere Mollweide map of a grid signal (or label map).

    Parameters
    ----------
    signal : array, shape (2B, 2B)
    ax : matplotlib Axes with ``projection="mollweide"``, optional
        A new figure is made when None.
    labels : bool
        Integer labels drawn in :data:`LABEL_COLOURS` (nearest grid point).
    resolution : int
        Rows of the drawn raster (columns: twice as many).

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        ax = new_figure(6, 3.2).add_subplot(projection="mollweide")
    if getattr(ax, "name", None) != "mollweide":
        raise ValueError(f"expected axes with projection='mollweide', got {ax.name!r}")

    longitude_edges = np.linspace(-math.pi, math.pi, 2 * resolution + 1)
    latitude_edges = np.linspace(-math.pi / 2, math.pi / 2, resolution + 1)
    longitude = (longitude_edges[:-1] + longitude_edges[1:]) / 2
    latitude = (latitude_edges[:-1] + latitude_edges[1:]) / 2
    lon, lat = np.meshgrid(longitude, latitude)
    raster = sample_on_grid(signal, math.pi / 2 - lat, lon, nearest=labels)

    ax.pcolormesh(
        longitude_edges,
        latitude_edges,
        raster,
        shading="flat",
        rasterized=True,
        **_colour_args(labels, num_labels, cmap, vmin, vmax),
    )
    ax.set_xticklabels([])
    ax.set_yticklabels([])
    ax.grid(True, color="white", alpha=0.25, linewidth=0.5)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def orthographic_view(
    centre: Sequence[float] | torch.Tensor,
    up: Sequence[float] | torch.Tensor | None = None,
    resolution: int = 128,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sphere points seen in an orthographic view from outside, looking at ``centre``.

    Screen right is ``up x centre`` and screen up is ``up`` made orthogonal to
    ``centre``, so the view is not mirrored. ``up`` defaults to +z (or +x when
    the centre is near a pole).

    Returns
    -------
    colatitude, longitude : numpy.ndarray, shape (resolution, resolution)
        Angles of the visible point at each screen pixel (row 0 at the top).
    visible : numpy.ndarray of bool, same shape
        Pixels inside the disc.
    """
    forward = np.asarray(centre, dtype=np.float64)
    forward = forward / np.linalg.norm(forward)
    if up is None:
        up = (0.0, 0.0, 1.0) if abs(forward[2]) < 0.99 else (1.0, 0.0, 0.0)
    up = np.asarray(up, dtype=np.float64)
    up = up - np.dot(up, forward) * forward
    if np.linalg.norm(up) < 1e-9:
        raise ValueError(f"expected an up direction not parallel to the centre {forward.tolist()}")
    up = up / np.linalg.norm(up)
    right = np.cross(up, forward)

    axis = (np.arange(resolution) + 0.5) / resolution * 2 - 1
    u, v = np.meshgrid(axis, -axis)  # v = +1 at the top row
    depth2 = 1 - u**2 - v**2
    visible = depth2 >= 0
    depth = np.sqrt(np.clip(depth2, 0, None))
    points = u[..., None] * right + v[..., None] * up + depth[..., None] * forward
    colatitude = np.arctan2(np.hypot(points[..., 0], points[..., 1]), points[..., 2])
    return colatitude, np.arctan2(points[..., 1], points[..., 0]), visible


def plot_orthographic(
    signal: torch.Tensor | np.ndarray,
    centre: Sequence[float] | torch.Tensor = (0.0, 0.0, -1.0),
    up: Sequence[float] | torch.Tensor | None = None,
    ax: Axes | None = None,
    *,
    labels: bool = False,
    num_labels: int = 11,
    cmap: str = "gray",
    vmin: float | None = None,
    vmax: float | None = None,
    resolution: int = 128,
    overlay: torch.Tensor | np.ndarray | None = None,
    title: str | None = None,
) -> Axes:
    """Draw the hemisphere around ``centre`` as seen from outside (see :func:`orthographic_view`).

    Parameters
    ----------
    signal : array, shape (2B, 2B)
    centre, up : 3-vectors
        Direction at the middle of the view and the direction drawn upwards.
    labels : bool
        Draw ``signal`` as integer labels in :data:`LABEL_COLOURS`.
    overlay : array, shape (2B, 2B), optional
        Labels drawn half-transparent over the signal (background left clear).

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        ax = new_figure(3, 3).add_subplot()
    colatitude, longitude, visible = orthographic_view(centre, up, resolution)
    raster = sample_on_grid(signal, colatitude, longitude, nearest=labels).astype(float)
    extent = (-1, 1, -1, 1)

    ax.imshow(
        np.ma.masked_array(raster, mask=~visible),
        extent=extent,
        interpolation="nearest",
        **_colour_args(labels, num_labels, cmap, vmin, vmax),
    )
    if overlay is not None:
        label_raster = sample_on_grid(overlay, colatitude, longitude, nearest=True)
        ax.imshow(
            np.ma.masked_array(label_raster, mask=~visible | (label_raster == 0)),
            extent=extent,
            interpolation="nearest",
            alpha=0.55,
            **_colour_args(True, num_labels, cmap, None, None),
        )
    ax.add_patch(_circle())
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def _circle() -> Any:
    from matplotlib.patches import Circle

    return Circle((0, 0), 1, fill=False, edgecolor="0.5", linewidth=0.8)


def add_label_legend(figure: Figure, class_names: Sequence[str], columns: int = 6) -> None:
    """A legend of :data:`LABEL_COLOURS` with ``class_names`` below the figure's panels."""
    from matplotlib.patches import Patch

    handles = [
        Patch(facecolor=LABEL_COLOURS[i], edgecolor="none", label=name)
        for i, name in enumerate(class_names)
    ]
    figure.legend(handles=handles, loc="outside lower center", ncols=columns, fontsize=8)

"""Planar images on the sphere by stereographic projection (the Spherical MNIST geometry).

A ``H x W`` image lies on the plane ``z = -1``, tangent to the unit sphere at the
south pole, as a square of side ``side`` (3 in the protocol) centred on the
pole: the centre of pixel (row ``r``, column ``c``) is at

    x = (c + 0.5) side / W - side / 2,    y = (r + 0.5) side / H - side / 2.

Columns run along +x and rows along +y. A sphere point ``p`` receives the image
value at the point where the line from the north pole ``(0, 0, 1)`` through
``p`` meets the plane:

    (x, y) = 2 (p_x, p_y) / (1 - p_z)          (sphere -> plane)
    p = (4 x, 4 y, x^2 + y^2 - 4) / (x^2 + y^2 + 4)   (plane -> sphere)

so the plane point at distance ``rho`` from the pole's foot has colatitude
``theta = 2 atan(2 / rho)`` and longitude ``atan2(y, x)``. The image centre
lands on the south pole; the edge midpoints (``rho = side / 2 = 1.5``) at
colatitude 106.3 degrees, the corners at 86.6 degrees.

Sampling is bilinear between the four pixel centres around the plane point.
Inside the square, beyond the outermost pixel centres, the edge pixels are
extended (so a constant image stays constant up to the edge); outside the
square the value is 0. A rotated signal is ``(R f)(x) = f(R^-1 x)``: its value at
``x`` is the image value at the projection of ``R^-1 x`` (computed exactly, not by
resampling an upright sphere).

Conventions: sphere and rotations as in docs/conventions.md (colatitude from
+z, rotations act on points); images ``(N, H, W)``; signals
``(N, n_theta, n_phi)`` on an equiangular grid, row 0 nearest the north pole.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F

from equisphere.sphere import EquiangularGrid

__all__ = [
    "IMAGE_SIDE",
    "cpu_threads",
    "directions_from_plane",
    "images_to_unit_range",
    "pixel_directions",
    "plane_from_directions",
    "project_images",
    "sample_images",
]

logger = logging.getLogger(__name__)

IMAGE_SIDE = 3.0
"""Side of the image square on the plane z = -1 in the Spherical MNIST protocol."""


@contextlib.contextmanager
def cpu_threads(num_threads: int | None) -> Iterator[None]:
    """Run a block with ``num_threads`` torch intra-op threads, then restore the setting.

    None leaves the setting alone. Generation defaults to one thread: on a
    machine whose cores are shared with other work, torch's threads wait for
    each other at every operation; measured here with load average 6 on 2
    cores, the full 70,000-image rotated set took 12 s on one thread and 87 s
    on two.
    """
    if num_threads is None:
        yield
        return
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"expected num_threads >= 1 or None, got {num_threads!r}")
    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def plane_from_directions(directions: torch.Tensor) -> torch.Tensor:
    """Where the line from the north pole through each point meets the plane ``z = -1``.

    Parameters
    ----------
    directions : torch.Tensor, shape (..., 3)
        Unit vectors.

    Returns
    -------
    torch.Tensor, shape (..., 2)
        ``(x, y) = 2 (p_x, p_y) / (1 - p_z)``; infinite at the north pole itself.
    """
    scale = 2.0 / (1.0 - directions[..., 2])
    return directions[..., :2] * scale[..., None]


def directions_from_plane(plane_points: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`plane_from_directions`: unit vectors of points ``(x, y)`` on ``z = -1``.

    Parameters
    ----------
    plane_points : torch.Tensor, shape (..., 2)

    Returns
    -------
    torch.Tensor, shape (..., 3)
        ``(4 x, 4 y, x^2 + y^2 - 4) / (x^2 + y^2 + 4)``.
    """
    rho2 = (plane_points**2).sum(-1, keepdim=True)
    return torch.cat([4 * plane_points, rho2 - 4], dim=-1) / (rho2 + 4)


def pixel_directions(
    height: int = 28, width: int = 28, side: float = IMAGE_SIDE, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """Unit vectors of the pixel centres of an upright ``height x width`` image.

    Returns
    -------
    torch.Tensor, shape (height, width, 3)
        Entry ``[r, c]`` is the sphere point of pixel (row ``r``, column ``c``).

    Examples
    --------
    >>> d = pixel_directions()
    >>> centre = d[13:15, 13:15].sum(dim=(0, 1))  # the four pixels around the image centre
    >>> [round(v, 6) + 0.0 for v in (centre / centre.norm()).tolist()]
    [0.0, 0.0, -1.0]
    """
    x = (torch.arange(width, dtype=dtype) + 0.5) * side / width - side / 2
    y = (torch.arange(height, dtype=dtype) + 0.5) * side / height - side / 2
    plane = torch.stack(torch.meshgrid(x, y, indexing="xy"), dim=-1)  # (H, W, 2)
    return directions_from_plane(plane)


def images_to_unit_range(images: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Images ``(..., H, W)`` rescaled to [0, 1] by each image's own minimum and maximum.

    ``(v - min) / (max - min)``. A constant image has no range: it becomes 1
    where it is positive and 0 where it is zero (so the sphere shows the square).
    """
    images = images.to(dtype)
    high = images.amax(dim=(-2, -1), keepdim=True)
    low = images.amin(dim=(-2, -1), keepdim=True)
    low = torch.where(high > low, low, torch.zeros_like(low))
    span = high - low
    return ((images - low) / torch.where(span > 0, span, torch.ones_like(span))).clamp_(0, 1)


def sample_images(
    images: torch.Tensor,
    directions: torch.Tensor,
    rotations: torch.Tensor | None = None,
    side: float | torch.Tensor = IMAGE_SIDE,
) -> torch.Tensor:
    """Values of images placed on the sphere at given directions (bilinear).

    Image ``n`` is placed by the stereographic geometry of this module, then
    rotated by ``rotations[n]``; the value at direction ``x`` is the image value
    at the plane point of ``rotations[n]^-1 x``.

    Parameters
    ----------
    images : torch.Tensor, shape (N, H, W), floating
        Values used as given (no rescaling).
    directions : torch.Tensor, shape (P, 3)
        Unit vectors.
    rotations : torch.Tensor, shape (N, 3, 3), optional
        Rotations acting on points; None for upright images.
    side : float or torch.Tensor of shape (N,)
        Side of the image square on the plane ``z = -1`` (3 in the protocol).

    Returns
    -------
    torch.Tensor, shape (N, P), dtype of ``images``
    """
    if images.ndim != 3 or not images.is_floating_point():
        raise ValueError(
            f"expected floating images of shape (N, H, W), got {images.dtype} {tuple(images.shape)}"
        )
    if directions.ndim != 2 or directions.shape[-1] != 3:
        raise ValueError(f"expected directions of shape (P, 3), got {tuple(directions.shape)}")
    count, n_points = len(images), len(directions)
    if rotations is not None and tuple(rotations.shape) != (count, 3, 3):
        raise ValueError(
            f"expected rotations of shape ({count}, 3, 3), got {tuple(rotations.shape)}"
        )
    dtype, device = images.dtype, images.device

    directions = directions.to(dtype=dtype, device=device)
    if rotations is None:
        points = directions.T.unsqueeze(0)  # (1, 3, P): shared by all images
    else:
        # Row d of R^T is column d of R: points[n, :, p] = R_n^T x_p = R_n^-1 x_p.
        rotations_t = rotations.to(dtype=dtype, device=device).transpose(1, 2)
        points = (rotations_t.reshape(count * 3, 3) @ directions.T).view(count, 3, n_points)

    half_side = torch.as_tensor(side, dtype=dtype, device=device).reshape(-1, 1) / 2  # (N|1, 1)
    # Plane point over half the side: grid_sample's coordinates, where -1 and +1 are the
    # outer edges of the outer pixels (align_corners=False), i.e. the square's edges.
    scale = 2.0 / (1.0 - points[:, 2]).clamp_min(1e-12) / half_side  # (N, P)
    grid_x = (points[:, 0] * scale).clamp(-2.0, 2.0)
    grid_y = (points[:, 1] * scale).clamp(-2.0, 2.0)
    inside = (grid_x.abs() <= 1) & (grid_y.abs() <= 1) & (points[:, 2] < 1)

    grid = torch.stack([grid_x, grid_y], dim=-1).unsqueeze(1).expand(count, 1, n_points, 2)
    values = F.grid_sample(
        images.unsqueeze(1), grid, mode="bilinear", padding_mode="border", align_corners=False
    )  # (N, 1, 1, P)
    return values.view(count, n_points) * inside


def project_images(
    images: torch.Tensor,
    bandwidth: int = 30,
    rotations: torch.Tensor | None = None,
    *,
    chunk_size: int = 256,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    progress: Callable[[int], None] | None = None,
    num_threads: int | None = 1,
) -> torch.Tensor:
    """Spherical MNIST signals: images projected onto the equiangular grid, as uint8.

    Each image is rescaled to [0, 1] by its own minimum and maximum, placed on
    the sphere by stereographic projection (side 3 on ``z = -1``), rotated by its
    rotation, sampled bilinearly at the grid points and stored as
    ``round(255 v)``. Work is done in chunks of ``chunk_size`` images.

    Parameters
    ----------
    images : torch.Tensor, shape (N, H, W)
        Any real dtype (uint8 for MNIST files).
    bandwidth : int
        Grid bandwidth ``B``; the grid is ``2B x 2B`` (60 x 60 for B = 30).
    rotations : torch.Tensor, shape (N, 3, 3), optional
        Per-image rotations acting on points; None for upright (NR) images.
    chunk_size : int
        Images per chunk (memory is about ``chunk_size * 4B^2 * 40`` bytes).
    device : torch.device or str, optional
        Where to compute; the result is returned on the CPU.
    dtype : torch.dtype
        Precision of the geometry and sampling.
    progress : callable, optional
        Called with the number of images finished after each chunk.
    num_threads : int or None
        Torch CPU threads while projecting (see :func:`cpu_threads`); None keeps
        torch's setting.

    Returns
    -------
    torch.Tensor, shape (N, 2B, 2B), uint8

    Conventions: equiangular grid of docs/conventions.md, row 0 nearest the north
    pole; rotated signal ``(R f)(x) = f(R^-1 x)``.
    """
    if images.ndim != 3:
        raise ValueError(f"expected images of shape (N, H, W), got {tuple(images.shape)}")
    if rotations is not None and tuple(rotations.shape) != (len(images), 3, 3):
        raise ValueError(
            f"expected rotations of shape ({len(images)}, 3, 3), got {tuple(rotations.shape)}"
        )
    if chunk_size < 1:
        raise ValueError(f"expected chunk_size >= 1, got {chunk_size}")
    grid = EquiangularGrid(bandwidth)

    device = torch.device(device) if device is not None else images.device
    directions = grid.vectors().reshape(-1, 3).to(dtype=dtype, device=device)
    output = torch.empty((len(images), *grid.shape), dtype=torch.uint8)
    logger.debug("projecting %d images onto %r in chunks of %d", len(images), grid, chunk_size)

    with cpu_threads(num_threads if device.type == "cpu" else None):
        for start in range(0, len(images), chunk_size):
            stop = min(start + chunk_size, len(images))
            chunk = images_to_unit_range(images[start:stop].to(device), dtype)
            chunk_rotations = None if rotations is None else rotations[start:stop]
            values = sample_images(chunk, directions, chunk_rotations)
            output[start:stop] = (
                (values * 255).round_().clamp_(0, 255).to(torch.uint8).view(-1, *grid.shape).cpu()
            )
            if progress is not None:
                progress(stop - start)
    return output

"""Where a direction falls in a raster: camera images, panoramas and sphere grids.

Each lookup takes unit directions ``(M, 3)`` (float64) and returns input indices
``(M, K)``, bilinear weights ``(M, K)`` and a validity mask ``(M,)``.

Conventions (docs/conventions.md): pixel centres at integers; equirectangular
column ``j`` at longitude ``((j + 0.5) / W - 0.5) 2 pi`` with longitude ``= -phi``,
row ``i`` at colatitude ``(i + 0.5) pi / H``, longitude wrapping and latitude
clamped; product sphere grids ``(n_theta, n_phi)`` with ``phi_k = 2 pi k / n_phi``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from equisphere.cameras import Camera
from equisphere.resample.maps import Lookup
from equisphere.sphere import HealpixGrid, SphereGrid, angles_from_vectors

__all__ = [
    "camera_lookup",
    "equirect_lookup",
    "equirect_pixels",
    "grid_lookup",
    "image_bilinear",
]


def image_bilinear(
    u: torch.Tensor, v: torch.Tensor, height: int, width: int, wrap_u: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat indices ``(M, 4)`` and weights ``(M, 4)`` of bilinear interpolation at ``(u, v)``.

    Coordinates outside the pixel centres are clamped to the edge (or wrapped
    horizontally when ``wrap_u``), so the half pixel at each border repeats the
    edge value.
    """
    x0, y0 = torch.floor(u), torch.floor(v)
    fx, fy = u - x0, v - y0
    x0, y0 = x0.long(), y0.long()
    if wrap_u:
        xs = (torch.remainder(x0, width), torch.remainder(x0 + 1, width))
    else:
        xs = (x0.clamp(0, width - 1), (x0 + 1).clamp(0, width - 1))
    ys = (y0.clamp(0, height - 1), (y0 + 1).clamp(0, height - 1))
    index = torch.stack(
        [
            ys[0] * width + xs[0],
            ys[0] * width + xs[1],
            ys[1] * width + xs[0],
            ys[1] * width + xs[1],
        ],
        dim=-1,
    )
    weight = torch.stack([(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx], dim=-1)
    return index, weight


def camera_lookup(camera: Camera, world_from_camera: torch.Tensor) -> Lookup:
    """Lookup into a camera image for world directions; valid where the lens images
    the ray and the pixel lies on the sensor."""
    rotation = world_from_camera.to(torch.float64)

    def lookup(directions: torch.Tensor):
        rays_in_camera = directions @ rotation  # (M, 3): R^T d for each row d
        pixels, valid = camera.project(rays_in_camera)
        valid = valid & camera.contains(pixels)
        index, weight = image_bilinear(pixels[:, 0], pixels[:, 1], camera.height, camera.width)
        return index, weight, valid

    return lookup


def equirect_pixels(directions: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``(u, v)`` of directions ``(..., 3)`` in an equirectangular image of ``height x width``."""
    colatitude, phi = angles_from_vectors(directions)
    longitude = torch.remainder(-phi + math.pi, 2 * math.pi) - math.pi  # in [-pi, pi)
    u = (longitude / (2 * math.pi) + 0.5) * width - 0.5
    v = colatitude / math.pi * height - 0.5
    return torch.stack([u, v], dim=-1)


def equirect_lookup(height: int, width: int) -> Lookup:
    """Lookup into an equirectangular panorama (every direction is valid)."""

    def lookup(directions: torch.Tensor):
        uv = equirect_pixels(directions, height, width)
        index, weight = image_bilinear(uv[:, 0], uv[:, 1], height, width, wrap_u=True)
        return index, weight, torch.ones(directions.shape[0], dtype=torch.bool)

    return lookup


def grid_lookup(grid: SphereGrid) -> Lookup:
    """Bilinear lookup into a signal on a sphere grid (every direction is valid).

    Product grids interpolate in ``(theta, phi)``; above the first ring (and below
    the last) the neighbour is the same ring seen across the pole (``phi + pi``).
    HEALPix uses healpy's ring interpolation weights.
    """
    if isinstance(grid, HealpixGrid):
        import healpy

        def lookup_healpix(directions: torch.Tensor):
            theta, phi = angles_from_vectors(directions)
            index, weight = healpy.get_interp_weights(
                grid.nside, theta.numpy(), phi.numpy(), nest=grid.order == "nested"
            )
            valid = torch.ones(directions.shape[0], dtype=torch.bool)
            return torch.from_numpy(index.T.astype(np.int64)), torch.from_numpy(weight.T), valid

        return lookup_healpix

    theta_nodes = getattr(grid, "theta", None)
    phi_nodes = getattr(grid, "phi", None)
    if theta_nodes is None or phi_nodes is None:
        raise TypeError(
            f"expected a product grid (equiangular, Gauss-Legendre) or HEALPix, got {grid!r}"
        )
    n_theta, n_phi = theta_nodes.numel(), phi_nodes.numel()
    if n_phi % 2:
        raise ValueError(f"expected an even number of longitudes for pole crossing, got {n_phi}")
    theta_nodes = theta_nodes.to(torch.float64)
    # Rings extended across both poles: a ring at -theta_0 and one at 2 pi - theta_last.
    extended = torch.cat(
        [-theta_nodes[:1], theta_nodes, 2 * math.pi - theta_nodes[-1:]]
    )  # (n_theta + 2,)
    ring_of = torch.cat([torch.tensor([0]), torch.arange(n_theta), torch.tensor([n_theta - 1])])
    shift_of = torch.zeros(n_theta + 2, dtype=torch.int64)
    shift_of[0] = shift_of[-1] = n_phi // 2
    step = 2 * math.pi / n_phi

    def lookup_product(directions: torch.Tensor):
        theta, phi = angles_from_vectors(directions)
        upper = torch.searchsorted(extended, theta, right=True).clamp(1, n_theta + 1)
        lower = upper - 1
        ty = (theta - extended[lower]) / (extended[upper] - extended[lower])
        position = torch.remainder(phi, 2 * math.pi) / step
        k0 = torch.floor(position)
        tx = position - k0
        k0 = k0.long()
        index, weight = [], []
        for row, wy in ((lower, 1 - ty), (upper, ty)):
            ring, shift = ring_of[row], shift_of[row]
            for dk, wx in ((0, 1 - tx), (1, tx)):
                column = torch.remainder(k0 + dk + shift, n_phi)
                index.append(ring * n_phi + column)
                weight.append(wy * wx)
        valid = torch.ones(directions.shape[0], dtype=torch.bool)
        return torch.stack(index, dim=-1), torch.stack(weight, dim=-1), valid

    return lookup_product

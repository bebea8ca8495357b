"""Lookups and sparse maps: bilinear weights, pole crossing, HEALPix, equirectangular pixels."""

import math

import numpy as np
import pytest
import torch

from equisphere.resample import MapCache, ResampleMap
from equisphere.resample.lookups import equirect_pixels, grid_lookup, image_bilinear
from equisphere.resample.maps import Samples, build_linear_map, build_nearest_map
from equisphere.sphere import EquiangularGrid, GaussLegendreGrid, HealpixGrid, unit_vectors

F64 = torch.float64


def random_directions(n, seed=0):
    generator = torch.Generator().manual_seed(seed)
    v = torch.randn(n, 3, generator=generator, dtype=F64)
    return v / v.norm(dim=-1, keepdim=True)


def test_image_bilinear_matches_grid_sample_with_border_padding():
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(7, 11, generator=generator, dtype=F64)
    u = torch.rand(500, generator=generator, dtype=F64) * 12 - 1  # beyond the edges too
    v = torch.rand(500, generator=generator, dtype=F64) * 8 - 1
    index, weight = image_bilinear(u, v, 7, 11)
    ours = (image.reshape(-1)[index] * weight).sum(-1)
    # grid_sample with align_corners=True puts -1 and +1 on the first and last pixel centres.
    grid = torch.stack([u / 10 * 2 - 1, v / 6 * 2 - 1], dim=-1)[None, None]
    reference = torch.nn.functional.grid_sample(
        image[None, None], grid, mode="bilinear", padding_mode="border", align_corners=True
    )[0, 0, 0]
    torch.testing.assert_close(ours, reference)


def test_image_bilinear_wraps_horizontally():
    image = torch.arange(8, dtype=F64).reshape(1, 8)
    index, weight = image_bilinear(torch.tensor([7.25, -0.5]), torch.tensor([0.0, 0.0]), 1, 8, True)
    values = (image.reshape(-1)[index] * weight).sum(-1)
    torch.testing.assert_close(values, torch.tensor([0.75 * 7, 3.5], dtype=F64))


def test_equirect_pixels_follow_the_convention():
    height, width = 50, 100
    directions = torch.tensor(
        [[1.0, 0, 0], [0, -1.0, 0], [0, 1.0, 0], [-1.0, 0, 0], [0, 0, 1.0], [0, 0, -1.0]], dtype=F64
    )
    uv = equirect_pixels(directions, height, width)
    # +x at the centre; -y (right, unmirrored) three quarters across; +y one quarter.
    expected_u = [width / 2 - 0.5, 3 * width / 4 - 0.5, width / 4 - 0.5, -0.5]
    torch.testing.assert_close(uv[:4, 0], torch.tensor(expected_u, dtype=F64))
    torch.testing.assert_close(uv[:4, 1], torch.full((4,), height / 2 - 0.5, dtype=F64))
    torch.testing.assert_close(uv[4:, 1], torch.tensor([-0.5, height - 0.5], dtype=F64))


@pytest.mark.parametrize("grid", [EquiangularGrid(16), GaussLegendreGrid(16)], ids=repr)
def test_product_grid_lookup_interpolates_smooth_signals_across_the_poles(grid):
    def f(v):
        return v[..., 2] + 0.5 * v[..., 0] - 0.3 * v[..., 1] + 0.2 * v[..., 0] * v[..., 1]

    signal = f(grid.vectors()).reshape(-1)
    lookup = grid_lookup(grid)
    directions = random_directions(2000)
    # Points closer to a pole than the first ring: the neighbour is across the pole.
    polar = unit_vectors(
        torch.rand(200, dtype=F64) * float(grid.theta[0]), torch.rand(200, dtype=F64) * 6.28
    )
    directions = torch.cat([directions, polar, polar * torch.tensor([1.0, 1.0, -1.0], dtype=F64)])
    index, weight, valid = lookup(directions)
    assert valid.all()
    torch.testing.assert_close(weight.sum(-1), torch.ones(len(directions), dtype=F64))
    interpolated = (signal[index] * weight).sum(-1)
    error = (interpolated - f(directions)).abs()
    spacing = math.pi / grid.theta.numel()
    assert float(error.max()) < 0.7 * spacing**2  # bilinear: second order in the ring spacing
    # At the grid points themselves the lookup is exact.
    index, weight, _ = lookup(grid.vectors().reshape(-1, 3))
    torch.testing.assert_close((signal[index] * weight).sum(-1), signal)


def test_healpix_lookup_is_healpy_interpolation():
    healpy = pytest.importorskip("healpy")
    for order in ("ring", "nested"):
        grid = HealpixGrid(8, order=order)
        signal = torch.rand(grid.shape, dtype=F64)
        directions = random_directions(300, seed=1)
        index, weight, _ = grid_lookup(grid)(directions)
        theta = torch.atan2(directions[:, :2].norm(dim=-1), directions[:, 2]).numpy()
        phi = torch.atan2(directions[:, 1], directions[:, 0]).numpy()
        expected = healpy.get_interp_val(signal.numpy(), theta, phi, nest=order == "nested")
        np.testing.assert_allclose((signal[index] * weight).sum(-1).numpy(), expected, atol=1e-12)


def one_pixel_lookup(directions):
    """Each direction maps to input (x + 1) with weight 1; directions with x < 0 are invalid."""
    index = (directions[:, 0] > 0).long()[:, None]
    return index, torch.ones_like(index, dtype=F64), directions[:, 0] > -0.5


def test_linear_map_averages_valid_sub_samples_and_reports_coverage():
    directions = torch.tensor(
        [[[1.0, 0, 0], [-0.2, 0, 1], [-1.0, 0, 0]], [[-1.0, 0, 0], [-1.0, 0, 0], [-1.0, 0, 0]]],
        dtype=F64,
    )  # (2 outputs, 3 sub-samples, 3)
    weights = torch.tensor([[0.5, 0.25, 0.25], [1 / 3, 1 / 3, 1 / 3]], dtype=F64)
    chunk = Samples(torch.tensor([0, 1]), directions, weights)
    resample_map = build_linear_map([chunk], one_pixel_lookup, (2,), (2,))
    torch.testing.assert_close(resample_map.coverage, torch.tensor([0.75, 0.0], dtype=F64))
    values = torch.tensor([10.0, 20.0], dtype=F64)
    # Output 0: (0.5 * 20 + 0.25 * 10) / 0.75; output 1 sees nothing.
    torch.testing.assert_close(resample_map.apply(values), torch.tensor([50 / 3, 0.0], dtype=F64))
    torch.testing.assert_close(
        resample_map.apply(values, fill=-1), torch.tensor([50 / 3, -1.0], dtype=F64)
    )
    batch = torch.stack([values, 2 * values])[:, None]  # (2, 1, 2): leading dims kept
    assert resample_map.apply(batch).shape == (2, 1, 2)


def test_nearest_map_keeps_labels_and_dtype():
    directions = torch.tensor([[[1.0, 0, 0]], [[-0.1, 0, 1]], [[-1.0, 0, 0]]], dtype=F64)
    chunk = Samples(torch.tensor([2, 0, 1]), directions, torch.ones(3, 1, dtype=F64))
    resample_map = build_nearest_map([chunk], one_pixel_lookup, (2,), (3,))
    labels = torch.tensor([[7, 9]], dtype=torch.uint8)
    out = resample_map.apply(labels, fill=255)
    assert out.dtype == torch.uint8
    assert out.tolist() == [[7, 255, 9]]
    with pytest.raises(TypeError, match="nearest"):
        build_linear_map([chunk], one_pixel_lookup, (2,), (3,)).apply(labels)


def test_apply_checks_shapes_and_is_differentiable():
    grid = EquiangularGrid(4)
    chunk = Samples(torch.arange(3), random_directions(3)[:, None], torch.ones(3, 1, dtype=F64))
    resample_map = build_linear_map([chunk], grid_lookup(grid), grid.shape, (3,))
    with pytest.raises(ValueError, match=r"\(\.\.\., 8, 8\)"):
        resample_map.apply(torch.zeros(2, 8, 7, dtype=F64))
    signal = torch.rand(2, 8, 8, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(resample_map.apply, (signal,))
    # Many rows take the sparse mat-mat path, a few the mat-vec path: same numbers.
    many = torch.rand(40, 8, 8, dtype=F64, requires_grad=True)
    rows = torch.cat([resample_map.apply(many[i : i + 1]) for i in range(40)])
    torch.testing.assert_close(resample_map.apply(many), rows)
    assert torch.autograd.gradcheck(
        resample_map.apply, (many[:20].detach().requires_grad_(),), fast_mode=True
    )


def test_map_cache_builds_once_and_evicts_the_oldest():
    cache = MapCache(max_entries=2)
    made = []

    def builder(name):
        def build():
            made.append(name)
            return ResampleMap(
                (1,), (1,), torch.ones(1, dtype=F64), index=torch.zeros(1, dtype=torch.long)
            )

        return build

    first = cache.get(("a",), builder("a"))
    assert cache.get(("a",), builder("a")) is first and made == ["a"]
    cache.get(("b",), builder("b"))
    cache.get(("c",), builder("c"))
    assert ("a",) not in cache and len(cache) == 2 and cache.builds == 3 and cache.hits == 1
    with pytest.raises(ValueError, match="max_entries"):
        MapCache(0)


def test_longitude_wraps_in_the_product_lookup():
    grid = EquiangularGrid(8)
    signal = torch.cos(grid.longitude).reshape(-1)
    directions = unit_vectors(
        torch.full((5,), math.pi / 2, dtype=F64),
        torch.tensor([-0.1, 0.0, 6.2, 6.28, 3.1], dtype=F64),
    )
    index, weight, _ = grid_lookup(grid)(directions)
    values = (signal[index] * weight).sum(-1)
    expected = torch.cos(torch.tensor([-0.1, 0.0, 6.2, 6.28, 3.1], dtype=F64))
    assert float((values - expected).abs().max()) < 0.02

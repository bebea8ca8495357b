import math

import numpy as np
import pytest
import torch
from PIL import Image

from equisphere.data import make_spherical_classification, make_spherical_segmentation
from equisphere.sphere import EquiangularGrid, angles_from_vectors
from equisphere.viz import (
    LABEL_COLOURS,
    classification_sheet,
    new_figure,
    orthographic_view,
    plot_mollweide,
    plot_orthographic,
    sample_on_grid,
    save_figure,
    segmentation_sheet,
)


def test_sample_on_grid_is_exact_at_grid_points_and_linear_between():
    grid = EquiangularGrid(8)
    signal = torch.rand(16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    values = sample_on_grid(signal, grid.colatitude.numpy(), grid.longitude.numpy())
    np.testing.assert_allclose(values, signal.numpy(), atol=1e-12)
    np.testing.assert_array_equal(
        sample_on_grid(
            signal, grid.colatitude.numpy() + 0.01, grid.longitude.numpy(), nearest=True
        ),
        signal.numpy(),
    )
    # A signal linear in colatitude and in longitude (away from the seam) is reproduced exactly.
    linear = 2 * grid.colatitude + 0.5 * grid.longitude
    theta = np.array([0.7, 1.3, 2.2])
    phi = np.array([0.4, 2.9, 5.0])
    np.testing.assert_allclose(
        sample_on_grid(linear, theta, phi), 2 * theta + 0.5 * phi, atol=1e-12
    )
    # Longitude wraps: halfway between the last column and the first.
    step = 2 * math.pi / 16
    between = sample_on_grid(signal, np.array([grid.theta[3].item()]), np.array([-step / 2]))
    np.testing.assert_allclose(between, [(signal[3, 15] + signal[3, 0]).item() / 2], atol=1e-12)


def test_sample_on_grid_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"shape \(2B, 2B\)"):
        sample_on_grid(np.zeros((4, 6)), np.zeros(1), np.zeros(1))


@pytest.mark.parametrize("centre", [(1.0, 0, 0), (0, 0, -1.0), (0.3, -0.5, 0.8)])
def test_orthographic_view_looks_at_centre_unmirrored(centre):
    colatitude, longitude, visible = orthographic_view(centre, resolution=101)
    points = np.stack(
        [
            np.sin(colatitude) * np.cos(longitude),
            np.sin(colatitude) * np.sin(longitude),
            np.cos(colatitude),
        ],
        axis=-1,
    )
    forward = np.asarray(centre) / np.linalg.norm(centre)
    np.testing.assert_allclose(points[50, 50], forward, atol=1e-12)
    assert visible[50, 50] and not visible[0, 0]
    right = points[50, 100] - points[50, 50]
    up = points[0, 50] - points[50, 50]
    # Seen from outside: right x up points back at the viewer (no mirror image).
    assert np.dot(np.cross(right, up), forward) > 0
    assert (np.einsum("ijc,c->ij", points, forward)[visible] >= -1e-12).all()


def test_orthographic_default_up_is_north():
    colatitude, _, _ = orthographic_view((1.0, 0, 0), resolution=64)
    assert colatitude[0, 32] < colatitude[63, 32]  # the top row is nearer the north pole


def render(figure):
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3]


def test_label_maps_use_the_fixed_palette():
    labels = np.zeros((20, 20), dtype=np.int64)
    labels[:, :10] = 4
    figure = new_figure(4, 2.2)
    plot_mollweide(labels, figure.add_subplot(projection="mollweide"), labels=True)
    pixels = render(figure).reshape(-1, 3).astype(int)
    for label in (0, 4):
        colour = np.round(LABEL_COLOURS[label] * 255).astype(int)
        assert (np.abs(pixels - colour).max(axis=1) <= 2).sum() > 500
    unused = np.round(LABEL_COLOURS[7] * 255).astype(int)
    assert (np.abs(pixels - unused).max(axis=1) <= 2).sum() == 0


def test_mollweide_places_the_south_pole_at_the_bottom():
    grid = EquiangularGrid(15)
    south = (grid.colatitude > 2.5).to(torch.float64)  # bright cap around the south pole
    figure = new_figure(4, 2.2)
    ax = plot_mollweide(south, figure.add_subplot(projection="mollweide"), vmin=0, vmax=1)
    image = render(figure).mean(-1)

    def brightness(longitude, latitude):
        x, y = ax.transData.transform((longitude, latitude))
        return image[int(round(image.shape[0] - y)), int(round(x))]

    # Away from the graticule lines (every 15 degrees of latitude, 30 of longitude).
    assert brightness(0.25, -1.2) > 250 and brightness(2.0, -1.0) > 250  # inside the cap
    assert brightness(0.25, 1.2) < 5 and brightness(-2.0, 0.25) < 5  # north and equator: dark


def test_orthographic_shows_the_signal_at_the_centre():
    grid = EquiangularGrid(15)
    _, longitude = angles_from_vectors(grid.vectors())
    signal = (torch.cos(longitude) > 0.9).to(torch.float64)  # a band around phi = 0 (+x)
    figure = new_figure(3, 3)
    ax = plot_orthographic(signal, (1.0, 0, 0), ax=figure.add_subplot(), vmin=0, vmax=1)
    array = ax.get_images()[0].get_array()
    assert float(array[64, 64]) == 1.0 and float(array[64, 5]) == 0.0


def test_sheets_are_written_and_never_overwritten(tmp_path):
    data = make_spherical_classification("test", rotation="R", size=3, cache=False)
    path = save_figure(classification_sheet(data, count=3), tmp_path / "sheet.png")
    with Image.open(path) as picture:
        assert picture.format == "PNG" and picture.width > 600
        colours = np.asarray(picture.convert("RGB")).reshape(-1, 3).astype(int)
    # The titles are drawn in the class colours.
    label = int(data.labels[0]) + 1
    title = np.round(LABEL_COLOURS[label] * 255).astype(int)
    assert (np.abs(colours - title).max(axis=1) <= 3).sum() > 10
    with pytest.raises(FileExistsError, match="sheet.png"):
        save_figure(classification_sheet(data, count=1), path)

    segmentation = make_spherical_segmentation("test", size=2, cache=False)
    figure = segmentation_sheet(segmentation, count=2)
    legend = figure.legends[0]
    assert [text.get_text() for text in legend.get_texts()] == list(segmentation.class_names)
    save_figure(figure, tmp_path / "segmentation.png")
    assert (tmp_path / "segmentation.png").stat().st_size > 10000


def test_sheet_rejects_bad_indices():
    data = make_spherical_classification("test", size=2, cache=False)
    with pytest.raises(ValueError, match=r"index in \[0, 2\)"):
        classification_sheet(data, indices=[5])

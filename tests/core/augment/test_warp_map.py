"""``warp_map`` moves a clean heat map (attention, a token grid) into the augmented frame. By its
definition: each output cell is split into 4x4 sub-blocks; the pixel at each sub-block's centre
says, through the coordinate grid, where it came from; the sample takes the value of the source
cell holding that point, if the point came from inside the canvas (validity above 0.5); the cell
is the mean of its inside samples (0 if none) and its coverage the share of inside samples.

Checked on canvases whose sub-blocks have a centre pixel (3 px: pixels 1, 4, 7, 10 of a 12-px
cell; 1 px: every pixel), against that definition written as loops, and on hand-worked values."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_clipshift.core.augment.augmentations import warp_map
from pytest_clipshift.core.augment.types import coordinate_grid

GRID = (3, 5)  # patch rows, columns: not square


def shifted(cell: int, dx: int, dy: int) -> np.ndarray:
    """The coordinate grid of a canvas moved by (dx, dy) pixels: pixel (x, y) came from (x - dx, y - dy),
    inside the canvas or not."""
    h, w = GRID[0] * cell, GRID[1] * cell
    coords = coordinate_grid(h, w)
    coords[..., 0] -= dx
    coords[..., 1] -= dy
    inside = (coords[..., 0] >= 0) & (coords[..., 0] <= w - 1) & (coords[..., 1] >= 0) & (coords[..., 1] <= h - 1)
    coords[..., 2] = inside
    return coords


def by_definition(heat: np.ndarray, coords: np.ndarray, cell: int) -> tuple[np.ndarray, np.ndarray]:
    step = cell // 4  # a sub-block's side, odd: its centre is a pixel
    gh, gw = heat.shape[-2:]
    total, inside = np.zeros(heat.shape), np.zeros((gh, gw))
    for i in range(gh):
        for j in range(gw):
            for a in range(4):
                for b in range(4):
                    y, x = cell * i + step * a + step // 2, cell * j + step * b + step // 2
                    source_x, source_y, valid = coords[y, x]
                    if valid > 0.5:
                        row, column = int((source_y + 0.5) // cell), int((source_x + 0.5) // cell)
                        total[..., i, j] += heat[..., row, column]
                        inside[i, j] += 1
    return np.where(inside > 0, total / np.maximum(inside, 1), 0.0), inside / 16


@pytest.mark.parametrize("cell", [12, 4])
@pytest.mark.parametrize("dx, dy", [(2, 1), (1, 2), (-1, 1), (1, -1), (-3, -5), (6, 0), (14, 0), (0, -14)])
def test_a_shift_moves_the_map_as_the_definition_says(cell, dx, dy):
    heat = np.random.default_rng(abs(cell + 10 * dx + dy)).random((2, 3, *GRID))  # leading axes: layers, heads
    warped, coverage = warp_map(heat, shifted(cell, dx, dy))
    expected, expected_coverage = by_definition(heat, shifted(cell, dx, dy), cell)
    assert warped.dtype == coverage.dtype == np.float32
    assert warped.shape == heat.shape and coverage.shape == GRID
    np.testing.assert_allclose(warped, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(coverage, expected_coverage.astype(np.float32))


def test_hand_worked_half_cell_shift_and_an_empty_column():
    """Half a cell to the right: each cell is the mean of itself and its left neighbour; the first
    column is half outside, its own value, coverage 0.5. More than a cell: the first column is empty."""
    heat = np.arange(15.0).reshape(GRID)
    warped, coverage = warp_map(heat, shifted(12, 6, 0))
    np.testing.assert_allclose(warped[:, 1:], (heat[:, 1:] + heat[:, :-1]) / 2)
    np.testing.assert_array_equal(warped[:, 0], heat[:, 0])
    np.testing.assert_array_equal(coverage[:, 0], 0.5)
    np.testing.assert_array_equal(coverage[:, 1:], 1.0)
    warped, coverage = warp_map(heat, shifted(12, 14, 0))
    np.testing.assert_array_equal(warped[:, 0], 0.0)
    np.testing.assert_array_equal(coverage[:, 0], 0.0)


def test_one_inside_sample_gives_its_cell_and_half_inside_counts_as_outside():
    heat = np.arange(15.0).reshape(GRID) + 1
    coords = coordinate_grid(36, 60)
    coords[:12, :12, 2] = 0.0  # cell (0, 0) from outside ...
    coords[1, 1, 2] = 1.0  # ... but for its first sample pixel
    coords[:12, 12:24, 2] = 0.5  # cell (0, 1) half from outside everywhere
    warped, coverage = warp_map(heat, coords)
    assert warped[0, 0] == heat[0, 0] and coverage[0, 0] == 1 / 16
    assert warped[0, 1] == 0.0 and coverage[0, 1] == 0.0
    np.testing.assert_array_equal(warped[1:], heat[1:])


def test_points_from_far_outside_the_canvas_are_never_read():
    """Zoomed out four times: most pixels come from far outside (up to three canvases away); they
    are outside, whatever cell their coordinates would point at."""
    heat = np.arange(15.0).reshape(GRID)
    coords = coordinate_grid(36, 60)
    coords[..., 0] = (coords[..., 0] - 29.5) * 4 + 29.5
    coords[..., 1] = (coords[..., 1] - 17.5) * 4 + 17.5
    inside = (coords[..., 0] >= 0) & (coords[..., 0] <= 59) & (coords[..., 1] >= 0) & (coords[..., 1] <= 35)
    coords[..., 2] = inside
    warped, coverage = warp_map(heat, coords)
    expected, expected_coverage = by_definition(heat, coords, 12)
    np.testing.assert_allclose(warped, expected, rtol=1e-6)
    np.testing.assert_array_equal(coverage, expected_coverage.astype(np.float32))
    assert coverage[0, 0] == 0.0 and coverage[1, 2] == 0.5  # the middle cell: half its rows inside

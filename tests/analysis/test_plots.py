import os

import numpy as np

from kzoo.analysis import plot_lines, plot_search_heatmap


def test_search_heatmap_grid_and_failed_cells(tmp_path):
    trials = [
        {"n": 1, "m": 5, "val_accuracy": 0.9},
        {"n": 2, "m": 9, "val_accuracy": 0.7},
        {"n": 2, "m": 5, "error": "RuntimeError: boom"},
    ]
    path = str(tmp_path / "heatmap.png")
    grid = plot_search_heatmap(trials, path)
    np.testing.assert_array_equal(grid, [[0.9, np.nan], [np.nan, 0.7]])
    assert os.path.getsize(path) > 1000


def test_lines_leave_out_missing_points_and_keep_error_bars(tmp_path):
    path = str(tmp_path / "lines.png")
    plotted = plot_lines(
        {"a": ([1, 5, 10], [0.5, None, 0.9], [0.01, 0.02, None]),
         "b": ([0, 1], [0.2, 0.3])},
        path, xlabel="x", ylabel="y", title="t",
    )
    assert plotted == {"a": ([1, 10], [0.5, 0.9], [0.01, 0.0]),
                       "b": ([0, 1], [0.2, 0.3], None)}
    assert os.path.getsize(path) > 1000

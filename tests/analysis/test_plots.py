import os

import numpy as np

from kzoo.analysis import plot_search_heatmap


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

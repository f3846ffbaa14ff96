"""Receptive fields, parameter/MAC counts, classification reports and plots."""

from kzoo.analysis.plots import (
    plot_confusion_matrix,
    plot_lines,
    plot_search_heatmap,
    plot_weight_templates,
)
from kzoo.analysis.receptive_field import LayerStats, format_table, layer_table
from kzoo.analysis.report import classification_report

__all__ = [
    "LayerStats",
    "classification_report",
    "format_table",
    "layer_table",
    "plot_confusion_matrix",
    "plot_lines",
    "plot_search_heatmap",
    "plot_weight_templates",
]

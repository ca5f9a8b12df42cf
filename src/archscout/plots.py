"""A study's figures for notebooks and scripts: each function returns a matplotlib figure, which Jupyter
shows inline (see docs/reporting.md); the report and the dashboard draw the same ones."""
from .report.plots import architecture, front, history, hypervolume, png_bytes, svg_text

__all__ = ["history", "front", "hypervolume", "architecture", "png_bytes", "svg_text"]

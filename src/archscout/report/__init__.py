"""Reporting: leaderboards, fronts, plots, the HTML report (:func:`write_report`) and the live dashboard."""
from .html import write_report

__all__ = ["write_report"]

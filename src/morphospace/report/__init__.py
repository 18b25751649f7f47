"""Figures, the interactive HTML page and the TensorBoard projector export."""

from morphospace.report.build import ReportResult, build_report, explore, join_columns
from morphospace.report.thumbnails import asinh_stretch, load_thumbnails, moment0, thumbnail

__all__ = [
    "ReportResult",
    "asinh_stretch",
    "build_report",
    "explore",
    "join_columns",
    "load_thumbnails",
    "moment0",
    "thumbnail",
]

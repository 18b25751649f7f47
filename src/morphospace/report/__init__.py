"""Figures, the interactive HTML page and the TensorBoard projector export."""

from morphospace._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "morphospace.report.build": ["ReportResult", "build_report", "explore", "join_columns"],
        "morphospace.report.thumbnails": [
            "asinh_stretch",
            "load_thumbnails",
            "moment0",
            "thumbnail",
        ],
    },
)

"""Figures, the interactive HTML page, the answers to single questions, exports and the
TensorBoard projector export."""

from morphospace._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "morphospace.report.build": ["ReportResult", "build_report"],
        "morphospace.report.options": ["ReportOptions"],
        "morphospace.report.thumbnails": [
            "asinh_stretch",
            "load_thumbnails",
            "moment0",
            "thumbnail",
        ],
    },
)

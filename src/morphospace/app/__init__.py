"""The local explorer: a server over one run's table, for the page to select, label,
propagate and export objects. It calls ``explore`` and ``report``; nothing below it knows
it exists."""

from morphospace._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "morphospace.app.samp": ["send_selection"],
        "morphospace.app.server": ["Explorer", "create_app", "serve"],
    },
)

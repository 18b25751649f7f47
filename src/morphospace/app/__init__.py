"""The local explorer: a server over one embedding table, for the page to select, label,
propagate and export objects. It calls ``explore`` and ``report``; nothing below it knows
it exists."""

from morphospace.app.labels import LabelStore
from morphospace.app.server import Explorer, create_app, serve

__all__ = ["Explorer", "LabelStore", "create_app", "serve"]

"""Send a selection to TOPCAT, DS9 or Aladin over SAMP, the Virtual Observatory's way for
desktop tools to hand each other tables.

SAMP needs a hub, which TOPCAT, DS9 and Aladin start when none is running. The selection is
written as a VOTable into ``RUN/samp/`` and every client that loads tables is told its
``file://`` URL (``table.load.votable``). The file stays there, since each client reads it
when it likes, after the message is sent.

The SAMP client is ``pyvo.samp``, which is ``astropy.samp`` as maintained since astropy 8.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from morphospace.errors import MorphospaceError
from morphospace.explore.table import RunTable
from morphospace.report.export import write_selection

__all__ = ["TABLE_MTYPE", "send_selection"]

TABLE_MTYPE = "table.load.votable"
NO_HUB = "no SAMP hub is running: start TOPCAT, DS9 or Aladin (each starts one), then send again"


def send_selection(
    table: RunTable, indices: list[int], folder: str | Path, name: str = "morphospace"
) -> tuple[Path, list[str]]:
    """Send objects ``indices`` of ``table`` to every SAMP client that loads tables.

    Returns the VOTable written into ``folder`` and the names of the clients told of it.

    Raises
    ------
    MorphospaceError
        Without a hub, or when no client on the hub loads tables.
    """
    from pyvo.samp import SAMPHubError, SAMPIntegratedClient

    client = SAMPIntegratedClient(name="morphospace", addr="127.0.0.1", callable=False)
    try:
        client.connect()
    except SAMPHubError:
        raise MorphospaceError(NO_HUB) from None
    try:
        recipients = {
            cid: client.get_metadata(cid).get("samp.name", cid)
            for cid in client.get_subscribed_clients(TABLE_MTYPE)
        }
        if not recipients:
            raise MorphospaceError(
                "the SAMP hub has no client that loads tables: start TOPCAT, DS9 or Aladin"
            )
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path(folder) / f"selection-{stamp}-{secrets.token_hex(3)}.vot"
        write_selection(table, path, indices)
        message = {
            "samp.mtype": TABLE_MTYPE,
            "samp.params": {"url": path.resolve().as_uri(), "name": f"{name} ({len(indices)})"},
        }
        for cid in recipients:
            client.notify(cid, message)
        return path, sorted(recipients.values())
    finally:
        client.disconnect()

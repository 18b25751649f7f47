"""The explorer's server: a small Starlette app over one embedding table.

It serves the table's objects and nothing else. Every request needs the server's token
(in the URL as ``?token=``, then in a cookie, or in an ``X-Morphospace-Token`` header), as
Jupyter's server does; a request without it gets 403. No route takes a file path: an
object is named by its row number, so ``../`` or an absolute path can only reach a 404.

Routes (all JSON unless said otherwise):

| route | what |
|---|---|
| ``GET /`` | the viewer (``report/viewer/``: ``index.html`` and the bundled ``viewer.js``) |
| ``GET /api/objects?columns=id,x`` | those columns (the first paint's by default), binary: |
| | ``report.html.binary_columns``, numbers as float64 read in place by the page |
| ``GET /api/objects/{i}`` | one object's metadata |
| ``GET /api/thumbs/{i}.png`` | its thumbnail, framed on its emission (``?full=1``: whole) |
| ``GET /api/density?x0=..&x1=..&y0=..&y1=..&width=..&height=..`` | the density of objects |
| | over that window of the map, a PNG (header ``X-Objects-In-View``: how many) |
| ``GET /api/neighbours?of=i,j&k=12`` | the objects most like one object or a selection |
| ``GET``/``POST /api/labels`` | ``RUN/labels.csv``; POST ``{"set": {id: label or null}}`` |
| ``GET``/``POST /api/marks`` | ``RUN/marks.csv``: 1 interesting, 0 not; POST as for labels |
| ``GET``/``POST /api/seen`` | ``RUN/triage.csv``: the objects seen in triage, in order |
| ``GET /api/triage?order=anomaly`` | every row in triage's order (see ``explore.triage``) |
| ``POST /api/propagate`` | labels propagated to every object (kept in ``RUN/predictions.csv``; |
| | as ``report.html.inline_columns``), and the objects to label next |
| ``GET /api/predictions`` | the labels last propagated, as ``POST /api/propagate`` answered |
| ``POST /api/rerank`` | the anomaly scores re-ranked by the marks |
| ``GET /api/view/{i}.png`` | its pixels (``?stretch=&interval=&cmap=&channel=``) |
| ``GET /api/view/{i}.json`` | its scale, beam, compass and channels (``report.objectview``) |
| ``GET /api/view/{i}/at?x=&y=`` | the pixel value and sky position at a pixel of the view |
| ``POST /api/export`` | ``{"indices": [...], "format": "vot"}``: the objects, with the labels, |
| | marks and predictions, as a file to save |
| ``POST /api/samp`` | ``{"indices": [...]}`` sent to TOPCAT, DS9 or Aladin, or the ``problem`` |

Thumbnails are made when first asked for and cached in ``RUN/thumbs/``; pictures are made
in worker threads, so one slow file does not hold the others back.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import PIL.Image
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from morphospace.app.samp import send_selection
from morphospace.choices import (
    COLOUR_MAP,
    DENSITY_FROM,
    INTERVAL,
    RERANK_EVERY,
    STRETCH,
    TRIAGE_ORDER,
)
from morphospace.embed import find_table
from morphospace.errors import InputError, MorphospaceError
from morphospace.explore.labels import LabelStore
from morphospace.explore.table import RunTable
from morphospace.files import atomic_write, safe_filename
from morphospace.io import SkyImage, read_object
from morphospace.io.catalogue import CatalogueJoin, CatalogueMatch
from morphospace.report import objectview
from morphospace.report.export import SUFFIXES, write_selection
from morphospace.report.html import (
    FIRST_COLUMNS,
    binary_columns,
    categorical_of,
    inline_columns,
    json_value,
    viewer_file,
)
from morphospace.report.thumbnails import png_bytes, thumbnail

__all__ = ["LOOPBACK", "DensityWindow", "Explorer", "create_app", "serve"]

TOKEN_COOKIE = "morphospace_token"
TOKEN_HEADER = "x-morphospace-token"
THUMB_SIDE = 128
MAX_NEIGHBOURS = 1000
MARKS = frozenset({"0", "1"})  # not interesting, interesting
IMAGES_KEPT = 8  # objects whose pixels stay read, for the object view's pointer
_MEDIA_TYPES = {".csv": "text/csv", ".ecsv": "text/plain", ".vot": "application/x-votable+xml",
                ".xml": "application/x-votable+xml", ".fits": "application/fits",
                ".reg": "text/plain", ".txt": "text/plain"}  # fmt: skip


#: The density's colours, from few objects to many (the page's background is dark).
DENSITY_COLOURS = ("#2a3550", "#3f6fb0", "#5fb3c9", "#ffd166", "#fff4d6")
#: The largest density image drawn, in pixels a side.
DENSITY_SIDE = 4096


@dataclass(frozen=True)
class DensityWindow:
    """A window of the map, in its own coordinates, and the image's size in pixels."""

    x0: float
    x1: float
    y0: float
    y1: float
    width: int
    height: int

    @classmethod
    def of(cls, query: Mapping[str, str]) -> DensityWindow:
        """The window a request names; an :class:`InputError` for a missing, empty or
        oversized one."""
        try:
            x0, x1, y0, y1 = (float(query[k]) for k in ("x0", "x1", "y0", "y1"))
            width, height = int(query["width"]), int(query["height"])
        except (KeyError, ValueError):
            raise InputError("density", "needs numbers x0, x1, y0, y1, width and height") from None
        if not all(math.isfinite(v) for v in (x0, x1, y0, y1)) or x1 <= x0 or y1 <= y0:
            raise InputError("density", "the window needs x0 < x1 and y0 < y1, all finite")
        if not (0 < width <= DENSITY_SIDE and 0 < height <= DENSITY_SIDE):
            raise InputError("density", f"width and height are 1 to {DENSITY_SIDE} pixels")
        return cls(x0, x1, y0, y1, width, height)


class Explorer:
    """What the server knows: a run's table (with its labels and marks) and the thumbnail
    cache.

    Parameters
    ----------
    table_path : path
        An embedding table (``RUN/embeddings.parquet``).
    run_dir : path, optional
        Where ``labels.csv``, ``marks.csv`` and ``thumbs/`` live; by default the table's
        folder.
    join : path or CatalogueJoin, optional
        A catalogue whose columns are shown, coloured by and exported with the objects
        (the table on disk is left as it is).
    density_from : int
        From this many objects the page shows the density of the objects in view, drawn
        here (:meth:`density_png`), while there are many of them.
    """

    def __init__(
        self,
        table_path: str | Path,
        run_dir: str | Path | None = None,
        join: str | Path | CatalogueJoin | None = None,
        density_from: int = DENSITY_FROM,
    ):
        self.density_from = int(density_from)
        self.table_path = Path(table_path)
        self.run_dir = Path(run_dir) if run_dir is not None else self.table_path.parent
        # the first paint's columns now, any other when the page or a request first uses it
        self.table = RunTable.open(self.table_path, folder=self.run_dir, columns=FIRST_COLUMNS)
        self.joined: CatalogueMatch | None = None
        if join is not None:
            self.table, self.joined = self.table.join(join)
        chain = json.dumps(self.table.info.get("preprocess"), sort_keys=True)
        self.thumbs = self.run_dir / "thumbs" / hashlib.sha256(chain.encode()).hexdigest()[:12]
        self._images: OrderedDict[int, SkyImage] = OrderedDict()
        self._images_lock = threading.Lock()

    def image(self, i: int) -> SkyImage:
        """Object ``i``'s pixels, as read from its file (the last few are kept)."""
        with self._images_lock:
            if i in self._images:
                self._images.move_to_end(i)
                return self._images[i]
        row = self.table.row(i)
        image = read_object(row["path"], hdu=int(row["hdu"]), min_side=1)
        with self._images_lock:
            self._images[i] = image
            while len(self._images) > IMAGES_KEPT:
                self._images.popitem(last=False)
        return image

    def view_png(self, i: int, query: dict[str, str]) -> bytes:
        """Object ``i``'s pixels in the stretch, interval, colour map and channel asked."""
        image = self.image(i)
        plane = objectview.plane_of(image, _channel(query))
        picture = objectview.render(
            plane,
            query.get("stretch", STRETCH),  # type: ignore[arg-type]  # checked
            query.get("interval", INTERVAL),  # type: ignore[arg-type]
            query.get("cmap", COLOUR_MAP),  # type: ignore[arg-type]
        )
        return png_bytes(picture, optimize=False)

    def density_png(self, window: DensityWindow) -> tuple[bytes, int]:
        """A PNG of how many objects fall in each pixel of a window of the map (counted
        and shaded by datashader, by histogram equalisation; transparent where there are
        none), and how many fall in the window."""
        import datashader
        import datashader.transfer_functions as shading

        canvas = datashader.Canvas(
            plot_width=window.width,
            plot_height=window.height,
            x_range=(window.x0, window.x1),
            y_range=(window.y0, window.y1),
        )
        counts = canvas.points(self._positions, "x", "y")
        found = int(counts.sum())
        if found == 0:  # nothing to shade: a transparent image
            image = PIL.Image.new("RGBA", (window.width, window.height))
        else:
            image = shading.shade(counts, cmap=DENSITY_COLOURS, how="eq_hist").to_pil()
        buffer = io.BytesIO()
        image.save(buffer, format="png")
        return buffer.getvalue(), found

    @cached_property
    def _positions(self) -> pd.DataFrame:
        """The objects' places on the map, as datashader counts them."""
        return pd.DataFrame(
            {name: self.table.column(name).astype(np.float32) for name in ("x", "y")}
        )

    def thumbnail_png(self, i: int, full: bool = False) -> bytes:
        """The PNG of object ``i``'s thumbnail, from the cache or made now."""
        row = self.table.row(i)
        path = self.thumbs / ("full" if full else "framed") / f"{safe_filename(str(row['id']))}.png"
        if path.exists():
            return path.read_bytes()
        image = read_object(row["path"], hdu=int(row["hdu"]), min_side=1)
        png = png_bytes(thumbnail(image, THUMB_SIDE, None if full else self.table.framing), False)
        atomic_write(path, lambda temporary: temporary.write_bytes(png))
        return png


def create_app(explorer: Explorer, token: str) -> Starlette:
    """The Starlette app for ``explorer``, refusing every request without ``token``."""

    table = explorer.table

    every_column = [c for c in table.columns if c != "embedding"]
    categorical = categorical_of(table.rows(indices=[]))

    async def objects(request: Request) -> Response:
        asked = request.query_params.get("columns")
        wanted = asked.split(",") if asked else [c for c in FIRST_COLUMNS if c in every_column]
        unknown = [c for c in wanted if c not in every_column]
        if unknown:
            return _error(404, f"no column {unknown[0]!r}")
        extra = {"all": every_column, "categorical": categorical,
                 "density_from": explorer.density_from}  # fmt: skip
        payload = await run_in_threadpool(binary_columns, table.rows(columns=wanted), extra)
        return Response(payload, media_type="application/octet-stream")

    async def density(request: Request) -> Response:
        window = DensityWindow.of(request.query_params)
        png, found = await run_in_threadpool(explorer.density_png, window)
        return Response(png, media_type="image/png", headers={"X-Objects-In-View": str(found)})

    async def one_object(request: Request) -> JSONResponse:
        row = table.row(request.path_params["i"])
        return JSONResponse({name: json_value(value) for name, value in row.items()})

    async def thumb(request: Request) -> Response:
        full = request.query_params.get("full") == "1"
        png = await run_in_threadpool(explorer.thumbnail_png, request.path_params["i"], full)
        return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    async def view_png(request: Request) -> Response:
        query = dict(request.query_params)
        png = await run_in_threadpool(explorer.view_png, request.path_params["i"], query)
        return Response(png, media_type="image/png")

    async def view_geometry(request: Request) -> JSONResponse:
        image = await run_in_threadpool(explorer.image, request.path_params["i"])
        row = table.row(request.path_params["i"])
        found = asdict(objectview.geometry(image))
        found.update(id=str(row["id"]), path=str(row["path"]))
        return JSONResponse(found)

    async def view_at(request: Request) -> JSONResponse:
        try:
            x, y = float(request.query_params["x"]), float(request.query_params["y"])
        except (KeyError, ValueError):
            return _error(400, "give x= and y=, pixels of the view")
        image = await run_in_threadpool(explorer.image, request.path_params["i"])
        plane = objectview.plane_of(image, _channel(dict(request.query_params)))
        return JSONResponse(objectview.value_at(image, plane, x, y))

    async def neighbours(request: Request) -> JSONResponse:
        try:
            of = [int(i) for i in request.query_params.get("of", "").split(",") if i]
            k = int(request.query_params.get("k", "12"))
        except ValueError:
            return _error(400, "of= takes row numbers, k= a number")
        if not of or not 1 <= k <= MAX_NEIGHBOURS:
            return _error(400, f"give of=ROW[,ROW…] and 1 <= k <= {MAX_NEIGHBOURS}")
        for i in of:
            table.row(i)
        near, score = table.more_like(of, k)
        return JSONResponse({"indices": near.tolist(), "similarity": np.round(score, 5).tolist()})

    def kept_in(store: LabelStore, allowed: frozenset[str] | None = None):
        """GET and POST of one store of per-object values (labels, marks)."""

        async def endpoint(request: Request) -> JSONResponse:
            if request.method == "GET":
                return JSONResponse({"labels": store.read()})
            body = await _json_body(request)
            changes = body.get("set") if isinstance(body, dict) else None
            if not isinstance(changes, dict):
                return _error(400, 'send {"set": {"object id": value or null}}')
            known = set(table.ids)
            unknown = [key for key in changes if key not in known]
            if unknown:
                return _error(400, f"no object {unknown[0]!r} in the table")
            if allowed is not None:
                given = [v for v in changes.values() if v not in (None, "")]
                wrong = [v for v in given if str(v) not in allowed]
                if wrong:
                    return _error(400, f"{wrong[0]!r} is not one of {', '.join(sorted(allowed))}")
            return JSONResponse({"labels": store.update(changes)})

        return endpoint

    async def propagate_labels(request: Request) -> JSONResponse:
        try:
            found = table.propagate(table.label_values())
        except ValueError as exc:
            return _error(400, str(exc))
        table.keep_predictions(found)  # kept with the labels: exports carry them
        predicted = pd.DataFrame(
            {"predicted": [str(p) for p in found.predicted], "probability": found.probability}
        )
        return JSONResponse(
            {
                "classes": found.classes,
                "columns": inline_columns(predicted),
                "method": found.method,
                "accuracy": found.accuracy,
                "next": found.suggested.tolist(),
            }
        )

    async def predictions(request: Request) -> JSONResponse:
        path = table.predictions_path
        if not path.exists():
            return JSONResponse({"columns": None})
        kept = pd.read_csv(path, dtype={"id": str, "predicted": str}, keep_default_na=False)
        if list(kept["id"]) != table.ids:  # of another table: propagate again
            return JSONResponse({"columns": None})
        return JSONResponse({"columns": inline_columns(kept[["predicted", "probability"]])})

    async def triage(request: Request) -> JSONResponse:
        order = request.query_params.get("order", TRIAGE_ORDER)
        try:
            ranked = await run_in_threadpool(table.triage_order, order)
        except ValueError as exc:
            return _error(400, str(exc))
        return JSONResponse(
            {"order": ranked.tolist(), "seen": table.seen.read(), "rerank_every": RERANK_EVERY}
        )

    async def rerank_anomalies(request: Request) -> JSONResponse:
        try:
            found = table.rerank(table.mark_values())
        except ValueError as exc:
            return _error(400, str(exc))
        return JSONResponse(inline_columns(found))

    async def export(request: Request) -> Response:
        body = await _json_body(request)
        suffix = "." + str(body.get("format", "")).lower().lstrip(".") if body else ""
        if suffix not in SUFFIXES:
            return _error(400, f'send {{"indices": [...], "format": one of {", ".join(SUFFIXES)}}}')
        chosen = _indices(body)
        if chosen is None:
            return _error(400, "indices must be a list of row numbers of the table")
        scratch = explorer.run_dir / ".exports" / f"{secrets.token_hex(8)}{suffix}"
        annotated, _ = table.annotated()  # the labels, marks and predictions go along
        try:
            content = write_selection(annotated, scratch, chosen).read_bytes()
        finally:
            scratch.unlink(missing_ok=True)
        stem = safe_filename(explorer.run_dir.resolve().name or "morphospace")
        everything = len(chosen) == len(table) and sorted(chosen) == list(range(len(table)))
        name = f"{stem}-all{suffix}" if everything else f"{stem}-{len(chosen)}-selected{suffix}"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(content, media_type=_MEDIA_TYPES[suffix], headers=headers)

    async def samp(request: Request) -> JSONResponse:
        chosen = _indices(await _json_body(request))
        if chosen is None:
            return _error(400, 'send {"indices": [row numbers of the table]}')
        folder = explorer.run_dir / "samp"
        try:
            path, clients = await run_in_threadpool(send_selection, table, chosen, folder)
        except MorphospaceError as exc:  # no hub, or no client: an answer, not a failure
            return JSONResponse({"sent": 0, "clients": [], "problem": str(exc)})
        return JSONResponse({"sent": len(chosen), "clients": clients, "file": str(path)})

    def _indices(body: Any) -> list[int] | None:
        indices = body.get("indices") if isinstance(body, dict) else None
        try:
            chosen = [int(i) for i in indices]
            for i in chosen:
                table.row(i)
        except (KeyError, TypeError, ValueError):
            return None
        return chosen or None

    async def page(request: Request) -> Response:
        return HTMLResponse(viewer_file("index.html"))

    async def script(request: Request) -> Response:
        return Response(viewer_file("viewer.js"), media_type="text/javascript")

    routes = [
        Route("/", page),
        Route("/static/viewer.js", script),
        Route("/api/objects", objects),
        Route("/api/objects/{i:int}", one_object),
        Route("/api/thumbs/{i:int}.png", thumb),
        Route("/api/view/{i:int}.png", view_png),
        Route("/api/view/{i:int}.json", view_geometry),
        Route("/api/view/{i:int}/at", view_at),
        Route("/api/density", density),
        Route("/api/neighbours", neighbours),
        Route("/api/labels", kept_in(table.labels), methods=["GET", "POST"]),
        Route("/api/marks", kept_in(table.marks, MARKS), methods=["GET", "POST"]),
        Route("/api/seen", kept_in(table.seen), methods=["GET", "POST"]),
        Route("/api/triage", triage),
        Route("/api/predictions", predictions),
        Route("/api/propagate", propagate_labels, methods=["POST"]),
        Route("/api/rerank", rerank_anomalies, methods=["POST"]),
        Route("/api/export", export, methods=["POST"]),
        Route("/api/samp", samp, methods=["POST"]),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(_TokenCheck, token=token)],
        exception_handlers={KeyError: _not_found, MorphospaceError: _bad_input},
    )


class _TokenCheck(BaseHTTPMiddleware):
    """403 for a request that does not carry the server's token; a token given in the
    URL is kept in a cookie, so the page's own requests need not repeat it."""

    def __init__(self, app, token: str):
        super().__init__(app)
        self.token = token

    async def dispatch(self, request: Request, call_next) -> Response:
        offered = (
            request.query_params.get("token")
            or request.headers.get(TOKEN_HEADER)
            or request.cookies.get(TOKEN_COOKIE)
            or ""
        )
        if not secrets.compare_digest(offered.encode(), self.token.encode()):
            return _error(403, "this explorer needs the token of its URL")
        response = await call_next(request)
        if request.query_params.get("token"):
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
        return response


def _channel(query: dict[str, str]) -> int | None:
    """The cube channel a view asks for (``channel=``; none or ``moment0``: moment 0)."""
    text = query.get("channel", "moment0")
    if text in ("", "moment0"):
        return None
    try:
        return int(text)
    except ValueError:
        raise MorphospaceError(f"channel={text}: give a channel number or moment0") from None


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return _error(404, "no such object")


async def _bad_input(request: Request, exc: Exception) -> JSONResponse:
    return _error(422, str(exc))


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(
    target: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    open_browser: bool = True,
    announce=print,
    join: str | Path | CatalogueJoin | None = None,
) -> None:
    """Serve the explorer of a run folder or table until interrupted.

    ``port`` 0 takes a free one. The URL, with its random token, is announced (and opened
    in the browser unless ``open_browser`` is False). A catalogue to ``join`` adds its
    columns to the objects shown.
    """
    import socket
    import webbrowser

    import uvicorn

    table = find_table(target)
    explorer = Explorer(table, join=join)
    if explorer.joined is not None:
        announce(explorer.joined.summary(CatalogueJoin.of(join).path))
    token = secrets.token_urlsafe(24)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen()  # a browser opened before uvicorn starts waits instead of failing
    bound = listener.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound}/?token={token}"
    announce(f"exploring {len(explorer.table)} objects of {table}")
    announce(f"open {url}  (Ctrl-C stops the server)")
    config = uvicorn.Config(create_app(explorer, token), log_level="warning")
    server = uvicorn.Server(config)
    if open_browser:
        webbrowser.open(url)
    server.run(sockets=[listener])

"""The explorer's speed in headless Chromium at 10,000, 100,000 and 1,000,000 objects.

For each size: a table of random embeddings on a map of clustered points (thumbnails are
not drawn, so no FITS file is read), served by the explorer's own app in this process;
then, measured in the browser:

- ready: from starting ``morphospace explore TABLE --no-browser`` to its URL printed
  (importing, reading the table, listening);
- the first paint: from loading the page to the map drawn with every point;
- one zoom frame: a wheel event to the next frame drawn;
- a lasso of 10,000 points: the selection from a polygon (``lassoSelect``) to the event;
- a propagate: 5 labels per class posted, the classifier fitted and every object's class
  back in the page;
- from :data:`~morphospace.choices.DENSITY_FROM` objects (10,000,000 with ``--sizes``):
  the density of the map, drawn on the server, shown from the first paint; zoomed in on
  one object, the time until the points replace it, and zoomed out, until it is back.

The baseline, side by side: the same first paint with every column of the table sent at
once, where the explorer sends only the map's coordinates, the ids and the colour column
(as one binary payload) and fetches any other column when it is used. A first load of
1,000 objects warms the browser up and is not counted.

Chromium draws with SwiftShader (WebGL on the CPU) on a machine without a GPU, so the
paint and zoom figures are the worst case; a real GPU draws far faster. Goals at
100,000 objects: ready in under 5 s, first paint under 3 s, the lasso under 200 ms and
the propagate under 2 s.

Run: ``python benchmarks/explorer_speed.py [--sizes 10000 100000 1000000]``.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd

import morphospace.app.server as explorer_server
from morphospace.app import Explorer, create_app
from morphospace.embed import EmbeddingTable

TOKEN = "benchmark"
ARGS = ["--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def make_table(folder: Path, n: int, seed: int = 0) -> tuple[Path, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 8, n)
    centres = rng.normal(size=(8, 2)) * 6
    xy = centres[group] + rng.normal(size=(n, 2))
    embeddings = (np.eye(8)[group] * 2 + rng.normal(size=(n, 8)) * 0.5).astype(np.float32)
    embeddings = np.hstack([embeddings, rng.normal(size=(n, 56)).astype(np.float32) * 0.1])
    rows = pd.DataFrame(
        {
            "id": [f"o{i}" for i in range(n)],
            "path": "none.fits",
            "hdu": 0,
            "ra": rng.uniform(0, 360, n),
            "dec": rng.uniform(-60, 60, n),
            "x": xy[:, 0],
            "y": xy[:, 1],
            "cluster": group,
        }
    )
    path = folder / f"table_{n}.parquet"
    EmbeddingTable(rows, embeddings, {}).write(path)
    labels = pd.DataFrame(
        {"id": [f"o{i}" for g in range(8) for i in np.flatnonzero(group == g)[:5]]}
    )
    labels["label"] = [f"group{g}" for g in range(8) for _ in range(5)]
    return path, labels


def start(app) -> tuple[str, object, threading.Thread]:
    import uvicorn

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{listener.getsockname()[1]}", server, thread


LASSO = """async (count) => {
  const { scatterplot, state } = window.morphospaceExplorer;
  // a square around the map's centre holding about `count` points (GL coordinates)
  const radius = state.x.map((x, i) => Math.max(Math.abs(x), Math.abs(state.y[i])));
  const order = radius.sort((a, b) => a - b);
  const h = order[Math.min(count, order.length) - 1];
  const started = performance.now();
  const done = new Promise((resolve) => scatterplot.subscribe('select', resolve, 1));
  scatterplot.lassoSelect([[-h, -h], [h, -h], [h, h], [-h, h]], { isGl: true });
  const { points } = await done;
  return [performance.now() - started, points.length];
}"""

ZOOM = """async () => {
  const { scatterplot } = window.morphospaceExplorer;
  const canvas = document.querySelector('#canvas');
  const box = canvas.getBoundingClientRect();
  const started = performance.now();
  const drawn = new Promise((resolve) => scatterplot.subscribe('draw', resolve, 1));
  canvas.dispatchEvent(new WheelEvent('wheel', { deltaY: -200, clientX: box.x + box.width / 2,
    clientY: box.y + box.height / 2, bubbles: true }));
  await drawn;
  return performance.now() - started;
}"""

PROPAGATE = """async (labels) => {
  const started = performance.now();
  await fetch('/api/labels', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ set: labels }) });
  const response = await fetch('/api/propagate', { method: 'POST' });
  const found = await response.json();
  return [performance.now() - started, found.classes.length];
}"""


def measure(page, url: str, table: Path, labels: pd.DataFrame) -> dict[str, float]:
    started = time.perf_counter()
    page.goto(f"{url}/?token={TOKEN}")
    page.wait_for_selector("body[data-ready=true]", timeout=600_000)
    page.evaluate("() => new Promise(requestAnimationFrame)")
    paint = time.perf_counter() - started
    zoom = min(page.evaluate(ZOOM) for _ in range(3))
    lasso, selected = page.evaluate(LASSO, 10_000)
    propagate, n = page.evaluate(PROPAGATE, dict(zip(labels["id"], labels["label"], strict=True)))
    found = {"paint_s": paint, "zoom_ms": zoom, "lasso_ms": lasso, "selected": selected,
             "propagate_s": propagate / 1000, "n": n}  # fmt: skip
    if page.evaluate("document.body.dataset.density") == "shown":  # a table that large
        found |= density(page)
    return found


def density(page) -> dict[str, float]:
    """Seconds from zooming in on one object until the points replace the density, and
    from zooming out again until the density of the new view is drawn."""
    viewer = "window.morphospaceExplorer"
    started = time.perf_counter()
    page.evaluate(f"{viewer}.scatterplot.zoomToLocation([{viewer}.state.x[0], "
                  f"{viewer}.state.y[0]], 0.002)")  # fmt: skip
    page.wait_for_function("document.body.dataset.density === undefined", timeout=120_000)
    points = time.perf_counter() - started
    started = time.perf_counter()
    page.evaluate(f"{viewer}.scatterplot.zoomToOrigin()")
    page.wait_for_function("document.body.dataset.density === 'shown'", timeout=120_000)
    return {"points_s": points, "density_s": time.perf_counter() - started}


def command_ready(table: Path) -> float:
    """Seconds from starting ``morphospace explore`` to the URL it prints."""
    command = [sys.executable, "-m", "morphospace", "explore", str(table), "--no-browser"]
    started = time.perf_counter()
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in server.stdout:
            if line.startswith("open http"):
                return time.perf_counter() - started
        raise SystemExit(f"morphospace explore printed no URL (exit {server.wait()})")
    finally:
        server.terminate()
        server.wait(timeout=30)


def first_paint(browser, table: Path, run_dir: Path) -> float:
    """Seconds from asking for the page to the map drawn, every column sent at once."""
    every = tuple(EmbeddingTable.read(table).rows.columns)
    with mock.patch.object(explorer_server, "FIRST_COLUMNS", every):
        url, server, thread = start(create_app(Explorer(table, run_dir=run_dir), TOKEN))
        page = browser.new_page(viewport={"width": 1300, "height": 850})
        started = time.perf_counter()
        page.goto(f"{url}/?token={TOKEN}")
        page.wait_for_selector("body[data-ready=true]", timeout=600_000)
        page.evaluate("() => new Promise(requestAnimationFrame)")
        paint = time.perf_counter() - started
        page.close()
        server.should_exit = True
        thread.join(timeout=30)
    return paint


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("needs Debian's chromium (apt-get install chromium)")
    print("objects    ready   first paint (every column)   zoom frame   lasso (points)        "
          "propagate")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
        warm_up, _ = make_table(Path(tmp), 1_000)
        first_paint(browser, warm_up, Path(tmp) / "warm_up")
        for n in args.sizes:
            table, labels = make_table(Path(tmp), n)
            ready = command_ready(table)
            explorer = Explorer(table, run_dir=Path(tmp) / f"run_{n}")
            url, server, thread = start(create_app(explorer, TOKEN))
            page = browser.new_page(viewport={"width": 1300, "height": 850})
            m = measure(page, url, table, labels)
            page.close()
            server.should_exit = True
            thread.join(timeout=30)
            baseline = first_paint(browser, table, Path(tmp) / f"baseline_{n}")
            print(f"{n:>9,}  {ready:5.2f} s   {m['paint_s']:6.2f} s ({baseline:5.2f} s, "
                  f"{baseline / m['paint_s']:3.1f}x)   {m['zoom_ms']:7.0f} ms   "
                  f"{m['lasso_ms']:6.0f} ms ({m['selected']:>6,})   {m['propagate_s']:6.2f} s",
                  flush=True)  # fmt: skip
            if "density_s" in m:
                print(f"{'':>9}  the density of the whole map drawn at the first paint; zoomed "
                      f"in on one object, its points in {m['points_s']:.2f} s; zoomed out, "
                      f"the density again in {m['density_s']:.2f} s", flush=True)  # fmt: skip
        browser.close()


if __name__ == "__main__":
    main()

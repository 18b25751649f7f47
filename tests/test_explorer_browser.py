"""The explorer end to end in a real browser: Playwright driving the system Chromium."""

from __future__ import annotations

import io
import socket
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

from conftest import celestial_header, gaussian_blob
from morphospace.app import Explorer, create_app
from morphospace.embed import EmbeddingTable
from test_report import _launch_chromium

N = 2000
TOKEN = "browser-test-token"


@pytest.fixture(scope="module")
def table_path(tmp_path_factory, write_fits_module):
    """2,000 objects in four groups on the map, over a handful of real FITS files."""
    folder = tmp_path_factory.mktemp("explorer")
    files = [
        write_fits_module(f"obj{i}.fits", gaussian_blob(40, 3 + i), celestial_header((40, 40)))
        for i in range(8)
    ]
    rng = np.random.default_rng(0)
    group = rng.integers(0, 4, N)
    centres = np.array([[-5, -5], [5, -5], [-5, 5], [5, 5]], float)
    xy = centres[group] + rng.normal(size=(N, 2))
    embeddings = np.eye(4)[group] * 3 + rng.normal(size=(N, 4)) * 0.3
    rows = pd.DataFrame(
        {
            "id": [f"object_{i:04d}" for i in range(N)],
            "path": [str(files[i % len(files)]) for i in range(N)],
            "hdu": 0,
            "object": [f"OBJ {i}" for i in range(N)],
            "ra": 10.0 + rng.uniform(0, 1, N),
            "dec": -30.0 + rng.uniform(0, 1, N),
            "pixel_scale": 1.0,
            "shape": "40x40",
            "x": xy[:, 0],
            "y": xy[:, 1],
            "cluster": group,
        }
    )
    path = folder / "embeddings.parquet"
    EmbeddingTable(rows, embeddings, {}).write(path)
    return path


@pytest.fixture(scope="module")
def write_fits_module(tmp_path_factory):
    from astropy.io import fits

    folder = tmp_path_factory.mktemp("explorer_files")

    def write(name, data, header):
        path = folder / name
        fits.PrimaryHDU(data.astype(np.float32), header).writeto(path)
        return path

    return write


@pytest.fixture(scope="module")
def server(table_path):
    import uvicorn

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    app = create_app(Explorer(table_path), TOKEN)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _until(page, condition: str, timeout: float = 15_000) -> None:
    page.wait_for_function(condition, timeout=timeout)


def _status_says(page, text: str) -> None:
    _until(page, f"document.querySelector('#status').textContent.includes({text!r})")


def _lasso(page, corners: list[tuple[float, float]]) -> None:
    """Shift-drag through ``corners`` and back to the first."""
    page.keyboard.down("Shift")
    page.mouse.move(*corners[0])
    page.mouse.down()
    for corner in [*corners[1:], corners[0]]:
        page.mouse.move(*corner, steps=10)
        page.wait_for_timeout(50)  # the lasso takes points at most every few ms
    page.mouse.up()
    page.keyboard.up("Shift")


def _downloaded(page, button: str) -> bytes:
    with page.expect_download() as download:
        page.click(button)
    with open(download.value.path(), "rb") as handle:
        return handle.read()


BROWSER_ARGS = ["--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader",
                "--enable-unsafe-swiftshader", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def test_the_explorer_in_a_real_browser(server, table_path):
    sync_playwright, browser_path = _launch_chromium()
    assert _status(f"{server}/") == 403 and _status(f"{server}/api/objects") == 403
    assert _status(f"{server}/api/thumbs/..%2F..%2Fetc%2Fpasswd?token={TOKEN}") == 404
    assert _status(f"{server}/../../etc/passwd?token={TOKEN}") == 404
    clusters = pd.read_parquet(table_path)["cluster"].to_numpy()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=BROWSER_ARGS)
        try:
            viewport = {"width": 1300, "height": 850}
            page = browser.new_context(viewport=viewport, accept_downloads=True).new_page()
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{server}/?token={TOKEN}")
            page.wait_for_selector("body[data-ready=true]", timeout=30_000)
            assert page.evaluate("window.morphospaceExplorer.state.n") == N
            box = page.locator("#canvas").bounding_box()
            left, top, width, height = box["x"], box["y"], box["width"], box["height"]

            # lasso the lower-left group: the map's y axis points up, as on the sky
            middle_x, middle_y = left + width / 2, top + height / 2
            right, bottom = middle_x - 20, top + height - 20
            _lasso(page, [(left + 20, middle_y + 20), (right, middle_y + 20), (right, bottom),
                          (left + 20, bottom)])  # fmt: skip
            _until(page, "window.morphospaceExplorer.state.selection.length > 100")
            chosen = page.evaluate("window.morphospaceExplorer.state.selection")
            assert len(set(clusters[chosen])) == 1  # one group, and only that one
            assert page.locator("#gallery figure").count() > 0

            # label five of them with key 1, and five of another group with key 2
            page.fill("#names input >> nth=0", "disk")
            page.fill("#names input >> nth=1", "cloud")
            page.locator("#names input >> nth=1").dispatch_event("change")
            page.evaluate("document.activeElement.blur()")
            other = [int(i) for i in np.flatnonzero(clusters != clusters[chosen[0]])[:5]]
            for key, name, indices in (("1", "disk", chosen[:5]), ("2", "cloud", other)):
                page.evaluate(f"window.morphospaceExplorer.scatterplot.select({indices})")
                page.keyboard.press(key)
                _status_says(page, f'5 objects labelled "{name}"')
            saved = pd.read_csv(table_path.parent / "labels.csv")
            assert sorted(saved["label"]) == ["cloud"] * 5 + ["disk"] * 5

            page.click("#propagate")
            _status_says(page, "propagated")
            predicted = page.evaluate("window.morphospaceExplorer.state.columns.predicted")
            assert len(predicted) == N and set(predicted) == {"cloud", "disk"}

            # export the selection (now the objects to label next): VOTable and DS9 regions
            selection = page.evaluate("window.morphospaceExplorer.state.selection")
            votable = Table.read(
                io.BytesIO(_downloaded(page, "[data-export=vot]")), format="votable"
            )
            assert len(votable) == len(selection) and str(votable["ra"].unit) == "deg"
            assert list(votable["id"]) == [f"object_{i:04d}" for i in selection]
            regions = _downloaded(page, "[data-export=reg]").decode().splitlines()
            assert regions[2] == "fk5" and len(regions) == 3 + len(selection)

            # zoom far into one group: the points become the objects' thumbnails
            page.mouse.move(left + width * 0.25, top + height * 0.75)
            shown = 0
            for _ in range(40):
                page.mouse.wheel(0, -100)
                page.wait_for_timeout(60)
                shown = page.evaluate("document.querySelectorAll('#thumbs img').length")
                if shown:
                    break
            assert 0 < shown <= 150
            assert page.locator("#thumbs img").first.get_attribute("src").startswith("/api/thumbs/")

            # a reload finds the labels still there
            page.reload()
            page.wait_for_selector("body[data-ready=true]", timeout=30_000)
            assert len(page.evaluate("window.morphospaceExplorer.state.labels")) == 10
            assert errors == []
        finally:
            browser.close()

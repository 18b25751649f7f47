"""The explorer end to end in a real browser: Playwright driving the system Chromium.

The test saves screenshots of what it does; with ``MORPHOSPACE_SCREENSHOTS=docs/images``
they land where ``docs/exploring.md`` shows them."""

from __future__ import annotations

import io
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

from conftest import celestial_header, chromium_page
from morphospace.app import Explorer, create_app
from morphospace.embed import EmbeddingTable
from morphospace.synth.shapes import MODELS

N = 2000
TOKEN = "browser-test-token"
GROUP_SHAPES = ("ringed_disk", "spiral_disk", "hub_filament", "shell")


@pytest.fixture(scope="module")
def table_path(tmp_path_factory, write_fits_module):
    """2,000 objects in four groups on the map, each group drawn from three FITS files of
    one synthetic morphology."""
    folder = tmp_path_factory.mktemp("explorer")
    rng = np.random.default_rng(0)
    offsets = np.linspace(-10, 10, 48)
    x, y = np.meshgrid(offsets, offsets)
    files = [
        write_fits_module(f"{shape}{k}.fits", model(x, y, rng, 8.0)[0], celestial_header((48, 48)))
        for shape in GROUP_SHAPES
        for k in range(3)
        for model in [MODELS[shape][1]]
    ]
    group = rng.integers(0, 4, N)
    centres = np.array([[-5, -5], [5, -5], [-5, 5], [5, 5]], float)
    xy = centres[group] + rng.normal(size=(N, 2))
    embeddings = np.eye(4)[group] * 3 + rng.normal(size=(N, 4)) * 0.3
    rows = pd.DataFrame(
        {
            "id": [f"object_{i:04d}" for i in range(N)],
            "path": [str(files[3 * g + i % 3]) for i, g in enumerate(group)],
            "hdu": 0,
            "object": [f"OBJ {i}" for i in range(N)],
            "ra": 10.0 + rng.uniform(0, 1, N),
            "dec": -30.0 + rng.uniform(0, 1, N),
            "pixel_scale": 1.0,
            "shape": "48x48",
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


def _drag_box(page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.select_option("#tool", "rectangle")
    page.keyboard.down("Shift")
    page.mouse.move(*start)
    page.mouse.down()
    for f in (0.25, 0.5, 0.75, 1.0):
        page.mouse.move(start[0] + f * (end[0] - start[0]), start[1] + f * (end[1] - start[1]))
        page.wait_for_timeout(50)  # as the lasso, the box takes points every few ms
    page.mouse.up()
    page.keyboard.up("Shift")
    page.select_option("#tool", "freeform")


SHOWN_IMAGES_LOADED = """[...document.images]
    .filter((image) => image.getBoundingClientRect().top < window.innerHeight)
    .every((image) => image.complete)"""


def _screenshot(page, name: str, tmp_path) -> None:
    folder = Path(os.environ.get("MORPHOSPACE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.wait_for_function(SHOWN_IMAGES_LOADED)
    page.screenshot(path=folder / f"explorer-{name}.png")


def test_the_explorer_in_a_real_browser(server, table_path, tmp_path):
    assert _status(f"{server}/") == 403 and _status(f"{server}/api/objects") == 403
    assert _status(f"{server}/api/thumbs/..%2F..%2Fetc%2Fpasswd?token={TOKEN}") == 404
    assert _status(f"{server}/../../etc/passwd?token={TOKEN}") == 404
    clusters = pd.read_parquet(table_path)["cluster"].to_numpy()
    viewer = "window.morphospaceExplorer"
    with chromium_page() as (page, errors):
        page.goto(f"{server}/?token={TOKEN}")
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        assert page.evaluate(f"{viewer}.state.n") == N
        box = page.locator("#canvas").bounding_box()
        left, top, width, height = box["x"], box["y"], box["width"], box["height"]

        # lasso the lower-left group: the map's y axis points up, as on the sky
        middle_x, middle_y = left + width / 2, top + height / 2
        right, bottom = middle_x - 20, top + height - 20
        _lasso(page, [(left + 20, middle_y + 20), (right, middle_y + 20), (right, bottom),
                      (left + 20, bottom)])  # fmt: skip
        _until(page, f"{viewer}.state.selection.length > 100")
        chosen = page.evaluate(f"{viewer}.state.selection")
        assert len(set(clusters[chosen])) == 1  # one group, and only that one
        assert page.locator("#gallery figure").count() > 0
        page.mouse.move(left + width * 0.25, top + height * 0.75)
        _screenshot(page, "lasso", tmp_path)

        # a box round the upper-right group
        page.evaluate(f"{viewer}.scatterplot.deselect()")
        _until(page, f"{viewer}.state.selection.length === 0")
        _drag_box(page, (middle_x + 20, top + 20), (left + width - 20, middle_y - 20))
        _until(page, f"{viewer}.state.selection.length > 100")
        boxed = page.evaluate(f"{viewer}.state.selection")
        assert len(set(clusters[boxed])) == 1 and clusters[boxed[0]] != clusters[chosen[0]]

        # label five of the lassoed group with key 1, and five of the boxed one with key 2
        page.fill("#names input >> nth=0", "disk")
        page.fill("#names input >> nth=1", "cloud")
        page.locator("#names input >> nth=1").dispatch_event("change")
        page.evaluate("document.activeElement.blur()")
        for key, name, indices in (("1", "disk", chosen[:5]), ("2", "cloud", boxed[:5])):
            page.evaluate(f"{viewer}.scatterplot.select({indices})")
            # the key labels what is selected: wait until the selection has arrived
            selected = f"{viewer}.state.selection"
            _until(page, f"{selected}.length === {len(indices)} && "
                         f"{list(indices)}.every((i) => {selected}.includes(i))")  # fmt: skip
            page.keyboard.press(key)
            _status_says(page, f'5 objects labelled "{name}"')
        saved = pd.read_csv(table_path.parent / "labels.csv")
        assert sorted(saved["label"]) == ["cloud"] * 5 + ["disk"] * 5

        page.click("#propagate")
        _status_says(page, "propagated")
        predicted = page.evaluate(f"{viewer}.state.columns.predicted")
        assert len(predicted) == N and set(predicted) == {"cloud", "disk"}
        _screenshot(page, "propagate", tmp_path)

        # export the selection (now the objects to label next): VOTable and DS9 regions
        selection = page.evaluate(f"{viewer}.state.selection")
        votable = Table.read(io.BytesIO(_downloaded(page, "[data-export=vot]")), format="votable")
        assert len(votable) == len(selection) and str(votable["ra"].unit) == "deg"
        assert list(votable["id"]) == [f"object_{i:04d}" for i in selection]
        regions = _downloaded(page, "[data-export=reg]").decode().splitlines()
        assert regions[2] == "fk5" and len(regions) == 3 + len(selection)
        page.click("#samp")  # no hub runs here: the page says so
        _status_says(page, "no SAMP hub is running")

        # three of one group are interesting, three of another not: the re-ranked anomalies
        # come from the first
        for indices, mark, word in ((chosen[:3], "1", "interesting"), (boxed[:3], "0", "not")):
            page.evaluate(f"{viewer}.scatterplot.select({indices})")
            page.click(f"[data-mark='{mark}']")
            _status_says(page, f"3 objects marked {word}")
        page.click("#rerank")
        _status_says(page, "anomalies re-ranked")
        ranked = page.evaluate(f"{viewer}.state.selection")
        assert len(ranked) == 20 and set(clusters[ranked]) == {clusters[chosen[0]]}

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
        _screenshot(page, "thumbnails", tmp_path)

        # the search box finds an object by its sky position
        ra, dec = (pd.read_parquet(table_path).loc[17, c] for c in ("ra", "dec"))
        page.fill("#search", f"{ra:.6f} {dec:.6f}")
        page.press("#search", "Enter")
        _until(page, f"{viewer}.state.selection.length === 1")
        assert page.evaluate(f"{viewer}.state.selection") == [17]

        # a reload finds the labels and marks still there
        page.reload()
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        assert len(page.evaluate(f"{viewer}.state.labels")) == 10
        marked = {f"object_{i:04d}": "1" for i in chosen[:3]}
        marked |= {f"object_{i:04d}": "0" for i in boxed[:3]}
        assert page.evaluate(f"{viewer}.state.marks") == marked
        assert errors == []

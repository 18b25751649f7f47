"""The explorer end to end in a real browser: Playwright driving the system Chromium.

The test saves screenshots of what it does; with ``MORPHOSPACE_SCREENSHOTS=docs/images``
they land where ``docs/exploring.md`` shows them."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

from conftest import PIXEL_DEG, celestial_header, chromium_page
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
    header = celestial_header((48, 48))
    header["BMAJ"], header["BMIN"], header["BPA"] = 3 * PIXEL_DEG, 2 * PIXEL_DEG, 30.0
    files = [
        write_fits_module(f"{shape}{k}.fits", model(x, y, rng, 8.0)[0], header)
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


@contextlib.contextmanager
def _serving(table: Path, **options) -> Iterator[str]:
    import uvicorn

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    app = create_app(Explorer(table, **options), TOKEN)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(table_path):
    with _serving(table_path) as url:
        yield url


@pytest.fixture
def fresh(table_path, tmp_path):
    """A server of a copy of the table in a run folder of its own (no labels, marks or
    objects seen yet): (its URL, the copy)."""
    folder = tmp_path / "survey"
    folder.mkdir()
    shutil.copy(table_path, folder / "embeddings.parquet")
    with _serving(folder / "embeddings.parquet") as url:
        yield url, folder / "embeddings.parquet"


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


LASSO_ALL = """async () => {
  const { scatterplot } = window.morphospaceExplorer;
  const done = new Promise((resolve) => scatterplot.subscribe('select', resolve, 1));
  scatterplot.lassoSelect([[-9, -9], [9, -9], [9, 9], [-9, 9]], { isGl: true });
  return (await done).points.length;
}"""


def test_the_explorer_in_a_real_browser(server, table_path, tmp_path):
    assert _status(f"{server}/") == 403 and _status(f"{server}/api/objects") == 403
    assert _status(f"{server}/api/thumbs/..%2F..%2Fetc%2Fpasswd?token={TOKEN}") == 404
    assert _status(f"{server}/../../etc/passwd?token={TOKEN}") == 404
    clusters = pd.read_parquet(table_path)["cluster"].to_numpy()
    viewer = "window.morphospaceExplorer"
    with chromium_page() as (page, errors):
        payloads = []
        page.on("response", lambda r: payloads.append((r.url, r.headers.get("content-type"))))
        page.goto(f"{server}/?token={TOKEN}")
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        assert page.evaluate(f"{viewer}.state.n") == N
        # the first paint's columns came as one binary payload, numbers read in place as
        # typed arrays; any other column comes when it is first used
        first = [kind for url, kind in payloads if url.split("?")[0].endswith("/api/objects")]
        assert first == ["application/octet-stream"]
        assert page.evaluate(f"{viewer}.state.columns.x instanceof Float64Array")
        assert page.evaluate(f"Object.keys({viewer}.state.columns).includes('ra')") is False
        # ready means every point drawn and in the spatial index: a lasso at once finds them
        assert page.evaluate(f"{viewer}.scatterplot.get('isPointsDrawn')")
        everything = page.evaluate(LASSO_ALL)
        assert everything == N
        page.evaluate(f"{viewer}.scatterplot.deselect()")
        _until(page, f"{viewer}.state.selection.length === 0")
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


VIEWER = "window.morphospaceExplorer"


def _open(page, url: str) -> None:
    page.goto(f"{url}/?token={TOKEN}")
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)


def _select(page, indices) -> None:
    page.evaluate(f"{VIEWER}.scatterplot.select({list(indices)})")
    selected = f"{VIEWER}.state.selection"
    _until(page, f"{selected}.length === {len(indices)} && "
                 f"{list(indices)}.every((i) => {selected}.includes(i))")  # fmt: skip


def _legend(page) -> dict[str, str]:
    """The legend's entries: group name -> colour (as #rrggbb)."""
    entries = page.evaluate("""[...document.querySelectorAll('#legend button[data-code]')]
        .filter((b) => b.dataset.code !== 'all')
        .map((b) => [b.textContent, getComputedStyle(b.querySelector('i')).backgroundColor])""")
    return {name: "#{:02x}{:02x}{:02x}".format(*map(int, re.findall(r"\d+", rgb)[:3]))
            for name, rgb in entries}  # fmt: skip


def test_search_by_part_of_a_name_frames_the_objects_and_more_like_shows_similarity(fresh):
    url, _ = fresh
    with chromium_page() as (page, errors):
        _open(page, url)
        assert "Esc to deselect" in page.text_content("#status")  # the page says how
        page.keyboard.press("?")
        assert page.is_visible("#help") and "undo" in page.text_content("#help").lower()
        page.keyboard.press("Escape")
        assert not page.is_visible("#help")

        page.fill("#search", "bject_012")  # part of a name: object_0120 … object_0129
        page.press("#search", "Enter")
        _until(page, f"{VIEWER}.state.selection.length === 10")
        assert sorted(page.evaluate(f"{VIEWER}.state.selection")) == list(range(120, 130))
        page.fill("#search", "object_0007")  # one object: framed with its neighbourhood
        page.press("#search", "Enter")
        _until(page, f"{VIEWER}.state.selection.length === 1")
        page.wait_for_timeout(1200)  # the zoom's transition
        in_view = page.evaluate(f"{VIEWER}.scatterplot.get('pointsInView')")
        assert 7 in in_view and 1 < len(in_view) < N / 4  # zoomed in, but not onto one point

        page.click("#more")
        _until(page, f"{VIEWER}.state.selection.length === 25")
        captions = page.locator("#gallery figcaption").all_text_contents()
        scores = [float(c.rsplit("·", 1)[1]) for c in captions if c.count("·")]
        assert len(scores) == 24 and all(0 < s <= 1 for s in scores)
        assert scores == sorted(scores, reverse=True)  # most similar first
        page.wait_for_timeout(1200)
        chosen = set(page.evaluate(f"{VIEWER}.state.selection"))
        assert chosen <= set(page.evaluate(f"{VIEWER}.scatterplot.get('pointsInView')"))
        assert errors == []


def test_colours_legends_and_thumbnails_agree_with_the_pngs_and_regions(fresh):
    from matplotlib.colors import to_hex

    from morphospace.report.figures import scatter_map

    url, table = fresh
    rows = pd.read_parquet(table)
    with chromium_page() as (page, errors):
        _open(page, url)
        # 13 classes, 13 colours
        labels = {f"object_{i:04d}": f"class_{i}" for i in range(13)}
        page.evaluate("""(labels) => fetch('/api/labels', {method: 'POST',
            headers: {'Content-Type': 'application/json'}, body: JSON.stringify({set: labels})})""",
                      labels)  # fmt: skip
        page.evaluate("window.dispatchEvent(new Event('focus'))")  # what the server holds now
        _until(page, f"Object.keys({VIEWER}.state.labels).length === 13")
        page.select_option("#colour", "label")
        _until(page, "document.querySelectorAll('#legend button[data-code]').length === 13")
        classes = _legend(page)
        assert len(classes) == 13 and len(set(classes.values())) == 13

        # cluster n: the same colour in the page, the PNG map and the regions
        page.select_option("#colour", "cluster")
        on_page = _legend(page)
        figure = scatter_map(rows[["x", "y"]].to_numpy(), rows["cluster"].to_numpy(), None,
                             "cluster", categorical=True)  # fmt: skip
        in_png = {c.get_label(): to_hex(c.get_facecolor()[0]) for c in figure.axes[0].collections}
        page.evaluate(f"{VIEWER}.scatterplot.deselect()")
        _until(page, f"{VIEWER}.state.selection.length === 0")
        regions = _downloaded(page, "[data-export=reg]").decode().splitlines()[3:]
        in_regions = {}
        for line in regions:
            name = re.search(r"text=\{(object_\d+)\}", line).group(1)
            in_regions[str(rows.loc[int(name[7:]), "cluster"])] = re.search(r"color=(\S+)", line)[1]
        assert on_page == in_png == in_regions and len(set(on_page.values())) == 4

        # a legend entry isolates its group, shift-click hides one, and back to all
        page.click("#legend button[data-code='3']")
        filtered = page.evaluate(f"{VIEWER}.scatterplot.get('filteredPoints')")
        assert set(rows["cluster"].to_numpy()[filtered]) == {2}  # the third cluster: 2
        page.click("#legend button:has-text('show all')")
        page.click("#legend button[data-code='1']", modifiers=["Shift"])
        filtered = page.evaluate(f"{VIEWER}.scatterplot.get('filteredPoints')")
        assert set(rows["cluster"].to_numpy()[filtered]) == {1, 2, 3}
        page.click("#legend button:has-text('show all')")

        # a continuous column has a colour bar with its ends and middle
        page.select_option("#colour", "ra")  # not sent with the first paint: fetched now
        page.wait_for_selector("#legend .colour-bar")
        assert page.locator("#legend .colour-bar").count() == 1
        low, high = rows["ra"].min(), rows["ra"].max()
        assert f"{low:.6g}"[:5] in page.text_content("#legend .low")
        assert f"{high:.6g}"[:5] in page.text_content("#legend .high")

        # zoomed in, every thumbnail arrives, in colour, framed in its cluster's colour
        page.select_option("#colour", "cluster")
        box = page.locator("#canvas").bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.75)
        for _ in range(40):
            page.mouse.wheel(0, -100)
            page.wait_for_timeout(60)
            if page.evaluate("document.querySelectorAll('#thumbs img').length"):
                break
        page.wait_for_function(
            """[...document.querySelectorAll('#thumbs img')]
            .every((img) => img.complete && img.naturalWidth > 0)""",
            timeout=15_000,
        )
        frames = page.evaluate("""[...document.querySelectorAll('#thumbs img')]
            .map((img) => [+img.dataset.i, getComputedStyle(img).borderTopColor])""")
        for i, colour in frames:
            rgb = tuple(int(v) for v in re.findall(r"\d+", colour)[:3])
            assert "#{:02x}{:02x}{:02x}".format(*rgb) == on_page[str(rows.loc[i, "cluster"])]
        first = page.evaluate("document.querySelector('#thumbs img').src")
        with urllib.request.urlopen(f"{first}?token={TOKEN}") as response:
            from PIL import Image

            assert Image.open(io.BytesIO(response.read())).mode == "RGB"  # inferno, not grey
        _screenshot(page, "thumbnails", table.parent)
        assert errors == []


def test_labels_and_marks_undo_redo_and_export_from_the_page_with_two_tabs(fresh):
    url, table = fresh
    labels_csv = table.parent / "labels.csv"
    with chromium_page() as (page, errors):
        _open(page, url)
        page.fill("#names input >> nth=0", "disk")
        page.fill("#names input >> nth=1", "cloud")
        page.locator("#names input >> nth=1").dispatch_event("change")
        page.evaluate("document.activeElement.blur()")
        _select(page, range(5))
        page.keyboard.press("1")
        _status_says(page, '5 objects labelled "disk"')
        _select(page, range(100, 105))
        page.keyboard.press("2")
        _status_says(page, '5 objects labelled "cloud"')
        page.keyboard.press("Control+z")
        _status_says(page, 'undone: label "cloud" of 5 objects')
        assert sorted(pd.read_csv(labels_csv)["label"]) == ["disk"] * 5
        page.keyboard.press("Control+Shift+z")
        _status_says(page, 'redone: label "cloud" of 5 objects')
        assert sorted(pd.read_csv(labels_csv)["label"]) == ["cloud"] * 5 + ["disk"] * 5
        _select(page, [7, 8])
        page.click("[data-mark='1']")
        _status_says(page, "2 objects marked interesting")
        _select(page, [9])
        page.click("[data-mark='0']")
        _status_says(page, "1 objects marked not interesting")
        page.click("#undo")
        _status_says(page, "undone: mark not interesting of 1 object")
        marked = pd.read_csv(table.parent / "marks.csv")["id"].tolist()
        assert marked == ["object_0007", "object_0008"]

        # a second tab labels other objects: both tabs' work is kept
        other = page.context.new_page()
        _open(other, url)
        _select(other, [300])
        other.fill("#name", "shell")
        other.click("#label")
        _status_says(other, '1 objects labelled "shell"')
        other.close()
        _select(page, [301])
        page.fill("#name", "ring")
        page.click("#label")
        _status_says(page, '1 objects labelled "ring"')
        saved = dict(pd.read_csv(labels_csv).to_numpy())
        assert saved["object_0300"] == "shell" and saved["object_0301"] == "ring"
        assert len(saved) == 12
        page.click("#propagate")
        _status_says(page, "propagated")

        # the page's export of everything carries the labels, marks and predictions
        page.evaluate(f"{VIEWER}.scatterplot.deselect()")
        _until(page, f"{VIEWER}.state.selection.length === 0")
        with page.expect_download() as download:
            page.click("[data-export=vot]")
        assert download.value.suggested_filename == "survey-all.vot"
        votable = Table.read(download.value.path(), format="votable")
        assert len(votable) == N
        exported = {i: str(v) for i, v in zip(votable["id"], votable["label"], strict=True) if v}
        assert exported == saved
        assert list(votable["interesting"][7:10].filled(-1)) == [1, 1, -1]
        assert set(votable["predicted"]) == {"cloud", "disk", "ring", "shell"}
        # and a reload shows the predictions again, from the run folder
        page.reload()
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        assert page.evaluate(f"{VIEWER}.state.columns.predicted.length") == N
        assert errors == []


def test_the_object_view_and_triage_resumed_after_a_reload(fresh):
    url, table = fresh
    with chromium_page() as (page, errors):
        _open(page, url)
        _select(page, [42])
        page.click("#gallery figure")
        page.wait_for_selector("#scale-bar", timeout=15_000)
        assert page.text_content("#view-title") == "object_0042"
        # the scale bar is as long on screen as its arcsec are pixels of the picture shown
        bar = page.evaluate("""(() => {
            const g = document.querySelector('#scale-bar');
            const image = document.querySelector('#view-image');
            return {arcsec: +g.dataset.arcsec,
                    drawn: g.querySelector('line').getBoundingClientRect().width,
                    shown: image.getBoundingClientRect().width, natural: image.naturalWidth};
        })()""")  # fmt: skip
        pixel_scale = PIXEL_DEG * 3600
        expected = bar["arcsec"] / pixel_scale * bar["shown"] / bar["natural"]
        assert bar["drawn"] == pytest.approx(expected, rel=0.01) and bar["natural"] == 48
        assert page.locator("#beam").count() == 1 and page.locator(".compass").count() == 2
        image = page.locator("#view-image").bounding_box()
        page.mouse.move(image["x"] + 3, image["y"] + image["height"] - 3)  # FITS pixel (0, 0)
        page.wait_for_function("document.querySelector('#view-readout').textContent.includes('RA')")
        assert page.text_content("#view-readout").startswith("pixel (0, 0)")
        page.select_option("#view-stretch", "log")
        page.wait_for_function("document.querySelector('#view-image').src.includes('stretch=log')")
        _screenshot(page, "object-view", table.parent)
        page.keyboard.press("Escape")
        assert not page.is_visible("#view")

        # triage in the anomaly order: ten objects labelled, marked or skipped
        order = page.evaluate(
            "fetch('/api/triage?order=anomaly').then((r) => r.json()).then((o) => o.order)"
        )
        page.fill("#names input >> nth=0", "disk")
        page.locator("#names input >> nth=0").dispatch_event("change")
        page.evaluate("document.activeElement.blur()")
        page.select_option("#triage-order", "anomaly")
        page.keyboard.press("t")
        for step, key in enumerate(["1", "i", "n", "Space", "1", "n", "n", "i", "Space", "1"]):
            _until(page, f"document.body.dataset.triageAt === '{order[step]}'")
            page.keyboard.press(key)
        _until(page, f"document.body.dataset.triageAt === '{order[10]}'")
        assert page.text_content("#triage-progress") == f"10 of {N} seen"
        _screenshot(page, "triage", table.parent)
        page.reload()
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        _until(page, f"document.body.dataset.triageAt === '{order[10]}'")  # object 11
        assert page.text_content("#triage-progress") == f"10 of {N} seen"
        page.keyboard.press("ArrowLeft")  # back to the tenth
        _until(page, f"document.body.dataset.triageAt === '{order[9]}'")
        page.keyboard.press("Escape")
        assert not page.is_visible("#view")
        labels = pd.read_csv(table.parent / "labels.csv")
        assert sorted(labels["id"]) == sorted(f"object_{order[k]:04d}" for k in (0, 4, 9))
        marks = dict(pd.read_csv(table.parent / "marks.csv").to_numpy())
        assert marks == {f"object_{order[k]:04d}": m for k, m in
                         ((1, 1), (2, 0), (5, 0), (6, 0), (7, 1))}  # fmt: skip
        assert errors == []


def test_a_large_table_shows_its_density_zoomed_out_and_its_objects_zoomed_in(table_path, tmp_path):
    folder = tmp_path / "survey"
    folder.mkdir()
    shutil.copy(table_path, folder / "embeddings.parquet")
    # "large" from 200 objects: the density is shown while more than 20 are in view
    large = _serving(folder / "embeddings.parquet", density_from=200)
    with large as url, chromium_page() as (page, errors):
        _open(page, url)  # ready once the density of the whole map is drawn
        assert page.evaluate("document.body.dataset.density") == "shown"
        size = page.evaluate("[document.querySelector('#density').naturalWidth, "
                             "document.querySelector('#canvas').clientWidth]")  # fmt: skip
        assert size[0] == size[1]  # drawn for the canvas, pixel for pixel
        assert page.evaluate(f"{VIEWER}.scatterplot.get('opacity')") < 0.1  # points faint
        # zoomed in on one object: the points and their thumbnails, the density hidden
        page.evaluate(f"{VIEWER}.scatterplot.zoomToLocation([{VIEWER}.state.x[0], "
                      f"{VIEWER}.state.y[0]], 0.02)")  # fmt: skip
        _until(page, "document.body.dataset.density === undefined")
        assert page.evaluate("document.querySelector('#density').hidden")
        assert page.evaluate(f"{VIEWER}.scatterplot.get('opacity')") > 0.5
        _until(page, "document.querySelectorAll('#thumbs img').length > 0")
        # and back out: the density again, for the new view
        page.evaluate(f"{VIEWER}.scatterplot.zoomToOrigin()")
        _until(page, "document.body.dataset.density === 'shown'")
        assert errors == []

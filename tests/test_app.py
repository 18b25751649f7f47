"""The explorer's server: only the token's holder, only the table's objects, nothing lost."""

from __future__ import annotations

import base64
import io
import json
import threading

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table
from PIL import Image
from starlette.testclient import TestClient

from morphospace.app import Explorer, create_app
from morphospace.embed import EmbeddingTable, EmbedOptions
from morphospace.explore import LabelStore
from morphospace.pipeline import embed_run

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def explorer(trained, tmp_path_factory):
    run, images = trained
    folder = tmp_path_factory.mktemp("explore")
    table = folder / "embeddings.parquet"
    embed_run(run, [str(images)], table, options=EmbedOptions(workers=1))
    return Explorer(table)


@pytest.fixture
def client(explorer):
    with TestClient(create_app(explorer, TOKEN)) as client:
        client.get(f"/api/objects?token={TOKEN}")  # the URL's token, kept in a cookie
        yield client


def test_every_request_needs_the_token(explorer):
    with TestClient(create_app(explorer, TOKEN)) as anonymous:
        for path in ("/api/objects", "/api/thumbs/0.png", "/api/labels", "/nothing"):
            assert anonymous.get(path).status_code == 403
            assert anonymous.get(path + "?token=wrong").status_code == 403
        assert anonymous.post("/api/labels", json={"set": {}}).status_code == 403
        assert anonymous.get("/api/objects", headers={"X-Morphospace-Token": TOKEN}).is_success


@pytest.mark.parametrize(
    "path",
    [
        "/api/thumbs/../../etc/passwd",
        "/api/thumbs/%2e%2e%2f%2e%2e%2fetc%2fpasswd.png",
        "/api/thumbs//etc/passwd.png",
        "/api/thumbs/30.png",  # one past the last object
        "/api/thumbs/-1.png",
        "/api/objects/999",
        "/etc/passwd",
        "/../model.json",
    ],
)
def test_nothing_but_the_tables_objects_is_served(client, path):
    assert client.get(path).status_code == 404


def _columns(payload: bytes) -> tuple[dict, dict]:
    """The binary payload of /api/objects read as the page reads it: its header, and each
    column (numbers as float64 read in place, NaN for no value; names; lines of text)."""
    length = int.from_bytes(payload[:4], "little")
    header = json.loads(payload[4 : 4 + length])
    start = -(-(4 + length) // 8) * 8
    columns = {}
    for name, column in header["columns"].items():
        if "float64" in column:
            columns[name] = np.frombuffer(payload, "<f8", header["n"], start + column["float64"])
        elif "codes" in column:
            codes = np.frombuffer(payload, "<i4", header["n"], start + column["codes"])
            columns[name] = [None if c < 0 else column["names"][c] for c in codes]
        else:
            columns[name] = column["lines"].split("\n")
    return header, columns


def _inline(answer: dict) -> dict:
    """The predicted and probability columns of /api/propagate or /api/predictions."""
    columns = {}
    for name, column in answer["columns"].items():
        if "float64" in column:
            columns[name] = np.frombuffer(base64.b64decode(column["float64"]), "<f8")
        elif "codes" in column:
            codes = np.frombuffer(base64.b64decode(column["codes"]), "<i4", 30)
            columns[name] = [None if c < 0 else column["names"][c] for c in codes]
        else:
            columns[name] = column["lines"].split("\n")
    return columns


def test_objects_travel_as_binary_columns_the_first_paints_at_once_the_rest_asked(client, explorer):
    answer = client.get("/api/objects")
    assert answer.headers["content-type"] == "application/octet-stream"
    header, columns = _columns(answer.content)
    assert header["n"] == 30 and set(columns) == {"id"}  # no map yet: no x, y or cluster
    assert columns["id"] == explorer.table.ids
    assert "pixel_scale" in header["all"] and "embedding" not in header["all"]
    _, asked = _columns(client.get("/api/objects?columns=pixel_scale,path,hdu").content)
    assert np.array_equal(asked["hdu"], explorer.table.column("hdu"))
    scale = explorer.table.column("pixel_scale")
    assert np.array_equal(asked["pixel_scale"], scale, equal_nan=True)
    assert asked["path"] == [str(p) for p in explorer.table.column("path")]
    missing = client.get("/api/objects?columns=nothing")
    assert missing.status_code == 404 and "nothing" in missing.json()["error"]


def test_objects_and_thumbnails(client, explorer):
    one = client.get("/api/objects/3").json()
    assert one["id"] == explorer.table.ids[3] and one["pixel_scale"] > 0
    framed, full = client.get("/api/thumbs/3.png"), client.get("/api/thumbs/3.png?full=1")
    assert framed.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(framed.content)).size == (128, 128)
    assert framed.content != full.content or explorer.table.framing is None
    cached = list(explorer.thumbs.rglob("*.png"))
    assert len(cached) == 2  # made once, then served from RUN/thumbs


def test_neighbours_of_an_object_and_of_a_selection(client):
    one = client.get("/api/neighbours?of=0&k=5").json()
    assert len(one["indices"]) == 5 and 0 not in one["indices"]
    assert one["similarity"] == sorted(one["similarity"], reverse=True)
    several = client.get("/api/neighbours?of=0,1,2&k=4").json()
    assert not {0, 1, 2} & set(several["indices"])
    assert client.get("/api/neighbours?of=x").status_code == 400
    assert client.get("/api/neighbours?of=0&k=0").status_code == 400


def test_labels_are_saved_at_once_merged_and_propagated(client, explorer):
    ids = explorer.table.ids
    first = client.post("/api/labels", json={"set": {ids[0]: "disk", ids[1]: "disk"}}).json()
    assert first["labels"] == {ids[0]: "disk", ids[1]: "disk"}
    assert (explorer.run_dir / "labels.csv").read_text().startswith("id,label\n")
    # a second tab that only knows its own change keeps the first tab's labels
    with TestClient(create_app(Explorer(explorer.table_path), TOKEN)) as other:
        other.post(f"/api/labels?token={TOKEN}", json={"set": {ids[2]: "cloud", ids[3]: "cloud"}})
    both = client.get("/api/labels").json()["labels"]
    assert both == {ids[0]: "disk", ids[1]: "disk", ids[2]: "cloud", ids[3]: "cloud"}
    removed = client.post("/api/labels", json={"set": {ids[1]: None}}).json()["labels"]
    assert ids[1] not in removed and len(removed) == 3
    assert client.post("/api/labels", json={"set": {"nobody": "x"}}).status_code == 400
    assert client.post("/api/labels", content=b"not json").status_code == 400
    client.post("/api/labels", json={"set": {ids[1]: "disk"}})
    found = client.post("/api/propagate").json()
    assert found["classes"] == ["cloud", "disk"] and len(_inline(found)["predicted"]) == 30
    assert not {0, 1, 2, 3} & set(found["next"])


def test_concurrent_label_writes_lose_nothing(tmp_path):
    store = LabelStore(tmp_path / "labels.csv")

    def label(start: int) -> None:
        for i in range(start, start + 20):
            store.update({f"object_{i}": f"class_{i % 3}"})

    threads = [threading.Thread(target=label, args=(start,)) for start in (0, 20, 40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.read()) == 60
    assert not list(tmp_path.glob(".labels.csv.*"))  # no temporary file left behind


def test_a_selection_exports_as_votable_and_ds9_regions(client, explorer):
    vot = client.post("/api/export", json={"indices": [4, 0, 7], "format": "vot"})
    assert vot.is_success and "-3-selected.vot" in vot.headers["content-disposition"]
    table = Table.read(io.BytesIO(vot.content), format="votable")
    assert list(table["id"]) == [explorer.table.ids[i] for i in (4, 0, 7)]
    assert str(table["ra"].unit) == "deg"
    regions = client.post("/api/export", json={"indices": [4, 0], "format": "reg"}).text
    circles = [line for line in regions.splitlines() if line.startswith("circle(")]
    ra = float(circles[0].split("(")[1].split(",")[0])
    assert len(circles) == 2 and ra == pytest.approx(explorer.table.column("ra")[4], abs=1e-6)
    assert client.post("/api/export", json={"indices": [0], "format": "exe"}).status_code == 400
    assert client.post("/api/export", json={"indices": [99], "format": "csv"}).status_code == 400
    assert not list((explorer.run_dir / ".exports").glob("*"))
    assert np.isfinite(table["dec"]).all()


def test_marks_are_kept_and_rerank_the_anomalies(client, explorer):
    ids = explorer.table.ids
    marks = client.post("/api/marks", json={"set": {ids[0]: "1", ids[1]: "0"}}).json()["labels"]
    assert marks == {ids[0]: "1", ids[1]: "0"}
    assert (explorer.run_dir / "marks.csv").read_text().startswith("id,interesting\n")
    refused = client.post("/api/marks", json={"set": {ids[2]: "maybe"}})
    assert refused.status_code == 400 and "'maybe' is not one of 0, 1" in refused.json()["error"]
    answer = client.post("/api/rerank").json()  # inline columns: base64 float64
    reranked = {k: np.frombuffer(base64.b64decode(v["float64"]), "<f8") for k, v in answer.items()}
    assert list(reranked["anomaly_interest"][:2]) == [1.0, 0.0]  # a mark is its own interest
    assert sorted(reranked["anomaly_reranked_rank"]) == list(range(1, 31))
    assert reranked["anomaly_reranked"][1] < reranked["anomaly_reranked"][0] or (
        explorer.table.anomalies()["anomaly"][1] < explorer.table.anomalies()["anomaly"][0]
    )
    client.post("/api/marks", json={"set": {ids[0]: None, ids[1]: None}})
    assert client.post("/api/rerank").status_code == 400  # no marks: nothing to re-rank by


@pytest.fixture
def samp_hub(tmp_path, monkeypatch):
    """A SAMP hub of this test's own, found as TOPCAT finds one (``SAMP_HUB``)."""
    from pyvo.samp import SAMPHubServer

    lockfile = tmp_path / "samp-hub"
    hub = SAMPHubServer(web_profile=False, lockfile=str(lockfile), addr="127.0.0.1")
    hub.start()
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{lockfile.as_uri()}")
    yield hub
    hub.stop()


def _samp_client(name: str, received: list | None = None):
    from pyvo.samp import SAMPIntegratedClient

    client = SAMPIntegratedClient(name=name, addr="127.0.0.1")
    client.connect()
    if received is not None:  # a table viewer, as TOPCAT or Aladin
        client.bind_receive_notification("table.load.votable", lambda *a: received.append(a[4]))
    return client


def test_a_selection_goes_over_samp_to_each_client_that_loads_tables(samp_hub, client, explorer):
    received: list[dict] = []
    viewer = _samp_client("TOPCAT", received)
    bystander = _samp_client("a logger")  # on the hub, but loads no tables
    try:
        sent = client.post("/api/samp", json={"indices": [5, 2]}).json()
        assert sent["sent"] == 2 and sent["clients"] == ["TOPCAT"]
        for _ in range(100):
            if received:
                break
            threading.Event().wait(0.05)
        assert len(received) == 1 and received[0]["url"].startswith("file://")
        table = Table.read(received[0]["url"].removeprefix("file://"), format="votable")
        assert list(table["id"]) == [explorer.table.ids[i] for i in (5, 2)]
        assert str(table["ra"].unit) == "deg"
    finally:
        viewer.disconnect()
        bystander.disconnect()
    nobody = client.post("/api/samp", json={"indices": [5]}).json()
    assert nobody["sent"] == 0 and "no client that loads tables" in nobody["problem"]


def test_samp_without_a_hub_says_how_to_start_one(client, tmp_path, monkeypatch):
    monkeypatch.delenv("SAMP_HUB", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.samp: no hub
    answer = client.post("/api/samp", json={"indices": [0]})
    assert answer.is_success and answer.json()["sent"] == 0
    assert answer.json()["problem"].startswith("no SAMP hub is running: start TOPCAT")
    assert client.post("/api/samp", json={"indices": []}).status_code == 400


def test_explore_command_prints_a_token_url_and_serves_the_run_folder(explorer):
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    command = [sys.executable, "-m", "morphospace", "explore", str(explorer.run_dir)]
    server = subprocess.Popen(
        [*command, "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        lines = [server.stdout.readline() for _ in range(2)]
        assert lines[0].startswith(f"exploring {len(explorer.table)} objects")
        url = lines[1].split()[1]
        assert url.startswith("http://127.0.0.1:") and "?token=" in url
        base, token = url.split("/?token=")
        with urllib.request.urlopen(f"{base}/api/objects?token={token}", timeout=20) as answer:
            assert answer.status == 200
        with pytest.raises(urllib.error.HTTPError, match="403"):
            urllib.request.urlopen(f"{base}/api/objects", timeout=20)
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_a_joined_catalogue_is_shown_and_exported_with_the_objects(explorer, tmp_path):
    rows = explorer.table.rows()
    catalogue = tmp_path / "catalogue.ecsv"
    Table({"ra": rows["ra"][:20], "dec": rows["dec"][:20], "flux": np.arange(20.0)}).write(
        catalogue
    )
    joined = Explorer(explorer.table_path, join=catalogue)
    assert joined.joined.matched == 20 and "sky position" in joined.joined.method
    with TestClient(create_app(joined, TOKEN)) as other:
        answer = other.get(f"/api/objects?token={TOKEN}&columns=flux").content
        flux = _columns(answer)[1]["flux"]
        assert np.array_equal(flux[:20], np.arange(20.0)) and np.isnan(flux[20:]).all()
        vot = other.post("/api/export", json={"indices": [2, 25], "format": "vot"})
        exported = Table.read(io.BytesIO(vot.content), format="votable")
        assert exported["flux"][0] == 2.0 and np.ma.is_masked(exported["flux"][1])
    assert "flux" not in EmbeddingTable.read(explorer.table_path).rows  # the table is untouched


@pytest.fixture
def fresh(explorer, tmp_path):
    """A client of a copy of the run's table in a folder of its own: no labels yet."""
    import shutil

    folder = tmp_path / "disks"
    folder.mkdir()
    shutil.copy(explorer.table_path, folder / "embeddings.parquet")
    mine = Explorer(folder / "embeddings.parquet")
    with TestClient(create_app(mine, TOKEN)) as client:
        client.get(f"/api/objects?token={TOKEN}")
        yield client, mine


def test_exports_from_the_page_carry_labels_marks_and_predictions(fresh):
    client, mine = fresh
    ids = mine.table.ids
    client.post("/api/labels", json={"set": {ids[0]: "disk", ids[1]: "disk", ids[2]: "ring"}})
    client.post("/api/labels", json={"set": {ids[3]: "ring"}})
    client.post("/api/marks", json={"set": {ids[5]: "1", ids[6]: "0"}})
    found = _inline(client.post("/api/propagate").json())
    kept = _inline(client.get("/api/predictions").json())
    assert kept["predicted"] == found["predicted"] and len(kept["probability"]) == 30
    everything = client.post("/api/export", json={"indices": list(range(30)), "format": "vot"})
    assert 'filename="disks-all.vot"' in everything.headers["content-disposition"]
    table = Table.read(io.BytesIO(everything.content), format="votable")
    assert list(table["label"][:4]) == ["disk", "disk", "ring", "ring"]
    assert table["label"][4] == ""
    assert table["interesting"][5] == 1 and table["interesting"][6] == 0
    assert list(table["predicted"]) == found["predicted"]
    # and the command line's export of the run says the same
    from morphospace.report.export import export_table

    export_table(mine.run_dir, mine.run_dir / "out.vot", regions=False)
    cli = Table.read(mine.run_dir / "out.vot")
    assert list(cli["predicted"]) == found["predicted"] and cli["interesting"][5] == 1


def test_triage_order_and_the_objects_seen_are_kept(fresh):
    client, mine = fresh
    anomaly = mine.table.anomalies()["anomaly"].to_numpy()
    first = client.get("/api/triage?order=anomaly").json()
    assert first["order"] == list(np.argsort(-anomaly, kind="stable")) and first["seen"] == {}
    ids = mine.table.ids
    client.post("/api/seen", json={"set": {ids[first["order"][0]]: "1"}})
    assert client.get("/api/triage?order=random").json()["seen"] == {ids[first["order"][0]]: "1"}
    assert sorted(client.get("/api/triage?order=random").json()["order"]) == list(range(30))
    # marks move the objects most like the interesting ones forward
    top, last = first["order"][0], first["order"][-1]
    client.post("/api/marks", json={"set": {ids[top]: "0", ids[last]: "1"}})
    reranked = client.get("/api/triage?order=reranked").json()["order"]
    assert reranked.index(top) > 0
    refused = client.get("/api/triage?order=uncertain")
    assert refused.status_code == 400 and "two classes" in refused.json()["error"]
    assert client.get("/api/triage?order=sideways").status_code == 400
    assert (mine.run_dir / "triage.csv").read_text().startswith("id,seen\n")


def test_the_object_view_stretches_the_pixels_and_knows_its_sky(fresh):
    client, mine = fresh
    geometry = client.get("/api/view/3.json").json()
    row = mine.table.row(3)
    assert geometry["id"] == row["id"] and geometry["pixel_scale"] == pytest.approx(
        row["pixel_scale"]
    )
    width, height = geometry["width"], geometry["height"]
    north, east = geometry["north"], geometry["east"]
    assert north == pytest.approx([0, -1], abs=1e-3) and east == pytest.approx([-1, 0], abs=1e-3)
    for stretch in ("linear", "sqrt", "log", "asinh"):
        for interval in ("99.5%", "minmax", "zscale"):
            png = client.get(f"/api/view/3.png?stretch={stretch}&interval={interval}&cmap=gray")
            assert Image.open(io.BytesIO(png.content)).size == (width, height)
    linear = client.get("/api/view/3.png?stretch=linear&cmap=gray").content
    log = client.get("/api/view/3.png?stretch=log&cmap=gray").content
    assert linear != log
    bad = client.get("/api/view/3.png?stretch=cubic")
    assert bad.status_code == 422 and "unknown stretch 'cubic'" in bad.json()["error"]
    at = client.get(f"/api/view/3/at?x=0.5&y={height - 0.5}").json()  # bottom-left pixel
    from morphospace.io import read_fits

    image = read_fits(row["path"], hdu=int(row["hdu"]), min_side=1)
    assert at["x"] == 0 and at["y"] == 0 and at["value"] == pytest.approx(float(image.data[0, 0]))
    ra, dec = image.wcs.celestial.pixel_to_world_values(0, 0)
    assert (at["ra"], at["dec"]) == pytest.approx((float(ra), float(dec)))
    assert client.get("/api/view/3/at?x=-4&y=2").status_code == 422
    assert client.get("/api/view/99.json").status_code == 404


def test_the_density_of_a_window_of_the_map_is_counted_and_shaded(tmp_path):
    from morphospace.embed import EmbeddingTable

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-5, 0.2, 300), rng.normal(5, 0.2, 200)])
    y = np.concatenate([rng.normal(-5, 0.2, 300), rng.normal(5, 0.2, 200)])
    rows = pd.DataFrame({"id": [f"o{i}" for i in range(500)], "path": "none.fits", "x": x, "y": y})
    table = tmp_path / "embeddings.parquet"
    EmbeddingTable(rows, rng.normal(size=(500, 4)), {}).write(table)
    explorer = Explorer(table, density_from=100)
    with TestClient(create_app(explorer, TOKEN)) as client:
        client.get(f"/api/objects?token={TOKEN}")
        header, _ = _columns(client.get("/api/objects").content)
        assert header["density_from"] == 100  # the page learns when to show the density
        answer = client.get("/api/density?x0=0&x1=10&y0=0&y1=10&width=50&height=40")
        assert answer.headers["content-type"] == "image/png"
        assert answer.headers["x-objects-in-view"] == "200"  # the upper-right group alone
        alpha = np.asarray(Image.open(io.BytesIO(answer.content)).convert("RGBA"))[..., 3]
        assert alpha.shape == (40, 50)
        assert alpha[40 - 20, 25] > 0 and alpha[0, 0] == 0 and alpha[-1, -1] == 0  # y up
        whole = client.get("/api/density?x0=-10&x1=10&y0=-10&y1=10&width=64&height=64")
        assert whole.headers["x-objects-in-view"] == "500"
        empty = client.get("/api/density?x0=20&x1=30&y0=20&y1=30&width=8&height=8")
        assert empty.headers["x-objects-in-view"] == "0"
        assert not np.asarray(Image.open(io.BytesIO(empty.content)).convert("RGBA"))[..., 3].any()
        for bad in ("x0=1&x1=0&y0=0&y1=1&width=8&height=8", "x0=0&x1=1&y0=0&y1=1&width=0&height=8",
                    "x0=0&x1=nan&y0=0&y1=1&width=8&height=8", "x0=0"):  # fmt: skip
            refused = client.get(f"/api/density?{bad}")
            assert refused.status_code == 422 and "density" in refused.json()["error"]

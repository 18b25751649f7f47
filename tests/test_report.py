"""The report: columns written back, figures that are not blank, the HTML page in a real
browser, similarity and anomaly queries, and the one-command demo."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from astropy.table import Table
from PIL import Image

from conftest import chromium_page
from morphospace.cli import main
from morphospace.embed import EmbeddingTable, EmbedOptions
from morphospace.explore import RunTable
from morphospace.pipeline import embed_run
from morphospace.report import ReportOptions, build_report, thumbnail

FIGURES = ("thumbnail_map", "map_cluster", "map_anomaly", "map_class", "clusters", "hierarchy",
           "anomalies")  # fmt: skip


@pytest.fixture(scope="module")
def reported(trained, tmp_path_factory):
    """An embedding table with its report (PCA map, to keep the test fast)."""
    run, images = trained
    folder = tmp_path_factory.mktemp("report")
    table = embed_run(
        run, [str(images)], folder / "emb.parquet", options=EmbedOptions(workers=1)
    ).path
    options = ReportOptions(
        map="pca",
        join=images.parent / "labels.csv",
        colour_by=["class"],
        tensorboard=True,
        workers=1,
    )
    result = build_report(table, folder / "report", options)
    return table, result


def test_report_writes_columns_and_figures_that_are_not_blank(reported):
    table_path, result = reported
    table = EmbeddingTable.read(table_path)
    columns = ["x", "y", "cluster", "cluster_hdbscan", "cluster_agglomerative", "class"]
    columns += ["anomaly", "anomaly_rank", "anomaly_iforest", "anomaly_lof", "anomaly_knn"]
    for column in columns:
        assert column in table.rows.columns, column
    assert np.allclose(table.embeddings, result.table.vectors)
    assert sorted(table.rows["anomaly_rank"]) == list(range(1, len(table) + 1))
    for name in FIGURES:
        pixels = np.asarray(Image.open(result.folder / f"{name}.png").convert("L"), dtype=float)
        assert pixels.shape[0] > 200 and pixels.std() > 10, name  # real content, not one colour
    page = (result.folder / "index.html").read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched: offline
    projector = result.folder / "tensorboard"
    assert list(projector.rglob("projector_config.pbtxt")) and list(projector.rglob("sprite.png"))
    assert list(projector.rglob("metadata.tsv"))


def test_thumbnails_stretch_each_object_and_show_cubes_as_moment_0():
    faint = np.zeros((40, 60), np.float32)
    faint[15:25, 20:40] = 1e-6
    bright = faint * 1e6
    assert np.array_equal(thumbnail(faint, 32), thumbnail(bright, 32))  # per-object stretch
    assert thumbnail(faint, 32).max() == 255 and thumbnail(faint, 32)[0].max() == 0  # padded
    cube = np.zeros((5, 30, 30), np.float32)
    cube[2, 10:20, 10:20] = 1.0
    cube[:, 0, 0] = np.nan
    assert np.array_equal(thumbnail(cube, 30), thumbnail(cube[2], 30) * (thumbnail(cube, 30) > 0))
    assert thumbnail(np.zeros((20, 20), np.float32), 16).max() == 0  # constant: black, no NaN


def test_report_page_is_the_viewer_read_only_with_everything_inline(reported):
    _, result = reported
    table = result.table
    with chromium_page() as (page, errors):
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto((result.folder / "index.html").resolve().as_uri())
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        viewer = "window.morphospaceExplorer"
        assert page.evaluate(f"{viewer}.state.n") == len(table)
        assert page.evaluate(f"{viewer}.state.readOnly")
        assert not page.locator("#label").is_visible()  # nothing to label or save
        assert not page.locator("#samp").is_visible()

        box = page.locator("#canvas").bounding_box()
        x, y = page.evaluate(f"{viewer}.scatterplot.getScreenPosition(3)")
        page.mouse.move(box["x"] + x, box["y"] + y)
        page.wait_for_function("document.querySelector('#object img') !== null")
        assert table.ids[3] in page.locator("#object").inner_text()
        assert page.locator("#object img").get_attribute("src").startswith("data:image/png")

        page.evaluate(f"{viewer}.scatterplot.select([3])")
        page.click("#more")  # the neighbours the report holds for object 3
        page.wait_for_function(f"{viewer}.state.selection.length > 1")
        chosen = page.evaluate(f"{viewer}.state.selection")
        assert chosen[0] == 3 and len(chosen) == 1 + min(12, len(table) - 1)
        gallery = page.locator("#gallery img")
        assert gallery.first.get_attribute("src").startswith("data:image/png")

        page.select_option("#colour", "class")
        assert "smooth_disk" in page.locator("#legend").inner_text()

        wanted = table.ids[7]
        page.fill("#search", wanted)
        page.press("#search", "Enter")
        page.wait_for_function(f"{viewer}.state.selection[0] === 7")
        assert errors == []
        assert all(url.startswith(("file:", "data:", "blob:")) for url in requests), requests


def test_similar_by_id_and_by_new_file(reported, trained, tmp_path, capsys):
    table_path, result = reported
    _, images = trained
    some = result.table.ids[0]
    gallery, answer = tmp_path / "near.png", tmp_path / "near.vot"
    argv = [
        "similar",
        str(table_path),
        some,
        "-k",
        "5",
        "-o",
        str(answer),
        "--gallery",
        str(gallery),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "5 objects most similar to" in out and gallery.exists()
    near = Table.read(answer)
    assert list(near["rank"]) == [1, 2, 3, 4, 5] and some not in list(near["id"])
    assert main([*argv[:5], "-o", str(gallery)]) == 2  # -o is the table, not the picture
    assert "unknown table format" in capsys.readouterr().err
    assert some not in out.split("\n", 2)[2]  # the query is not its own neighbour
    # a FITS file that is not in the table is embedded with the run's model
    copy = tmp_path / "new_object.fits"
    shutil.copy(images / f"{some}.fits", copy)
    assert main(["similar", str(table_path), str(copy), "-k", "3"]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[2].split()
    assert first[0] == "1" and first[2] == some and float(first[1]) > 0.999
    assert main(["similar", str(table_path), "no_such_object"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no_such_object" in err[0]


def test_anomalies_table_and_gallery(reported, capsys):
    table_path, _ = reported
    answer = table_path.parent / "odd.csv"
    assert main(["anomalies", str(table_path), "-n", "4", "-o", str(answer)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("4 most anomalous of 30 objects")
    assert [int(line.split()[0]) for line in lines[2:6]] == [1, 2, 3, 4]
    assert (table_path.parent / "anomalies_top.png").exists()
    assert list(Table.read(answer)["anomaly_rank"]) == [1, 2, 3, 4]


def test_a_bad_table_is_one_line_and_harms_nothing(reported, tmp_path, capsys):
    table_path, _ = reported
    before = table_path.read_bytes()
    fake = tmp_path / "fake.parquet"
    fake.write_text("not parquet")
    for argv in (
        ["report", str(fake)],
        ["report", str(tmp_path / "missing.parquet")],
        ["anomalies", str(fake)],
        ["report", str(table_path), "--colour-by", "no_such_column"],
        ["report", str(table_path), "--map", "isomap"],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("morphospace: error:"), (argv, err)
    assert table_path.read_bytes() == before


def test_demo_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "-n", "40", "--epochs", "1", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "index.html" in printed and "demo finished" in printed
    table = EmbeddingTable.read(out / "run" / "embeddings.parquet")
    assert len(table) == 40 and "class" in table.rows.columns and "x" in table.rows.columns
    assert (out / "run" / "report" / "index.html").stat().st_size > 10_000


def test_run_checks_the_join_before_training(trained, tmp_path, capsys):
    _, images = trained
    names = sorted(p.name.removesuffix(".fits") for p in images.glob("*.fits"))
    labels = tmp_path / "labels.csv"
    out = tmp_path / "run"
    for text in ("source,class\na,disk\n", "name,class\nnobody_here,disk\n"):
        labels.write_text(text)  # no column naming objects; a name that is no object
        assert main(["run", str(images), "-o", str(out), "--join", str(labels)]) == 2
        assert f"no row matches any of the {len(names)} objects" in capsys.readouterr().err
    few = names[: len(names) // 3]
    labels.write_text("name,class\n" + "".join(f"{n},disk\n" for n in few))
    assert main(["run", str(images), "-o", str(out), "--join", str(labels)]) == 2
    assert f"matches only {len(few)} of {len(names)} objects" in capsys.readouterr().err
    labels.write_text("name,class\n" + "".join(f"{n},disk\n" for n in names))
    argv = ["run", str(images), "-o", str(out), "--join", str(labels), "--colour-by", "klass"]
    assert main(argv) == 2
    assert "'klass'" in capsys.readouterr().err
    assert not (out / "model.safetensors").exists()  # nothing was trained


def test_join_matches_catalogue_names_to_cutout_files(reported, tmp_path):
    table_path, result = reported
    catalogue = tmp_path / "catalogue.csv"
    ids = result.table.ids
    catalogue.write_text("name,peak_mjy\n" + "".join(f"{i},{n}\n" for n, i in enumerate(ids)))
    joined, _ = RunTable.open(table_path).join(catalogue)
    assert joined.column("peak_mjy").tolist() == list(range(len(ids)))


def _asymmetric(side: int = 48) -> np.ndarray:
    """Noise, and a bright block in FITS row 0-9, columns 0-14: DS9's bottom left."""
    image = np.random.default_rng(0).normal(0.0, 0.01, (side, side)).astype(np.float32)
    image[:10, :15] = 1.0
    return image


def _bright_quadrant(pixels: np.ndarray) -> tuple[str, str]:
    rows, cols = np.nonzero(pixels > 0.8 * pixels.max())
    half_rows, half_cols = pixels.shape[0] / 2, pixels.shape[1] / 2
    return ("top" if rows.mean() < half_rows else "bottom"), (
        "left" if cols.mean() < half_cols else "right"
    )


def test_thumbnails_and_figures_show_fits_row_0_at_the_bottom_as_ds9(tmp_path):
    from PIL import Image

    from morphospace.report import figures
    from morphospace.report.thumbnails import png_data_uri

    thumb = thumbnail(_asymmetric(), 48)
    assert _bright_quadrant(thumb) == ("bottom", "left")
    # the page's data URI and the PNG figures draw the same way round
    import base64
    import io

    uri = png_data_uri(thumb)
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    assert decoded.shape == (48, 48, 3)  # in the PNG maps' colour map, inferno
    assert _bright_quadrant(decoded.astype(float).sum(axis=-1)) == ("bottom", "left")
    path = figures.gallery(thumb[None], [[0]], tmp_path / "one.png", "orientation")
    red, green, blue = np.moveaxis(np.asarray(Image.open(path).convert("RGB"), float), -1, 0)
    inside = np.nonzero(blue > red + 10)  # inferno's dark purples: the thumbnail's noise
    frame = slice(inside[0].min(), inside[0].max() + 1), slice(inside[1].min(), inside[1].max() + 1)
    yellow = (red > 200) & (green > 200) & (blue < 200)  # inferno's brightest colours
    assert _bright_quadrant(yellow[frame].astype(float)) == ("bottom", "left")


def test_thumbnails_are_framed_on_the_emission_as_the_network_input_is():
    from morphospace.preprocess import PreprocessChain
    from morphospace.preprocess.chain import framing_of

    cutout = np.random.default_rng(1).normal(0.0, 1.0, (150, 150)).astype(np.float32)
    yy, xx = np.mgrid[:150, :150]
    cutout += 40.0 * np.exp(-((yy - 80) ** 2 + (xx - 70) ** 2) / (2 * 6.0**2))  # ~30 px source
    framing = framing_of(PreprocessChain.default().to_dict())
    assert framing is not None and framing.margin == 0.25
    whole, framed = thumbnail(cutout, 64), thumbnail(cutout, 64, framing)
    assert (framed > 128).mean() > 4 * (whole > 128).mean()  # the source fills the frame
    chain_without_crop = {"steps": [{"step": "fill"}, {"step": "normalise"}]}
    assert framing_of(chain_without_crop) is None and framing_of(None) is None


def test_names_with_dots_are_ids_whole():
    from morphospace.embed import object_id

    assert object_id("0.878_0.466_3_Proctor_Tab1") == "0.878_0.466_3_Proctor_Tab1"
    assert object_id("cutouts/0.878_0.466_3_Proctor_Tab1.fits") == "0.878_0.466_3_Proctor_Tab1"
    assert object_id("HD 163296.fits.gz") == "HD 163296"


def test_a_progress_bar_shows_only_for_work_longer_than_its_delay(
    reported, tmp_path, capsys, monkeypatch
):
    import morphospace.progress

    table_path, _ = reported
    copy = tmp_path / "table.parquet"
    shutil.copy(table_path, copy)
    argv = ["report", str(copy), "--map", "pca", "-k", "2"]
    monkeypatch.setattr(morphospace.progress, "DELAY", 600.0)  # quicker than the delay
    assert main(argv) == 0
    assert "report:" not in capsys.readouterr().err
    monkeypatch.setattr(morphospace.progress, "DELAY", 0.0)  # slower than the delay
    assert main(argv) == 0
    assert "report:" in capsys.readouterr().err
    assert main([*argv, "--no-progress"]) == 0
    assert "report:" not in capsys.readouterr().err


def test_thirteen_classes_get_thirteen_colours_and_clusters_one_colour_everywhere(tmp_path):
    from pathlib import Path

    from matplotlib.colors import to_hex

    from morphospace.report.export import ds9_regions
    from morphospace.report.figures import scatter_map
    from morphospace.report.palette import CATEGORY_COLOURS

    # the page's palette is this one (frontend/src/colours.js)
    viewer = (Path(__file__).parent.parent / "frontend" / "src" / "colours.js").read_text()
    page = re.search(r"const PALETTE = \[(.*?)\];", viewer, flags=re.DOTALL).group(1)
    assert tuple(re.findall(r"'(#[0-9a-f]{6})'", page)) == CATEGORY_COLOURS
    assert len(set(CATEGORY_COLOURS)) == len(CATEGORY_COLOURS)

    rng = np.random.default_rng(0)
    classes = np.array([f"class_{n}" for n in range(13)] * 5)
    figure = scatter_map(rng.normal(size=(65, 2)), classes, None, "class", categorical=True)
    drawn = [to_hex(c.get_facecolor()[0]) for c in figure.axes[0].collections]
    assert len(drawn) == 13 and len(set(drawn)) == 13  # no two classes share a colour

    clusters = np.arange(12) % 12
    figure = scatter_map(rng.normal(size=(12, 2)), clusters, None, "cluster", categorical=True)
    drawn = [to_hex(c.get_facecolor()[0]) for c in figure.axes[0].collections]
    chosen = Table({"id": [f"o{n}" for n in clusters], "ra": np.full(12, 10.0),
                    "dec": np.full(12, -5.0), "cluster": clusters})  # fmt: skip
    regions = re.findall(r"color=(#[0-9a-f]{6})", ds9_regions(chosen))
    # cluster 4 (and every other): the same colour in the PNG, the regions and the page
    assert drawn == regions == list(CATEGORY_COLOURS[:12])


def test_png_maps_keep_the_true_shape_of_the_layout():
    from morphospace.report.figures import scatter_map, thumbnail_map

    rng = np.random.default_rng(1)
    xy = rng.uniform(size=(300, 2)) * [11.5, 5.9]  # a map twice as wide as it is high
    for figure in (
        scatter_map(xy, rng.integers(0, 3, 300), None, "cluster", categorical=True),
        thumbnail_map(xy, rng.uniform(size=(300, 8, 8)), None),
    ):
        figure.canvas.draw()
        axes = figure.axes[0]
        box = axes.get_position().transformed(figure.transFigure)  # after the aspect's fit
        (x0, x1), (y0, y1) = axes.get_xlim(), axes.get_ylim()
        # one unit of the map is as long across as up: x and y drawn to the same scale
        assert box.width / (x1 - x0) == pytest.approx(box.height / (y1 - y0), rel=0.02)
        assert (x1 - x0) / (y1 - y0) > 1.6


def test_cluster_n_keeps_its_colour_beside_noise_and_as_a_float_column():
    from matplotlib.colors import to_hex

    from morphospace.report.export import ds9_regions
    from morphospace.report.figures import scatter_map
    from morphospace.report.palette import CATEGORY_COLOURS, NOISE_COLOUR

    clusters = np.array([-1, 0, 1, 2, 3, 4])  # HDBSCAN's -1: objects no cluster claims
    figure = scatter_map(np.zeros((6, 2)), clusters, None, "cluster_hdbscan", categorical=True)
    drawn = {c.get_label(): to_hex(c.get_facecolor()[0]) for c in figure.axes[0].collections}
    assert drawn["4"] == CATEGORY_COLOURS[4] and drawn["-1"] == NOISE_COLOUR
    chosen = Table({"id": list("abcdef"), "ra": np.full(6, 10.0), "dec": np.full(6, -5.0),
                    "cluster": clusters.astype(float)})  # fmt: skip
    regions = re.findall(r"color=(#[0-9a-f]{6})", ds9_regions(chosen))
    assert regions == [NOISE_COLOUR, *CATEGORY_COLOURS[:5]]


def test_a_table_larger_than_the_page_is_shown_by_a_sample_with_its_top_anomalies(
    reported, tmp_path
):
    import json

    import pandas as pd

    _, result = reported
    base = result.table.embedding_table
    rng = np.random.default_rng(0)
    rows = pd.concat([base.rows] * 10, ignore_index=True)  # 300 objects, same files
    rows["id"] = [f"copy{k}" for k in range(len(rows))]
    vectors = np.tile(base.embeddings, (10, 1))
    vectors = vectors + rng.normal(scale=0.05, size=vectors.shape).astype(np.float32)
    large = EmbeddingTable(rows, vectors, dict(base.info)).write(tmp_path / "large.parquet")
    options = ReportOptions(map="pca", workers=1, page_objects=100)
    reported_large = build_report(large, tmp_path / "report", options)
    assert len(reported_large.table) == 300  # the whole table has its columns
    page = (tmp_path / "report" / "index.html").read_text()
    assert "(300 objects, 100 shown)" in page
    data = re.search(r'id="morphospace-data"[^>]*>(.*?)</script>', page, re.S).group(1)
    shown = json.loads(data)
    assert shown["n"] == 100 and len(shown["thumbs"]) == 100
    ranks = RunTable.open(large).rows(columns=["id", "anomaly_rank"])
    top = ranks.sort_values("anomaly_rank")["id"][:24]
    ids = shown["columns"]["id"]["lines"].split("\n")
    assert set(top) <= set(ids)  # the most anomalous are all there


def test_report_of_a_run_folder_writes_into_the_run(trained, tmp_path):
    import shutil

    run, images = trained
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    embed_run(copy, [str(images)], copy / "embeddings.parquet", options=EmbedOptions(workers=1))
    assert main(["report", str(copy), "--map", "pca", "-k", "2", "--no-progress"]) == 0
    assert (copy / "report" / "index.html").exists()
    assert not (tmp_path / "report").exists()

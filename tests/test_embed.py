"""Embedding: the Parquet table, recorded preprocessing, size batching and rotation averaging."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from astropy.io import fits

from conftest import celestial_header, gaussian_blob
from morphospace.byol import BYOL
from morphospace.cli import main
from morphospace.embed import Embedder, EmbeddingTable, EmbedOptions, dihedral, size_bucket
from morphospace.models import ModelCard, build_backbone
from morphospace.pipeline import embed_run


def test_parquet_schema_and_provenance(trained, tmp_path):
    run, images = trained
    out = tmp_path / "emb.parquet"
    result = embed_run(run, [str(images)], out, npy=True, options=EmbedOptions(workers=1))
    schema = pq.read_schema(out)
    for column in (
        "id", "path", "hdu", "cutout_map", "cutout_x0", "cutout_y0", "object", "ra", "dec",
        "restfrq", "bmaj", "bmin", "pixel_scale", "shape", "embedding",
    ):  # fmt: skip
        assert column in schema.names, column
    embedding_type = schema.field("embedding").type
    assert pa.types.is_list(embedding_type) and embedding_type.value_type == pa.float32()
    info = json.loads(schema.metadata[b"morphospace"])
    model = json.loads((run / "model.json").read_text())
    assert info["model_sha256"] == model["weights_sha256"]
    assert info["tta"] is True and info["backbone"] == model["backbone"]
    assert info["preprocess"] == model["preprocess"]

    table = EmbeddingTable.read(out)
    assert len(table) == 30 and len(set(table.ids)) == 30
    assert table.embeddings.shape == (30, model["representation_size"])
    assert np.isfinite(table.embeddings).all()
    assert table.rows["ra"].notna().all() and table.rows["pixel_scale"].gt(0).all()
    assert np.array_equal(np.load(out.with_suffix(".npy")), table.embeddings)
    assert np.allclose(table.embeddings, result.table.embeddings)


def test_a_cutouts_box_is_recorded(trained, tmp_path, write_fits):
    run, _ = trained
    header = celestial_header((40, 40))
    header["CUTMAP"], header["CUTX0"], header["CUTY0"] = "survey.fits", 120, 340
    path = write_fits("clump_7.fits", gaussian_blob(40), header)
    table = embed_run(
        run, [str(path)], tmp_path / "one.parquet", options=EmbedOptions(workers=1)
    ).table
    row = table.rows.iloc[0]
    assert (row["cutout_map"], row["cutout_x0"], row["cutout_y0"]) == ("survey.fits", 120, 340)
    assert row["shape"] == "40x40" and row["id"] == "clump_7"


def test_rotated_copy_has_the_original_as_nearest_neighbour(trained, tmp_path):
    run, images = trained
    originals = sorted(images.glob("*.fits"))
    copies = tmp_path / "copies"
    copies.mkdir()
    for path in originals[:5]:
        with fits.open(path) as hdul:
            hdul[0].data = np.rot90(hdul[0].data).copy()
            hdul.writeto(copies / f"rotated_{path.name}")
    table = embed_run(
        run, [str(images), str(copies)], tmp_path / "rot.parquet", options=EmbedOptions(workers=1)
    ).table
    x = table.embeddings / np.linalg.norm(table.embeddings, axis=1, keepdims=True)
    similarity = x @ x.T
    np.fill_diagonal(similarity, -np.inf)
    for path in originals[:5]:
        rotated = table.find(f"rotated_{path.stem}")
        nearest = int(np.argmax(similarity[rotated]))
        assert table.ids[nearest] == path.stem
        assert similarity[rotated, nearest] > 0.999


def test_embedding_does_not_depend_on_batch_company(tmp_path):
    """Native-mode models see each object at full resolution, batched by size bucket."""
    torch.manual_seed(0)
    byol = BYOL(build_backbone("amm", 1), 1, projection_size=16, projection_hidden_size=32)
    info = ModelCard(
        backbone="amm",
        in_channels=1,
        representation_size=byol.representation_size,
        projection_size=16,
        projection_hidden_size=32,
        preprocess={"steps": []},
        data={"hdu": None, "min_side": 16},
        views={"view_size": 32, "view_mode": "native", "bank_size": 48},
        training={"objects": 0, "epochs": 0, "steps": 0},
        whitening=False,
    )
    rng = np.random.default_rng(0)
    arrays = [
        rng.normal(size=(1, h, w)).astype(np.float32) for h, w in ((30, 30), (90, 60), (41, 41))
    ]
    together = Embedder(byol, info, tta=False, batch_size=8).transform(arrays)
    alone = np.concatenate([Embedder(byol, info, tta=False).transform([a]) for a in arrays])
    assert np.allclose(together, alone, atol=1e-5)
    assert size_bucket(10) == size_bucket(16) == 16
    for side in range(17, 600):  # the nearest rung is never more than half a step away
        assert abs(size_bucket(side) / side - 1) < 0.07
    assert len({size_bucket(side) for side in range(16, 600)}) < 40
    with pytest.raises(ValueError, match="channel"):
        Embedder(byol, info).transform([np.zeros((2, 32, 32), np.float32)])


def test_dihedral_views_are_the_eight_symmetries():
    image = torch.arange(16.0).view(1, 1, 4, 4)
    views = dihedral(image)
    assert len(views) == 8
    assert len({tuple(v.flatten().tolist()) for v in views}) == 8


def test_cli_embed_reports_problems_in_one_line(trained, tmp_path, capsys):
    run, images = trained
    out = tmp_path / "cli.parquet"
    broken = tmp_path / "broken.fits"
    broken.write_bytes(b"SIMPLE  = T" + b" " * 100)
    with pytest.warns(UserWarning, match="broken.fits"):
        code = main(["embed", str(run), str(images), str(broken), "-o", str(out), "--no-progress"])
    assert code == 0 and "embedded 30 objects" in capsys.readouterr().out
    assert (tmp_path / "embed_skipped.csv").exists()
    before = out.read_bytes()
    # a folder that is not a run: one line, exit 2, and the existing table is untouched
    assert main(["embed", str(tmp_path), str(images), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.json" in err[0]
    assert main(["embed", str(run), str(images), "-o", str(tmp_path / "table.csv")]) == 2
    assert ".parquet" in capsys.readouterr().err
    assert out.read_bytes() == before


def _three_copies(images, folder):
    """90 files: enough for the worker processes to take over."""
    import shutil

    folder.mkdir()
    for copy in range(3):
        for path in sorted(images.glob("*.fits")):
            shutil.copy(path, folder / f"{copy}_{path.name}")
    return folder


def test_embedding_in_worker_processes_matches_one_process(trained, tmp_path):
    """Past 64 files the CPU path reads, preprocesses and embeds in forked workers: the
    table (rows, order, ids, vectors) and the skipped files are those of one process."""

    from morphospace.errors import InputError

    run, images = trained
    folder = _three_copies(images, tmp_path / "many")
    (folder / "1_zz_broken.fits").write_bytes(b"SIMPLE  = T" + b" " * 100)
    (folder / "2_zz_empty.fits").write_bytes(b"")
    embedder = Embedder.from_run(run, tta=True)
    one, problems_one = embedder.embed(folder, workers=1)
    many, problems_many = embedder.embed(
        folder, workers=2, report=tmp_path / "skipped.csv", cache_dir=tmp_path / "cache"
    )
    assert len(one.rows) == 90 and one.rows["id"].tolist() == many.rows["id"].tolist()
    assert one.rows["path"].tolist() == many.rows["path"].tolist()
    assert np.allclose(one.embeddings, many.embeddings, atol=1e-5)
    assert problems_one == problems_many and len(problems_many) == 2
    assert "zz_broken" in (tmp_path / "skipped.csv").read_text()
    cached, _ = embedder.embed(folder, workers=2, cache_dir=tmp_path / "cache")  # cache hits
    assert np.allclose(cached.embeddings, many.embeddings, atol=1e-5)
    with pytest.raises(InputError, match="zz_broken"):  # the worker's error, whole, in order
        embedder.embed(folder, workers=2, on_error="fail")


def test_a_worker_that_dies_is_one_clear_error(trained, tmp_path, monkeypatch):
    import os

    from morphospace.errors import MorphospaceError

    run, images = trained
    folder = _three_copies(images, tmp_path / "many")
    embedder = Embedder.from_run(run, tta=False)
    read = Embedder._read

    def dies_on_the_last_chunk(self, paths, **options):
        if any(p.name.startswith("2_") for p in paths):
            os._exit(9)  # as a worker killed for memory would
        return read(self, paths, **options)

    monkeypatch.setattr(Embedder, "_read", dies_on_the_last_chunk)
    with pytest.raises(MorphospaceError, match="worker process stopped abruptly") as caught:
        embedder.embed(folder, workers=2)
    assert "\n" not in str(caught.value)


def test_an_existing_table_is_never_replaced_silently(trained, tmp_path, capsys):
    run, images = trained
    out = tmp_path / "table.parquet"
    assert main(["embed", str(run), str(images), "-o", str(out), "--no-progress"]) == 0
    before = out.read_bytes()
    assert main(["embed", str(run), str(images), "-o", str(out), "--no-progress"]) == 2
    assert "already holds an embedding table" in capsys.readouterr().err
    assert out.read_bytes() == before
    some = sorted(images.glob("*.fits"))[:5]
    argv = ["embed", str(run), *map(str, some), "-o", str(out), "--overwrite", "--no-progress"]
    assert main(argv) == 0 and len(EmbeddingTable.read(out)) == 5


@pytest.mark.parametrize("method", ["pca", "tsne", "umap"])
def test_append_places_new_objects_on_the_map_and_keeps_old_rows_exactly(
    trained, tmp_path, method, capsys
):
    import shutil

    import pyarrow.parquet as pq

    from morphospace.report import ReportOptions, build_report

    run, images = trained
    files = sorted(images.glob("*.fits"))
    first, later = tmp_path / "first", tmp_path / "later"
    first.mkdir(), later.mkdir()
    for path in files[:20]:
        shutil.copy(path, first / path.name)
    for path in files[20:]:
        shutil.copy(path, later / path.name)
    shutil.copy(files[0], later / "twin_of_the_first.fits")  # the same image, a new name
    shutil.copy(files[1], later / files[1].name)  # a new object under an id already used
    out = tmp_path / "table.parquet"
    embed_run(run, [str(first)], out, options=EmbedOptions(workers=1))
    build_report(out, tmp_path / "report", ReportOptions(map=method, clusters=3))
    old = pq.read_table(out)
    argv = ["embed", str(run), str(later), "-o", str(out), "--append", "--no-progress"]
    assert main(argv) == 0
    assert "added 12 objects" in capsys.readouterr().out
    grown = pq.read_table(out)
    assert grown.slice(0, 20).equals(old)  # the old rows, untouched
    rows = EmbeddingTable.read(out).rows
    assert len(rows) == 32 and rows["id"].is_unique and f"{files[1].stem}_2" in set(rows["id"])
    new = rows.iloc[20:]
    assert np.isfinite(new[["x", "y"]].to_numpy(float)).all()
    assert set(new["cluster"]) <= set(rows["cluster"][:20])
    twin = rows.index[rows["id"] == "twin_of_the_first"][0]
    assert rows["cluster"][twin] == rows["cluster"][0]  # the same image: the same cluster
    old_xy = rows[["x", "y"]][:20].to_numpy(float)
    away = np.hypot(*(old_xy - rows[["x", "y"]].to_numpy(float)[twin]).T)
    assert (away < away[0]).sum() <= 4  # placed among the old objects nearest its twin
    assert main(argv) == 2  # nothing new left to add
    assert "already holds every one of these objects" in capsys.readouterr().err

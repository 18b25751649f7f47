"""Embedding on a real Dask ``LocalCluster`` of two worker processes, and what it gives."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from morphospace.embed import EmbeddingTable  # noqa: E402
from morphospace.embed.options import EmbedOptions  # noqa: E402
from morphospace.errors import InputError  # noqa: E402
from morphospace.pipeline import embed_run  # noqa: E402


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """The address of two worker processes of one thread, started as ``--cluster local:2``
    starts them (and this process's environment left as it was)."""
    from morphospace.cluster import connect

    with connect("local:2") as client:
        yield client.scheduler.address


@pytest.fixture
def many(trained, tmp_path) -> Path:
    """60 objects: the 30 training files, and each again in a folder of its own (same
    names, so the ids must be made unique across shards)."""
    _, images = trained
    folder = tmp_path / "many"
    for sub in ("a", "b"):
        (folder / sub).mkdir(parents=True)
        for path in sorted(images.glob("*.fits")):
            shutil.copy(path, folder / sub / path.name)
    return folder


def test_a_cluster_embeds_the_same_vectors_in_the_same_order_as_one_process(
    trained, many, cluster, tmp_path
):
    run, _ = trained
    here = embed_run(run, [str(many)], tmp_path / "here.parquet",
                     options=EmbedOptions(shard_rows=7, workers=1))  # fmt: skip
    there = embed_run(
        run, [str(many)], tmp_path / "there.parquet",
        options=EmbedOptions(cluster=cluster, partition_rows=7),
    )  # fmt: skip
    assert len(list((tmp_path / "there.parquet").glob("part-*.parquet"))) == 9  # 60 / 7
    assert there.table.ids == here.table.ids and len(set(there.table.ids)) == 60
    assert there.table.rows["path"].tolist() == here.table.rows["path"].tolist()
    assert np.allclose(there.table.embeddings, here.table.embeddings, atol=1e-5)
    whole = embed_run(run, [str(many)], tmp_path / "one.parquet", options=EmbedOptions(workers=1))
    assert np.allclose(there.table.embeddings, whole.table.embeddings, atol=1e-5)


def test_a_worker_killed_mid_run_leaves_every_object_in_the_table_exactly_once(
    trained, many, cluster, tmp_path
):
    run, _ = trained
    out = tmp_path / "embeddings.parquet"
    done: dict[str, object] = {}

    def embed() -> None:
        try:
            options = EmbedOptions(cluster=cluster, partition_rows=3)
            done["result"] = embed_run(run, [str(many)], out, options=options)
        except BaseException as exc:  # handed to the test's own thread
            done["error"] = exc

    worker = threading.Thread(target=embed)
    with distributed.Client(cluster) as client:
        client.wait_for_workers(2)
        worker.start()
        killed = None
        deadline = time.monotonic() + 120
        while killed is None and time.monotonic() < deadline and worker.is_alive():
            busy = [addr for addr, tasks in client.processing().items() if tasks]
            if busy and any(out.glob("part-*.parquet")):  # under way: some shards written
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed = pid
        worker.join(180)
        assert killed is not None, "the embedding ended before a worker could be killed"
        assert killed not in client.run(os.getpid).values()  # that process is gone
    assert "error" not in done, done.get("error")
    table = EmbeddingTable.read(out)
    assert len(table) == 60 and table.rows["path"].is_unique and table.rows["id"].is_unique
    assert sorted(table.rows["path"]) == sorted(str(p) for p in many.rglob("*.fits"))
    assert len(list(out.glob("part-*.parquet"))) == 20 and not list(out.glob(".*.tmp"))


def test_a_bad_file_on_a_worker_gives_the_one_line_message_of_one_process(
    trained, many, cluster, tmp_path
):
    run, _ = trained
    (many / "a" / "broken.fits").write_bytes(b"not a FITS file at all")
    messages = []
    for name, options in (
        ("here", EmbedOptions(shard_rows=7, workers=1, on_error="fail")),
        ("there", EmbedOptions(cluster=cluster, partition_rows=7,
                               on_error="fail")),
    ):  # fmt: skip
        with pytest.raises(InputError) as raised:
            embed_run(run, [str(many)], tmp_path / f"{name}.parquet", options=options)
        messages.append(str(raised.value))
    assert messages[0] == messages[1] and "broken.fits" in messages[0]
    assert "\n" not in messages[0]
    # skipped instead: the same file listed, every other object embedded
    skipped = []
    for name, options in (
        ("here2", EmbedOptions(shard_rows=7, workers=1)),
        ("there2", EmbedOptions(cluster=cluster, partition_rows=7)),
    ):
        result = embed_run(run, [str(many)], tmp_path / name / "embeddings.parquet",
                           options=options)  # fmt: skip
        assert len(result.table) == 60
        skipped.append([str(problem) for problem in result.problems])
        assert (tmp_path / name / "embed_skipped.csv").exists()
    assert skipped[0] == skipped[1] and len(skipped[0]) == 1 and "broken.fits" in skipped[0][0]


def test_a_worker_given_other_weights_refuses_them_in_one_line(trained, cluster, tmp_path):
    from morphospace.embed.shards import Shard, _embed_shard_on_worker

    run, images = trained
    shard = Shard(0, sorted(images.glob("*.fits"))[:2], {})
    with distributed.Client(cluster) as client:
        future = client.submit(
            _embed_shard_on_worker, shard, str(run), "0" * 64, tmp_path / "t.parquet",
            EmbedOptions(), None, pure=False,
        )  # fmt: skip
        with pytest.raises(InputError, match="is not the model the embedding began with"):
            future.result()
    assert not (tmp_path / "t.parquet").exists()


def test_a_cluster_that_is_not_there_or_misnamed_is_said_in_one_line(
    trained, tmp_path, monkeypatch
):
    from morphospace import cluster as cluster_module

    run, images = trained
    with pytest.raises(InputError, match="give local:N"):
        EmbedOptions(cluster="slurm")
    monkeypatch.setattr(cluster_module, "CONNECT_TIMEOUT", 1)  # a setting, not a stand-in
    with pytest.raises(InputError, match="no Dask scheduler answers there"):
        embed_run(run, [str(images)], tmp_path / "e.parquet",
                  options=EmbedOptions(cluster="tcp://127.0.0.1:9"))  # fmt: skip
    assert not list((tmp_path / "e.parquet").glob("part-*"))


def test_embed_on_the_command_line_with_a_local_cluster(trained, tmp_path):
    import os

    before = dict(os.environ)
    from morphospace.cli import main

    run, images = trained
    out = tmp_path / "embeddings.parquet"
    argv = ["embed", str(run), str(images), "-o", str(out), "--cluster", "local:2",
            "--partition-rows", "10", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    table = EmbeddingTable.read(out)
    assert len(table) == 30 and len(list(out.glob("part-*.parquet"))) == 3
    assert dict(os.environ) == before  # no OMP_NUM_THREADS=1 left for what runs next


def test_cutouts_cut_on_a_cluster_are_the_files_and_index_of_one_process(cluster, tmp_path):
    from astropy.io import fits
    from astropy.table import Table

    from conftest import celestial_header
    from morphospace.io import cutouts_from_catalog

    rng = np.random.default_rng(5)
    field = tmp_path / "field.fits"
    fits.PrimaryHDU(rng.normal(size=(200, 300)).astype(np.float32),
                    celestial_header((200, 300), pixel_deg=2 / 3600)).writeto(field)  # fmt: skip
    x, y = rng.uniform(0, 299, 40), rng.uniform(0, 199, 40)
    x[0], y[0] = 1.0, 198.0  # at the corner: padded
    names = [f"c{i % 37}" for i in range(40)]  # three names twice: files made unique
    catalogue = tmp_path / "clumps.csv"
    Table({"name": names, "x": x, "y": y}).write(catalogue)
    here = cutouts_from_catalog(field, catalogue, tmp_path / "here", size="20px")
    there = cutouts_from_catalog(field, catalogue, tmp_path / "there", size="20px",
                                 cluster=cluster)  # fmt: skip
    assert there.records == here.records and len(there.written) == 40
    assert (tmp_path / "there" / "cutouts.csv").read_text() == here.index_path.read_text()
    for record in here.records:
        with fits.open(tmp_path / "here" / record.file) as a, \
             fits.open(tmp_path / "there" / record.file) as b:  # fmt: skip
            assert np.array_equal(a[0].data, b[0].data, equal_nan=True)
            assert a[0].header["CRPIX1"] == b[0].header["CRPIX1"]


def test_the_objects_outside_the_fit_sample_are_placed_on_a_cluster_as_here(cluster):
    from morphospace.explore import RunTable

    rng = np.random.default_rng(9)
    centres = rng.normal(size=(4, 16))
    vectors = (centres[rng.integers(0, 4, 400)] + 0.3 * rng.normal(size=(400, 16))).astype("f4")
    rows = pd.DataFrame(
        {"id": [f"o{i}" for i in range(400)], "path": [f"o{i}" for i in range(400)]}
    )
    table = RunTable(EmbeddingTable(rows, vectors, {}))
    here, _, _ = table.explore("umap", k=4, sample=120)
    there, _, _ = table.explore("umap", k=4, sample=120, cluster=cluster)
    for name in ("x", "y", "cluster", "cluster_hdbscan", "cluster_agglomerative", "anomaly"):
        assert np.allclose(there.column(name), here.column(name)), name
    assert here.info["fit_sample"] == 120 and there.info["fit_sample"] == 120


def test_run_embeds_on_the_cluster_it_is_given(trained, tmp_path, cluster):
    from morphospace.cli import main

    _, images = trained
    run = tmp_path / "run"
    argv = ["run", str(images), "-o", str(run), "--cluster", cluster,
            "--map", "pca", "-k", "2", "--no-progress", "--set", "model.backbone=amm",
            "--set", "model.projection_size=32", "--set", "model.projection_hidden_size=64",
            "--set", "augment.view_size=32", "--set", "train.epochs=1",
            "--set", "train.batch_size=16"]  # fmt: skip
    assert main(argv) == 0
    table = EmbeddingTable.read(run / "embeddings.parquet")
    assert (run / "embeddings.parquet" / "_morphospace.json").exists()  # written by workers
    assert len(table) == 30 and "cluster" in table.rows and (run / "report/index.html").exists()

"""The notebook interface: open_run gives the commands' results as Python objects."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

import morphospace
from morphospace.cli import main
from morphospace.embed import EmbeddingTable, EmbedOptions
from morphospace.errors import InputError
from morphospace.pipeline import embed_run
from morphospace.report import ReportOptions, build_report

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def reported(trained, tmp_path_factory):
    """A reported table in runs/disks, the model in the trained run, one new file."""
    run, images = trained
    root = tmp_path_factory.mktemp("api")
    files = sorted(images.glob("*.fits"))
    (root / "data").mkdir()
    shutil.copy(files[-1], root / "data" / "new_disk.fits")
    table = root / "runs" / "disks" / "embeddings.parquet"
    embed_run(run, [str(f) for f in files[:-1]], table, options=EmbedOptions(workers=1))
    build_report(table, table.parent / "report", ReportOptions(map="pca", clusters=3))
    return root, run, files


def test_the_worked_example_in_docs_runs(reported, monkeypatch):
    root, _, _ = reported
    (code,) = re.findall(r"```python\n(.*?)```", (DOCS / "api.md").read_text(), re.S)
    monkeypatch.chdir(root)
    namespace: dict = {}
    exec(compile(code, "docs/api.md", "exec"), namespace)
    assert len(namespace["near"]) == 5 and namespace["thumbs"].shape == (5, 64, 64)
    assert isinstance(namespace["figure"], Figure)
    assert namespace["new"].embeddings.shape == (1, namespace["run"].embeddings.shape[1])
    for name in ("map.png", "odd.png", "thumbnail_map.png"):
        assert (root / name).stat().st_size > 5_000


def test_run_embed_gives_the_vectors_of_the_embed_command(reported, tmp_path):
    _, run, files = reported
    out = tmp_path / "cli.parquet"
    assert main(["embed", str(run), *map(str, files[:4]), "-o", str(out), "--no-progress"]) == 0
    by_command = EmbeddingTable.read(out).embeddings
    in_python = morphospace.open_run(run).embed(files[:4]).embeddings
    np.testing.assert_allclose(in_python, by_command, rtol=0, atol=1e-5)


def test_similar_and_anomalies_agree_with_the_table(reported):
    root, _, _ = reported
    run = morphospace.open_run(root / "runs" / "disks")
    near = run.similar(0, k=4)
    unit = run.embeddings / np.linalg.norm(run.embeddings, axis=1, keepdims=True)
    expected = np.sort(unit[1:] @ unit[0])[::-1][:4]
    np.testing.assert_allclose(near["similarity"].to_numpy(), expected, atol=1e-5)
    odd = run.anomalies(3)
    assert (
        odd["anomaly"].is_monotonic_decreasing
        and odd["anomaly"].iloc[0] == run.table["anomaly"].max()
    )
    assert run.to_astropy()["ra"].unit == "deg"
    with pytest.raises(InputError, match="no object"):
        run.similar("nobody", k=2)
    with pytest.raises(InputError, match="no such column"):
        run.map_figure("klass")

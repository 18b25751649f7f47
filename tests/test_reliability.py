"""Nothing lost and nothing left behind: failed starts, folders in use, repeated commands."""

from __future__ import annotations

import numpy as np
from astropy.io import fits
from astropy.table import Table

from conftest import celestial_header
from morphospace.cli import main


def test_a_failed_start_writes_nothing_into_the_run_folder(trained, tmp_path, capsys):
    _, images = trained
    out = tmp_path / "run"
    settings = tmp_path / "bad.toml"
    settings.write_text("[train]\nepochs = 'many'\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    for argv in (
        ["train", str(images), "-o", str(out), "--backbone", "foo"],
        ["train", str(images), "-o", str(out), "-c", str(settings)],
        ["train", str(empty), "-o", str(out)],
        ["run", str(images), "-o", str(out), "--backbone", "resnet18:layer9"],
    ):
        assert main(argv) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
        assert not out.exists()


def test_a_failed_start_in_an_existing_run_leaves_it_as_it_was(trained, tmp_path):
    _, images = trained
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["train", str(images), "-o", str(out), "--backbone", "foo"]) == 2
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_cutouts_never_mix_with_files_already_in_the_folder(tmp_path, capsys):
    data = np.random.default_rng(0).normal(size=(120, 120)).astype(np.float32)
    map_path = tmp_path / "map.fits"
    fits.PrimaryHDU(data, celestial_header(data.shape)).writeto(map_path)
    catalogue = tmp_path / "sources.csv"
    Table({"name": [f"s{i}" for i in range(4)], "x": [30, 60, 90, 60], "y": [60] * 3 + [30]}).write(
        catalogue
    )
    out = tmp_path / "cutouts"
    argv = ["cutouts", str(map_path), "--catalog", str(catalogue), "--size", "20", "-o", str(out)]
    assert main(argv) == 0
    Table({"name": ["t0", "t1"], "x": [40, 80], "y": [40, 80]}).write(catalogue, overwrite=True)
    before = sorted(p.name for p in out.iterdir())
    assert main(argv) == 2
    assert "already holds 5 files" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == before
    assert main([*argv, "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["cutouts.csv", "t0.fits", "t1.fits"]


class _RunsCode:
    """A pickle that would run a command when loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def _copy_of(run, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("embeddings*", "report", "thumbs"))
    return copy


def test_a_checkpoint_crafted_to_run_code_is_refused_unrun(trained, tmp_path, capsys):
    import torch

    run, _ = trained
    copy = _copy_of(run, tmp_path)
    marker = tmp_path / "code_ran"
    torch.save({"model": _RunsCode(marker)}, copy / "checkpoints" / "last.pt")
    assert main(["train", "-o", str(copy), "--resume", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "last.pt: cannot read checkpoint" in err and len(err.strip().splitlines()) == 1
    assert not marker.exists()


def test_weights_that_do_not_match_model_json_are_one_line(trained, tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    run, images = trained
    copy = _copy_of(run, tmp_path)
    state = load_file(copy / "model.safetensors")
    for name in (next(k for k in state if k.endswith("weight") and state[k].ndim == 4),
                 "whitening.matrix"):  # fmt: skip
        changed = dict(state)
        changed[name] = changed[name][..., :-1].contiguous()  # one column short
        save_file(changed, copy / "model.safetensors")
        assert main(["embed", str(copy), str(images), "-o", str(tmp_path / "e.parquet")]) == 2
        err = capsys.readouterr().err
        assert "model.safetensors" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "e.parquet").exists()


def _weights(run):
    from morphospace.train.checkpoint import load_checkpoint

    return load_checkpoint(run / "checkpoints" / "last.pt")["model"]


def test_kill_9_at_a_random_step_then_resume_gives_the_uninterrupted_weights(tmp_path):
    import os
    import random
    import signal
    import subprocess
    import sys
    import time

    import pytest
    import torch

    from conftest import tiny
    from morphospace.synth import synthesize
    from morphospace.train import Trainer

    synthesize(tmp_path / "data", 40, seed=5, workers=1)
    images = tmp_path / "data" / "images"
    settings = tiny([images], epochs=30, batch_size=8)
    Trainer(settings, tmp_path / "straight", progress=False).fit()
    killed = tmp_path / "killed"
    config = tmp_path / "settings.toml"
    config.write_text(settings.to_toml())
    command = [sys.executable, "-m", "morphospace", "train", "-c", str(config), "-o", str(killed),
               "--no-progress"]  # fmt: skip
    process = subprocess.Popen(command, env={**os.environ, "CI": "true"})
    stop_at = random.Random().randint(8, 100)  # of 120 steps: after the first checkpoint
    steps = killed / "logs" / "steps.csv"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if steps.exists() and len(steps.read_text().splitlines()) > stop_at:
            break
        time.sleep(0.02)
    # a second training into the folder in use is refused, not mixed in
    second = ["train", "-c", str(config), "-o", str(killed), "--overwrite", "--no-progress"]
    assert main(second) == 2
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "training ended before it could be killed"
    assert (killed / "checkpoints" / "last.pt").exists()
    # a kill inside the checkpoint write leaves its temporary file, never a torn last.pt
    (killed / "checkpoints" / ".last.pt.interrupted.tmp").write_bytes(b"\x80\x02half a pickle")
    with pytest.warns(UserWarning, match="took over the lock"):  # the killed one's
        assert main(["train", "-o", str(killed), "--resume", "--no-progress"]) == 0
    a, b = _weights(tmp_path / "straight"), _weights(killed)
    assert all(torch.equal(a[k], b[k]) for k in a), f"differs after a kill at step {stop_at}"


def test_a_second_process_into_a_folder_in_use_gets_a_clear_error(trained, tmp_path, capsys):
    import json
    import socket
    import subprocess
    import sys

    import pytest

    run, images = trained
    copy = _copy_of(run, tmp_path)
    lock = copy / ".morphospace.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owner = {"pid": holder.pid, "host": socket.gethostname(), "command": "train",
                 "since": "2026-12-01 10:00:00"}  # fmt: skip
        lock.write_text(json.dumps(owner))
        before = sorted(p.name for p in copy.rglob("*"))
        out = copy / "embeddings.parquet"
        for argv in (
            ["train", str(images), "-o", str(copy), "--overwrite", "--no-progress"],
            ["embed", str(copy), str(images), "-o", str(out), "--no-progress"],
        ):
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert f"is in use by process {holder.pid} (train" in err
        assert sorted(p.name for p in copy.rglob("*")) == before  # nothing touched
    finally:
        holder.kill()
        holder.wait()
    # the holder is gone: its lock is stale, taken over, and released at the end
    with pytest.warns(UserWarning, match="took over the lock of a process that is gone"):
        argv = ["embed", str(copy), str(images), "-o", str(copy / "embeddings.parquet")]
        assert main([*argv, "--no-progress"]) == 0
    assert not lock.exists() and (copy / "embeddings.parquet").exists()


def test_a_full_disk_is_one_line_naming_the_file_and_the_old_table_stays(
    trained, tmp_path, capsys, monkeypatch
):
    import errno

    import pyarrow.parquet as pq

    run, images = trained
    out = tmp_path / "table.parquet"
    assert main(["embed", str(run), str(images), "-o", str(out), "--no-progress"]) == 0
    before = out.read_bytes()

    def disk_full(table, where, **options):
        with open(where, "wb") as handle:
            handle.write(b"PAR1 and then")  # part of a file, as a full disk leaves it
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq, "write_table", disk_full)  # a disk cannot be filled here
    argv = ["embed", str(run), str(images), "-o", str(out), "--overwrite", "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"morphospace: error: {out}: No space left on device"]
    assert out.read_bytes() == before and not list(tmp_path.glob(".table.parquet.*"))


def test_the_same_seed_on_the_cpu_gives_identical_embeddings(tmp_path):
    from conftest import tiny
    from morphospace.embed import EmbedOptions
    from morphospace.pipeline import embed_run
    from morphospace.synth import synthesize
    from morphospace.train import Trainer

    synthesize(tmp_path / "data", 24, seed=9, workers=1)
    images = tmp_path / "data" / "images"
    tables = []
    for name in ("first", "second"):
        Trainer(tiny([images], epochs=2, seed=4), tmp_path / name, progress=False).fit()
        tables.append(embed_run(tmp_path / name, None, options=EmbedOptions(workers=1)).table)
    assert np.array_equal(tables[0].embeddings, tables[1].embeddings)
    assert tables[0].ids == tables[1].ids


def test_kill_9_during_embed_or_report_leaves_the_earlier_table_whole(trained, tmp_path):
    import os
    import random
    import shutil
    import signal
    import subprocess
    import sys
    import time

    import pytest

    from morphospace.embed import EmbeddingTable

    run, images = trained
    copy = _copy_of(run, tmp_path)
    table = copy / "embeddings.parquet"
    many = tmp_path / "many"  # enough objects that embedding them takes seconds
    for n in range(10):
        shutil.copytree(images, many / f"copy{n}")
    assert main(["embed", str(copy), str(images), "-o", str(table), "--no-progress"]) == 0
    commands = {
        "embed": ["embed", str(copy), str(many), "-o", str(table), "--overwrite"],
        "report": ["report", str(table), "--map", "umap"],
    }
    for name, arguments in commands.items():
        good = table.read_bytes()
        argv = [sys.executable, "-m", "morphospace", *arguments, "--no-progress"]
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lock = copy / ".morphospace.lock"
        deadline = time.monotonic() + 60
        while not lock.exists() and time.monotonic() < deadline:  # the work has begun
            time.sleep(0.005)
        time.sleep(random.Random().uniform(0.0, 0.2))
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL, f"{name} ended before it could be killed"
        after = table.read_bytes()
        assert after == good or len(EmbeddingTable.read(table)) == 300, name  # old, or all new
        with pytest.warns(UserWarning, match="took over the lock"):
            assert main([*arguments, "--no-progress"]) == 0, name  # and a rerun completes
        assert len(EmbeddingTable.read(table)) == 300


def test_kill_9_during_embed_takes_its_worker_processes_with_it(trained, tmp_path):
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    run, images = trained
    many = tmp_path / "many"  # enough objects that the embed step forks workers
    for n in range(10):
        shutil.copytree(images, many / f"copy{n}")
    out, said = tmp_path / "e.parquet", tmp_path / "stderr.txt"
    argv = [sys.executable, "-m", "morphospace", "embed", str(run), str(many), "-o", str(out),
            "--workers", "2", "--no-progress"]  # fmt: skip
    with said.open("w") as stderr:
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr)

    def children() -> set[int]:
        found: set[int] = set()
        for task in Path(f"/proc/{process.pid}/task").glob("*"):
            found |= {int(pid) for pid in (task / "children").read_text().split()}
        return found

    def alive(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        return state not in ("Z", "X")

    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while len(workers) < 2 and process.poll() is None and time.monotonic() < deadline:
        try:
            workers = children()
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.01)
    assert len(workers) >= 2, f"embed ended before it forked its workers: {said.read_text()}"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in workers if alive(pid)]
    for pid in left:  # never leave them running, even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left


def test_kill_9_during_a_sharded_embed_then_again_gives_every_object_once(trained, tmp_path):
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import time

    import pytest

    from morphospace.embed import EmbeddingTable
    from morphospace.embed.options import EmbedOptions
    from morphospace.errors import InputError
    from morphospace.pipeline import embed_run

    run, images = trained
    files = sorted(images.glob("*.fits"))
    many = tmp_path / "many"
    many.mkdir()
    for i in range(240):  # 240 objects from the 30 files, 30 a shard: 8 shards
        shutil.copy(files[i % len(files)], many / f"obj{i:03d}.fits")
    out = tmp_path / "embeddings.parquet"
    code = (
        "from morphospace.pipeline import embed_run\n"
        "from morphospace.embed.options import EmbedOptions\n"
        f"embed_run({str(run)!r}, [{str(many)!r}], {str(out)!r},"
        " options=EmbedOptions(shard_rows=30, batch_size=2, workers=1))"
    )
    job = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 120
    while not (out / "part-00001.parquet").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    assert (out / "part-00001.parquet").exists() and not (out / "_morphospace.json").exists()
    with pytest.raises(InputError, match="an embedding still under way"):
        EmbeddingTable.read(out)
    kept = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    with pytest.warns(UserWarning, match="took over the lock of a process that is gone"):
        embed_run(run, [str(many)], out, options=EmbedOptions(shard_rows=30, workers=1))
    table = EmbeddingTable.read(out)
    assert len(table) == 240 and table.rows["path"].is_unique and table.rows["id"].is_unique
    assert sorted(table.rows["path"]) == sorted(str(p) for p in many.glob("*.fits"))
    for name, mtime in kept.items():  # the shards done before the kill were not done again
        assert (out / name).stat().st_mtime_ns == mtime
    single = embed_run(run, [str(many)], tmp_path / "one.parquet", options=EmbedOptions(workers=1))
    assert np.allclose(table.embeddings, single.table.embeddings, atol=1e-5)
    # the front ends read the sharded table; report writes its columns back into it
    from morphospace.runs import open_run

    assert main(["report", str(out), "--map", "pca", "-k", "2", "--no-progress"]) == 0
    assert (out / "_morphospace.json").exists() and len(open_run(out).similar(0, k=3)) == 3
    assert "cluster" in EmbeddingTable.read(out).rows

"""Training on the CPU with tiny data: loss, files, resume, poisoning, CLI, astromorph, DDP."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from astropy.io import fits

from conftest import celestial_header, tiny
from morphospace.cli import main
from morphospace.dataset import ObjectBank
from morphospace.models import build_backbone, load_model
from morphospace.synth import synthesize
from morphospace.train import Trainer
from morphospace.train.checkpoint import load_checkpoint
from test_config import ASTROMORPH_SETTINGS


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train_data")
    synthesize(root, 48, seed=3, workers=1)
    return root / "images"


def test_loss_falls_and_run_files_round_trip(tmp_path, images):
    run = tmp_path / "run"
    result = Trainer(tiny([images], epochs=8), run, progress=False).fit()
    losses = [record["train_loss"] for record in result.history]
    assert losses[-1] < 0.8 * losses[0], losses
    assert result.finished and result.skipped_steps == 0
    for name in (
        "model.safetensors",
        "model.json",
        "config.toml",
        "checkpoints/last.pt",
        "logs/steps.csv",
        "logs/epochs.csv",
    ):
        assert (run / name).exists(), name
    assert any(p.name.startswith("events.out.tfevents") for p in (run / "logs").iterdir())
    info = json.loads((run / "model.json").read_text())
    assert (
        info["backbone"] == "amm"
        and info["in_channels"] == 1
        and info["representation_size"] == 128
    )
    assert info["preprocess"] == tiny([images]).preprocess.to_dict()
    assert {"torch", "morphospace", "numpy"} <= set(info["versions"])
    # The shareable model and the resumable state hold the same online weights.
    byol, _ = load_model(run)
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    for name, tensor in byol.online_encoder.state_dict().items():
        torch.testing.assert_close(tensor, state["model"][f"online_encoder.{name}"], rtol=0, atol=0)
    assert byol.embed(torch.randn(2, 1, 40, 50)).shape == (2, 128)
    # The embedding whitening was fitted on the training objects and saved with the model.
    assert not torch.equal(byol.whitening.matrix, torch.eye(128))
    torch.load(run / "checkpoints" / "last.pt", weights_only=True)  # no pickled objects inside


def test_interrupted_run_resumes_to_identical_weights(tmp_path, images):
    # DataLoader workers (here in the uninterrupted run only) must not change the result.
    straight = Trainer(tiny([images], workers=1), tmp_path / "straight", progress=False).fit()
    first = Trainer(tiny([images]), tmp_path / "resumed", progress=False, stop_after=2).fit()
    assert not first.finished and first.epochs == 2
    assert not (tmp_path / "resumed" / "model.safetensors").exists()
    second = Trainer(tiny([images]), tmp_path / "resumed", progress=False, resume=True).fit()
    assert second.finished and second.steps == straight.steps
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")["model"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def _bank_with(extra: np.ndarray | None = None) -> ObjectBank:
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(1, 40, 40)).astype(np.float32) for _ in range(23)]
    names = [f"obj{i}.fits" for i in range(23)]
    if extra is not None:
        arrays, names = [*arrays, extra], [*names, "odd.fits"]
    return ObjectBank(arrays, names, 48)


def _all_finite(run: Path) -> bool:
    byol, _ = load_model(run)
    return all(bool(torch.isfinite(t).all()) for t in byol.state_dict().values())


def test_an_object_full_of_nan_cannot_poison_training(tmp_path):
    bank = _bank_with(np.full((1, 40, 40), np.nan, np.float32))
    settings = tiny(["unused"], epochs=2, batch_size=8, val_fraction=0.0)
    result = Trainer(settings, tmp_path / "run", progress=False).fit(bank=bank)
    assert result.skipped_steps == 0 and np.isfinite(result.train_loss)
    assert _all_finite(tmp_path / "run")


def test_non_finite_steps_are_skipped_and_never_corrupt_the_weights(tmp_path):
    # An absurd learning rate drives BatchNorm statistics and the loss to inf/NaN.
    settings = tiny(["unused"], epochs=3, batch_size=8, val_fraction=0.0, learning_rate=1e12)
    settings.train.warmup_epochs, settings.train.grad_clip = 0.0, 0.0
    with pytest.warns(
        UserWarning, match=r"non-finite loss or gradient, step skipped; batch files: obj"
    ):
        result = Trainer(settings, tmp_path / "run", progress=False).fit(bank=_bank_with())
    assert 1 <= result.skipped_steps < result.steps
    assert _all_finite(tmp_path / "run")


def test_empty_constant_and_almost_empty_cutouts_train_cleanly(tmp_path, images):
    folder = tmp_path / "odd"
    folder.mkdir()
    header = celestial_header((40, 40))
    almost_empty = np.zeros((40, 40), np.float32)
    almost_empty[20, 20] = 1e-3
    for name, data in (
        ("zeros", np.zeros((40, 40))),
        ("constant", np.full((40, 40), 7.0)),
        ("dot", almost_empty),
    ):
        fits.PrimaryHDU(np.asarray(data, np.float32), header).writeto(folder / f"{name}.fits")
    result = Trainer(tiny([images, folder], epochs=2), tmp_path / "run", progress=False).fit()
    assert result.skipped_steps == 0 and np.isfinite(result.train_loss)


def test_cli_train_needs_no_config_and_protects_a_trained_model(tmp_path, images, capsys):
    run = tmp_path / "run"
    args = ["train", str(images), "-o", str(run), "--epochs", "1", "--backbone", "amm"]
    args += ["--view-size", "32", "--set", "train.batch_size=16", "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "trained 1 epochs" in out and (run / "model.safetensors").exists()
    assert main(args) == 2
    assert "already holds a trained model" in capsys.readouterr().err
    assert main(["train", "-o", str(run), "--resume", "--epochs", "2", "--no-progress"]) == 0
    assert "trained 2 epochs" in capsys.readouterr().out
    history = json.loads((run / "model.json").read_text())["training"]["history"]
    assert [record["epoch"] for record in history] == [1, 2]
    assert main(["train", "-o", str(tmp_path / "empty"), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    # The resumed run appended to the epoch log; --overwrite starts a new one.
    assert len((run / "logs" / "epochs.csv").read_text().splitlines()) == 1 + 2
    assert main([*args, "--overwrite"]) == 0
    assert len((run / "logs" / "epochs.csv").read_text().splitlines()) == 1 + 1


def test_astromorph_settings_file_runs_unchanged(tmp_path, images, capsys):
    listing = tmp_path / "files.txt"
    listing.write_text("\n".join(str(p) for p in sorted(images.glob("*.fits"))[:24]))
    settings = ASTROMORPH_SETTINGS.format(datafile=listing).replace('"layer3"', '"layer1"')
    settings = settings.replace("epochs = 3", "epochs = 1")
    path = tmp_path / "astromorph.toml"
    path.write_text(settings)
    with pytest.warns(UserWarning, match="no longer matter") as caught:
        assert main(["train", "-c", str(path), "-o", str(tmp_path / "run"), "--no-progress"]) == 0
    assert sum("no longer matter" in str(w.message) for w in caught) == 1  # warned once
    assert "trained 1 epochs" in capsys.readouterr().out
    info = json.loads((tmp_path / "run" / "model.json").read_text())
    assert info["backbone"] == "resnet18:layer1" and info["in_channels"] == 3


def test_two_process_ddp_ends_with_identical_weights(tmp_path, images):
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "morphospace", "train", str(images), "-o", str(run), "--epochs", "2",
        "--backbone", "amm", "--view-size", "32", "--set", "train.batch_size=16", "--no-progress",
    ]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    digests = dict(re.findall(r"rank (\d)/2 finished, weights sha256=([0-9a-f]{64})", proc.stdout))
    assert set(digests) == {"0", "1"}
    assert digests["0"] == digests["1"]
    assert (run / "model.safetensors").exists()
    assert proc.stdout.count("trained 2 epochs") == 1  # rank 0 reports for both


def test_sync_batchnorm_on_cpu_processes_is_a_clear_error(tmp_path, images):
    settings = tmp_path / "sync.toml"
    settings.write_text("[train]\nsync_batchnorm = true\n")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "morphospace", "train", str(images), "-o", str(tmp_path / "run"), "-c", str(settings),
        "--epochs", "1", "--backbone", "amm", "--view-size", "32", "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode != 0
    # Each process ends with our one-line error (torchrun then adds its own failure report).
    message = "morphospace: error: train.sync_batchnorm: SyncBatchNorm works on GPUs only"
    assert proc.stderr.count(message) == 2


def _backbone_state(run: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    weights = load_file(str(run / "model.safetensors"))
    prefix = "backbone."
    return {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}


def test_init_starts_from_the_earlier_model_and_records_its_lineage(trained, tmp_path):
    from morphospace.models import read_model_card
    from morphospace.train.transfer import early_layers

    earlier, images = trained
    settings = tiny([images], epochs=1).model_copy(deep=True)
    settings.finetune.from_run = str(earlier)
    settings.finetune.freeze = 1
    Trainer(settings, tmp_path / "tuned", progress=False).fit()

    card = read_model_card(tmp_path / "tuned")
    before = read_model_card(earlier)
    assert card.lineage.run == str(earlier) and card.lineage.weights_sha256 == before.weights_sha256
    old, new = _backbone_state(earlier), _backbone_state(tmp_path / "tuned")
    assert old.keys() == new.keys()
    # the first convolution (and its batch norm's weights) stay as loaded; the rest learn on
    backbone = build_backbone(card.backbone, card.in_channels)
    frozen = {id(p) for layer in early_layers(backbone, 1) for p in layer.parameters()}
    names = {id(p): n for n, p in backbone.named_parameters()}
    kept = [names[i] for i in frozen]
    assert kept and all(torch.equal(old[n], new[n]) for n in kept)
    assert any(not torch.equal(old[n], new[n]) for n in old if n not in kept)
    steps = list(csv.DictReader((tmp_path / "tuned" / "logs" / "steps.csv").open()))
    assert max(float(row["lr"]) for row in steps) <= settings.finetune.learning_rate * 1.0001


def test_init_refuses_another_backbone_or_other_channels(trained, tmp_path, capsys):
    earlier, images = trained
    code = main(["train", str(images), "-o", str(tmp_path / "a"), "--init", str(earlier),
                 "--backbone", "astro_cnn", "--epochs", "1", "--no-progress"])  # fmt: skip
    message = capsys.readouterr().err.strip()
    assert code != 0 and "model.json" in message and "backbone = 'amm'" in message
    assert len(message.splitlines()) == 1 and not (tmp_path / "a" / "model.json").exists()

    other = tmp_path / "three-channels"
    shutil.copytree(earlier, other, ignore=shutil.ignore_patterns("cache", "checkpoints"))
    card = json.loads((other / "model.json").read_text())
    card["in_channels"] = 3
    (other / "model.json").write_text(json.dumps(card))
    code = main(["train", str(images), "-o", str(tmp_path / "b"), "--init", str(other),
                 "--epochs", "1", "--no-progress"])  # fmt: skip
    message = capsys.readouterr().err.strip()
    assert code != 0 and "reads 3 channel(s), these objects have 1" in message
    code = main(["train", str(images), "-o", str(tmp_path / "c"), "--init", str(tmp_path)])
    assert code != 0 and "model.json" in capsys.readouterr().err


def test_init_takes_the_earlier_architecture_when_none_is_named(trained, tmp_path):
    earlier, images = trained
    args = ["train", str(images), "-o", str(tmp_path / "tuned"), "--init", str(earlier)]
    assert main([*args, "--epochs", "1", "--view-size", "32", "--no-progress"]) == 0
    written = (tmp_path / "tuned" / "config.toml").read_text()
    assert 'backbone = "amm"' in written and f'from_run = "{earlier}"' in written


def test_a_bank_too_large_for_memory_is_kept_on_disk_and_resumes_to_identical_weights(
    tmp_path, images
):
    on_disk = {"bank_memory_gib": 0.0}  # any bank is too large: kept on disk, memory-mapped
    straight = Trainer(tiny([images], **on_disk), tmp_path / "straight", progress=False).fit()
    bank = np.load(tmp_path / "straight" / "cache" / "bank.npy", mmap_mode="r")
    assert bank.dtype == np.float16 and bank.shape[1:] == (1, 48, 48)
    first = Trainer(tiny([images], **on_disk), tmp_path / "resumed", progress=False, stop_after=2)
    assert not first.fit().finished
    again = Trainer(tiny([images], **on_disk), tmp_path / "resumed", progress=False, resume=True)
    assert again.fit().steps == straight.steps
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_bank_on_disk_holds_the_objects_of_a_bank_in_memory_to_float16():
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(1, 30 + i, 40)).astype(np.float32) for i in range(10)]
    names = [f"o{i}.fits" for i in range(10)]
    in_memory = ObjectBank(arrays, names, 32)
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        chunks = [(arrays[:4], names[:4]), (arrays[4:], names[4:])]
        on_disk = ObjectBank.on_disk(chunks, 12, 32, Path(folder) / "bank.npy")
        assert len(on_disk) == 10 and on_disk.paths == names and on_disk.channels == 1
        batch, disk_batch = in_memory.__getitems__([7, 2, 5]), on_disk.__getitems__([7, 2, 5])
        assert disk_batch.images.dtype == torch.float32
        assert torch.allclose(batch.images, disk_batch.images, atol=2e-3, rtol=1e-3)
        assert torch.equal(batch.extents, disk_batch.extents)


def test_an_epoch_of_a_set_larger_than_its_draws_is_a_new_subset_each_time():
    from morphospace.train.setup import EpochSampler

    objects = list(range(100))
    per_rank = [EpochSampler(objects, draws=30, num_replicas=2, rank=r, seed=1) for r in (0, 1)]
    seen = []
    for epoch in (0, 1):
        for sampler in per_rank:
            sampler.set_epoch(epoch)
        drawn = [i for sampler in per_rank for i in sampler]
        assert len(per_rank[0]) == 15 and len(drawn) == len(set(drawn)) == 30
        seen.append(set(drawn))
    assert seen[0] != seen[1]
    whole = EpochSampler(objects, draws=1000, num_replicas=1, rank=0)
    assert sorted(whole) == objects and len(whole) == 100


def test_a_run_of_one_epoch_warms_up_over_its_first_tenth_and_then_decays():
    from morphospace.config import validate_settings
    from morphospace.train.distributed import Distributed
    from morphospace.train.setup import plan_schedule

    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(1, 40, 40)).astype(np.float32) for _ in range(660)]
    bank = ObjectBank(arrays, [f"o{i}.fits" for i in range(660)], 32)
    one = plan_schedule(validate_settings({"train": {"epochs": 1}}), bank, Distributed())
    assert one.total_steps == 9 and one.warmup_steps == 1  # not the whole run (2 epochs)
    many = plan_schedule(validate_settings({"train": {"epochs": 50}}), bank, Distributed())
    assert many.warmup_steps == 2 * many.steps_per_epoch  # longer runs: two epochs, as before

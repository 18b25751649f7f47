"""The command line: synth then inspect, as the README's main command runs them."""

from __future__ import annotations

import csv

from morphospace.cli import main


def test_synth_then_inspect(tmp_path, capsys):
    assert main(["synth", "-o", str(tmp_path / "data"), "-n", "26", "--cubes", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "wrote 26 objects (13 classes)" in out
    table = tmp_path / "inventory.csv"
    assert main(["inspect", str(tmp_path / "data" / "images"), "--table", str(table)]) == 0
    out = capsys.readouterr().out
    assert "26 files: 26 objects readable, 0 with problems" in out
    assert "cubes" in out and "pixel scale" in out and "beam FWHM" in out and "NaN fraction" in out
    with open(table) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 26 and {"pixel_scale", "bmaj", "nan_fraction", "shape"} <= set(rows[0])


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert "morphospace" in capsys.readouterr().out
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "synth" in out and "inspect" in out and "cutouts" in out


def test_usage_errors_exit_2(capsys):
    assert main(["synth", "-o", "x", "-n", "0"]) == 2
    assert main(["inspect", "--on-error", "maybe", "x"]) == 2


def _options(command: str) -> set[str]:
    import typer.main

    from morphospace.cli import app

    group = typer.main.get_command(app)
    return {name for p in group.commands[command].params for name in p.opts}


def test_help_in_an_80_column_terminal_never_breaks_an_option_name(capsys, monkeypatch):
    import typer.main

    from morphospace.cli import app

    monkeypatch.setenv("COLUMNS", "80")
    group = typer.main.get_command(app)
    for command in ("explore", "run", "report", "export", "train"):
        assert main([command, "-h"]) == 0
        shown = capsys.readouterr().out
        for param in group.commands[command].params:
            if getattr(param, "hidden", False):
                continue
            for word in [*param.opts, *param.secondary_opts, param.metavar or ""]:
                assert word in shown, f"{command} -h breaks {word!r}"


def test_run_takes_every_training_option_train_does():
    assert _options("train") <= _options("run")
    assert {"--color-by", "--colour-by", "--join-on", "--match-radius"} <= _options("run")
    for command in ("similar", "anomalies", "label"):
        assert {"-o", "--gallery"} <= _options(command)  # -o: the answer as a table


def test_run_stopped_early_resumes_then_embeds_and_reports(tmp_path, capsys):
    from morphospace.synth import synthesize

    synthesize(tmp_path / "data", 24, seed=3, workers=1)
    out = tmp_path / "run"
    small = ["--set", "model.backbone='amm'", "--set", "train.batch_size=8", "--epochs", "2"]
    argv = ["run", str(tmp_path / "data" / "images"), "-o", str(out), *small, "--no-progress"]
    assert main([*argv, "--stop-after", "1", "--map", "pca"]) == 0
    assert "stopped after epoch 1 of 2; continue with: morphospace run" in capsys.readouterr().out
    assert not (out / "embeddings.parquet").exists()
    assert main([*argv, "--resume", "--map", "pca"]) == 0
    said = capsys.readouterr().out
    assert "embedded 24 objects" in said
    assert said.strip().endswith(f"morphospace explore {out / 'embeddings.parquet'}")
    assert (out / "report" / "index.html").exists()


def test_set_reaches_its_setting_when_the_headline_flag_is_not_given(tmp_path, capsys):
    import json

    from morphospace.config import load_settings
    from morphospace.synth import synthesize

    synthesize(tmp_path / "data", 24, seed=3, workers=1)
    images, out = str(tmp_path / "data" / "images"), tmp_path / "run"
    settings = ["train.epochs=1", "train.batch_size=16", "model.backbone='amm'",
                "augment.view_size=32", "train.device='cpu'"]  # fmt: skip
    argv = ["train", images, "-o", str(out), "--no-progress"]
    assert main([*argv, *(f"--set={s}" for s in settings)]) == 0
    assert "trained 1 epochs" in capsys.readouterr().out
    config = load_settings(out / "config.toml")
    assert config.train.epochs == 1 and config.train.batch_size == 16
    assert config.model.backbone == "amm" and config.augment.view_size == 32
    assert config.train.device == "cpu"
    card = json.loads((out / "model.json").read_text())
    assert card["training"]["epochs"] == 1 and card["backbone"] == "amm"
    # a flag and a --set of the same key that disagree: one line naming both, nothing made
    other = tmp_path / "other"
    disagree = ["train", images, "-o", str(other), "--epochs", "2", "--set", "train.epochs=1"]
    assert main(disagree) == 2
    error = capsys.readouterr().err
    assert "--epochs" in error and "--set train.epochs=1" in error and error.count("\n") == 1
    assert not other.exists()


def test_run_embeds_on_the_device_it_trained_on(tmp_path, capsys):
    from morphospace.config import load_settings
    from morphospace.embed import EmbeddingTable
    from morphospace.synth import synthesize

    synthesize(tmp_path / "data", 24, seed=3, workers=1)
    out = tmp_path / "run"
    # cpu:0 is a device of its own name, as cuda:1 is: "auto" would give plain "cpu" here
    argv = ["run", str(tmp_path / "data" / "images"), "-o", str(out), "--device", "cpu:0",
            "--epochs", "1", "--set", "model.backbone='amm'", "--set", "train.batch_size=8",
            "--map", "pca", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert load_settings(out / "config.toml").train.device == "cpu:0"
    assert EmbeddingTable.read(out / "embeddings.parquet").info["device"] == "cpu:0"
    # embed, given no --device, embeds where auto points: here the CPU
    again = tmp_path / "again.parquet"
    assert main(["embed", str(out), "-o", str(again), "--no-progress"]) == 0
    assert EmbeddingTable.read(again).info["device"] == "cpu"
    assert main(["embed", str(out), "-o", str(again), "--device", "gpu", "--overwrite"]) == 2
    assert "--device: 'gpu' is not a device" in capsys.readouterr().err

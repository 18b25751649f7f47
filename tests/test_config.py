"""Settings: TOML, CLI overrides, unknown-key suggestions and astromorph settings files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from morphospace.config import Settings, load_settings, parse_assignments, validate_settings
from morphospace.errors import InputError

ASTROMORPH_SETTINGS = """
datafile = "{datafile}"
epochs = 3
network_name = "n_layer_resnet"
core_limit = 2
learning_rate = 1e-4
exponential_lr = true
gamma = 0.9
batch_size = 8

[network_settings]
last_layer = "layer3"

[byol_settings]
representation_size = 128   # astromorph's own example: wrong for layer3, which gives 256
projection_size = 64
projection_hidden_size = 256
use_momentum = false

[data_settings]
stacksize = 3
"""


def test_toml_sections_and_round_trip(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text(
        '[data]\nsources = ["a/", "b.txt"]\n[model]\nbackbone = "resnet18:layer2"\n'
        "[train]\nepochs = 7\n[augment]\nview_size = 48\n"
        '[[preprocess.steps]]\nstep = "resample"\nscale = "0.25 beam"\n'
    )
    settings = load_settings(path)
    assert settings.data.sources == ["a/", "b.txt"] and settings.train.epochs == 7
    assert settings.augment.view_size == 48 and settings.model.backbone == "resnet18:layer2"
    assert [s.step for s in settings.preprocess.steps] == ["channels", "resample"]
    again = tmp_path / "again.toml"
    again.write_text(settings.to_toml())
    assert load_settings(again) == settings


def test_cli_overrides_win_over_the_file(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("[train]\nepochs = 7\nbatch_size = 32\n")
    settings = load_settings(
        path, {"train.epochs": 2, "train.batch_size": None, "model.backbone": "amm"}
    )
    assert (
        settings.train.epochs == 2
        and settings.train.batch_size == 32
        and settings.model.backbone == "amm"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[train]\nepoch = 3\n", "unknown key 'train.epoch'; did you mean 'epochs'?"),
        ("[trian]\nepochs = 3\n", "unknown key 'trian'; did you mean 'train'?"),
        ("[augment]\nview_sise = 3\n", "did you mean 'view_size'?"),
        ('[[preprocess.steps]]\nstep = "fill"\nmethd = "zero"\n', "did you mean 'method'?"),
        ("[train]\nepochs = -1\n", "invalid value for 'train.epochs'"),
        ("[train\n", "not valid TOML"),
    ],
)
def test_bad_settings_name_the_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_settings(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_astromorph_settings_file_is_mapped_with_one_warning(tmp_path):
    listing = tmp_path / "files.txt"
    listing.write_text("a.fits\n")
    path = tmp_path / "astromorph.toml"
    path.write_text(ASTROMORPH_SETTINGS.format(datafile=listing))
    with pytest.warns(UserWarning) as caught:
        settings = load_settings(path)
    assert len(caught) == 1
    assert "representation_size (found by running the backbone)" in str(caught[0].message)
    assert settings.data.sources == [str(listing)]
    assert settings.model.backbone == "resnet18:layer3"
    assert settings.model.projection_size == 64 and settings.model.projection_hidden_size == 256
    assert settings.model.use_momentum is False
    assert (settings.train.epochs, settings.train.batch_size, settings.train.threads) == (3, 8, 2)
    assert settings.train.lr_schedule == "exponential" and settings.train.gamma == 0.9
    assert settings.train.learning_rate == 1e-4
    channels = settings.preprocess.steps[0]
    assert (channels.mode, channels.n_channels) == ("bin", 3)


def test_astromorph_amm_and_unknown_network(tmp_path):
    path = tmp_path / "amm.toml"
    path.write_text(
        'datafile = "x.txt"\nnetwork_name = "amm"\nnetwork_settings = {}\nbyol_settings = {}\n'
    )
    assert load_settings(path).model.backbone == "amm"
    path.write_text(
        'datafile = "x.txt"\nnetwork_name = "vgg"\nnetwork_settings = {}\nbyol_settings = {}\n'
    )
    with pytest.raises(InputError, match="unknown astromorph network_name 'vgg'"):
        load_settings(path)


def test_defaults_are_valid():
    settings = validate_settings({})
    assert settings == Settings()
    assert settings.train.batch_size >= 64


def test_auto_epochs_draw_a_fixed_number_of_objects():
    train = validate_settings({}).train
    assert train.epochs == "auto"
    assert train.epochs_for(900) == 300  # 270,000 draws / 900 objects
    assert train.epochs_for(10_000) == 27
    assert train.epochs_for(20_000) == 20 and train.epochs_for(10) == 300  # the bounds
    # past 27,000 objects the draws stop growing: 540,000 at most, one epoch at least, and
    # past 540,000 objects an epoch draws a subset
    assert train.epochs_for(100_000) == 5 and train.epochs_for(200_000) == 3
    assert train.epochs_for(1_000_000) == 1 and train.draws_per_epoch(1_000_000) == 540_000
    assert train.draws_per_epoch(100_000) == 100_000
    fixed = validate_settings({"train": {"epochs": 7}}).train
    assert fixed.epochs_for(900) == 7 and fixed.draws_per_epoch(1_000_000) == 1_000_000


def _leaves(node, path=()):
    """Every (dotted key, value) of a settings dump; lists of tables are followed by index."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list) and node and all(isinstance(item, dict) for item in node):
        for index, item in enumerate(node):
            yield from _leaves(item, (*path, str(index)))
    else:
        yield ".".join(path), node


def _toml_value(value) -> str:
    import tomli_w

    return tomli_w.dumps({"v": value}).partition("=")[2].strip()


def test_every_setting_is_reachable_from_set():
    defaults = Settings().model_dump(mode="json", exclude_none=True)
    leaves = dict(_leaves(defaults))
    assert {"train.learning_rate", "augment.crop_ratio", "preprocess.steps.3.margin"} <= set(leaves)
    for key, value in leaves.items():
        settings = load_settings(None, parse_assignments([f"{key}={_toml_value(value)}"]))
        assert dict(_leaves(settings.model_dump(mode="json", exclude_none=True)))[key] == value
    # and a value set there lands where it was aimed, over the file's
    changed = load_settings(
        None,
        parse_assignments(
            [
                "train.learning_rate=1e-3",
                "train.epochs=auto",
                "data.hdu=SCI",
                "data.hdu=2",
                "augment.crop_ratio=[0.8, 1.25]",
                "preprocess.steps.3.margin=0.4",
                "model.use_momentum=false",
            ]
        ),
    )
    assert changed.train.learning_rate == 1e-3 and changed.train.epochs == "auto"
    assert changed.data.hdu == 2 and changed.augment.crop_ratio == (0.8, 1.25)
    assert changed.preprocess.steps[3].margin == 0.4 and changed.model.use_momentum is False


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("train.epoch=3", "unknown key 'train.epoch'; did you mean 'epochs'?"),
        ("train.epochs", "expects SECTION.KEY=VALUE"),
        ("preprocess.steps.9.margin=1", "a list of 6 items takes an index 0-5"),
        ("train.epochs.value=1", "invalid value for 'train.epochs'"),
        ("train.batch_size=1", "invalid value for 'train.batch_size'"),
    ],
)
def test_a_bad_set_is_one_clear_line(assignment, message, capsys, tmp_path):
    from morphospace.cli import main

    (tmp_path / "x.fits").touch()  # found, never read: the setting is refused first
    assert main(["train", str(tmp_path / "x.fits"), "-o", "unused", "--set", assignment]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def _toml_blocks(markdown: str) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", markdown, flags=re.DOTALL)


def test_the_documented_settings_and_chain_are_the_defaults():
    import tomllib

    text = (Path(__file__).parent.parent / "docs" / "training.md").read_text()
    settings_block, chain_block = _toml_blocks(text)[:2]
    documented = tomllib.loads(settings_block)
    assert documented["data"].pop("sources") and documented["data"].pop("hdu") == "SCI"
    defaults = Settings().model_dump(mode="json", exclude_none=True)
    assert validate_settings(documented) == Settings()
    assert {section: set(values) for section, values in documented.items()} == {
        section: set(values) for section, values in defaults.items() if section != "preprocess"
    } | {"data": set(defaults["data"]) - {"sources"}}
    chain = validate_settings(tomllib.loads(chain_block)).preprocess
    assert chain == Settings().preprocess

"""A trained model's files: the typed card round-trips, older cards load, bad ones say why."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import morphospace
from morphospace.embed import Embedder
from morphospace.errors import InputError
from morphospace.models import ModelCard, load_model, read_model_card, save_model
from test_layout import imported


def _copy_run(run: Path, to: Path) -> Path:
    to.mkdir()
    for name in ("model.safetensors", "model.json"):
        shutil.copy(run / name, to / name)
    return to


def _edit_card(run: Path, edit) -> Path:
    path = run / "model.json"
    raw = json.loads(path.read_text())
    edit(raw)
    path.write_text(json.dumps(raw))
    return path


def test_the_card_round_trips_through_model_json(trained, tmp_path):
    run, _ = trained
    card = read_model_card(run)
    assert card.format == "morphospace-model/2" and card.whitening is True
    assert card.views.view_size == 32 and card.data.min_side == 16
    assert card.lineage is None and len(card.weights_sha256) == 64
    assert ModelCard.model_validate_json(card.to_json()) == card
    byol, loaded = load_model(run)
    written = save_model(_copy_run(run, tmp_path / "again"), byol, loaded)
    assert written == card.model_copy(update={"versions": written.versions})
    assert read_model_card(tmp_path / "again") == written


def test_an_older_card_loads_and_embeds_as_before(trained, tmp_path):
    run, images = trained
    older = _copy_run(run, tmp_path / "older")

    def to_format_1(raw):
        raw["format"] = "morphospace-model/1"
        del raw["whitening"], raw["lineage"]

    _edit_card(older, to_format_1)
    card = read_model_card(older)
    assert card.whitening is None and card.lineage is None
    files = sorted(images.glob("*.fits"))[:4]
    now = Embedder.from_run(run, tta=False).embed(files, workers=1)[0].embeddings
    before = Embedder.from_run(older, tta=False).embed(files, workers=1)[0].embeddings
    assert np.array_equal(now, before)  # the whitening still comes from the weights


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda raw: raw["views"].update(veiw_size=32),
            r"views\.veiw_size'; did you mean 'view_size'",
        ),
        (lambda raw: raw.pop("in_channels"), r"missing key 'in_channels'"),
        (
            lambda raw: raw["views"].update(view_mode="stretch"),
            r"invalid value for 'views\.view_mode'",
        ),
        (lambda raw: raw.pop("whitening"), r"must say whether it holds a whitening"),
        (lambda raw: raw.update(format="morphospace-model/9"), r"unknown model format"),
    ],
)
def test_a_bad_card_names_the_file_and_the_key(trained, tmp_path, edit, message):
    run = _copy_run(trained[0], tmp_path / "edited")
    path = _edit_card(run, edit)
    with pytest.raises(InputError, match=message) as caught:
        load_model(run)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_weights_that_do_not_fit_the_card_are_refused(trained, tmp_path):
    run = _copy_run(trained[0], tmp_path / "mismatch")
    _edit_card(run, lambda raw: raw.update(in_channels=3))
    with pytest.raises(InputError, match=r"does not match the network model\.json describes"):
        load_model(run)
    (run / "model.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_model(run)
    with pytest.raises(InputError, match=r"no model\.json"):
        load_model(tmp_path)


def test_training_and_inference_meet_only_in_models():
    package = Path(morphospace.__file__).parent
    for folder, forbidden in (
        ("train", {"embed", "evaluate", "explore", "report"}),
        ("embed", {"train"}),
        ("evaluate", {"train"}),
        ("models", {"train", "embed", "evaluate"}),
    ):
        for module in (package / folder).glob("*.py"):
            assert not imported(module) & forbidden, module

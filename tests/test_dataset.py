"""The object cache (each file decoded once) and the bank of training objects."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from morphospace.dataset import ObjectBank, load_objects, to_bank
from morphospace.errors import InputError
from morphospace.preprocess import PreprocessChain, Stretch
from morphospace.synth import synthesize


@pytest.fixture
def images(tmp_path):
    synthesize(tmp_path / "data", 12, cubes=True, seed=2, workers=1)
    return tmp_path / "data" / "images"


def test_cached_objects_are_not_decoded_again(tmp_path, images):
    chain, cache = PreprocessChain.default(), tmp_path / "cache"
    first = load_objects(images, chain, cache_dir=cache, workers=1)
    assert len(list(cache.glob("*.npy"))) == 12
    # Replace one file by garbage of the same size and time stamp: only a cache hit survives.
    victim = sorted(images.glob("*.fits"))[0]
    stat = victim.stat()
    victim.write_bytes(b"\0" * stat.st_size)
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    second = load_objects(images, chain, cache_dir=cache, workers=1)
    assert not second.problems
    for a, b in zip(first.arrays, second.arrays, strict=True):
        np.testing.assert_array_equal(a, b)
    assert [m.to_dict() for m in first.metas] == [m.to_dict() for m in second.metas]
    # Another chain, or a changed file, misses the cache and decodes (here: fails) again.
    other = PreprocessChain(steps=[Stretch(kind="sqrt")])
    assert load_objects(images, other, cache_dir=cache, workers=1).problems
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert load_objects(images, chain, cache_dir=cache, workers=1).problems


def test_bank_holds_every_object_at_one_size_with_native_extents(images):
    loaded = load_objects(images, PreprocessChain.default(), workers=1)
    bank = ObjectBank(loaded.arrays, [m.path for m in loaded.metas], 72)
    assert bank.images.shape == (12, 1, 72, 72) and bank.channels == 1
    assert bank.extents.tolist() == [list(a.shape[-2:]) for a in loaded.arrays]
    batch = bank.__getitems__([3, 5])
    assert batch.images.shape == (2, 1, 72, 72) and batch.indices.tolist() == [3, 5]
    # objects of one shape are resampled in one call: the same numbers as one by one
    rng = np.random.default_rng(0)
    mixed = [rng.normal(size=(1, side, side)).astype(np.float32) for side in (20, 90, 20, 50, 90)]
    together = to_bank(mixed, 48)
    for array, banked in zip(mixed, together, strict=True):
        torch.testing.assert_close(to_bank([array], 48)[0], banked, rtol=0, atol=0)
    with pytest.raises(ValueError, match="different channel counts"):
        ObjectBank([np.zeros((1, 20, 20)), np.zeros((2, 20, 20))], ["a", "b"], 32)


def test_no_usable_object_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.fits"
    bad.write_text("not fits at all")
    with pytest.raises(InputError, match=r"no usable objects; first problem: .*not a FITS file"):
        load_objects(bad, PreprocessChain.default(), workers=1)

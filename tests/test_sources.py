"""Source discovery: directories, globs, single files and astromorph-style file lists."""

from __future__ import annotations

import gzip

import numpy as np

from conftest import gaussian_blob
from morphospace.io import find_sources, read_file_list, read_many


def _tree(tmp_path, write_fits):
    a = write_fits("data/a.fits", gaussian_blob())
    b = write_fits("data/sub/b.fits", gaussian_blob())
    c = write_fits("data/sub/deeper/c.fit", gaussian_blob())
    gz = tmp_path / "data" / "d.fits.gz"
    gz.write_bytes(gzip.compress(a.read_bytes()))
    (tmp_path / "data" / "readme.txt").write_text("not data")
    return a, b, c, gz


def test_directory_is_searched_recursively(tmp_path, write_fits):
    a, b, c, gz = _tree(tmp_path, write_fits)
    found = find_sources(tmp_path / "data")
    assert sorted(found) == sorted([a, b, c, gz])


def test_glob_and_single_file(tmp_path, write_fits):
    a, b, _c, _ = _tree(tmp_path, write_fits)
    assert find_sources(str(tmp_path / "data" / "**" / "*.fits")) == sorted([a, b])
    assert find_sources(a) == [a]


def test_file_list_with_comments_blanks_and_relative_paths(tmp_path, write_fits):
    _a, b, _c, _gz = _tree(tmp_path, write_fits)
    listing = tmp_path / "data" / "files.txt"
    listing.write_text(
        "# astromorph-style list\n"
        "a.fits\n"
        "\n"
        f"{b}   # absolute path, trailing comment\n"
        "sub/deeper/c.fit\n"
        "   d.fits.gz  \n"
    )
    assert read_file_list(listing) == [
        tmp_path / "data" / "a.fits",
        b,
        tmp_path / "data" / "sub/deeper/c.fit",
        tmp_path / "data" / "d.fits.gz",
    ]
    result = read_many(find_sources(listing))
    assert len(result.items) == 4
    np.testing.assert_array_equal(result.items[0].data, result.items[3].data)


def test_several_specs_are_merged_without_duplicates(tmp_path, write_fits):
    a, _b, _c, _gz = _tree(tmp_path, write_fits)
    found = find_sources([a, tmp_path / "data", str(tmp_path / "data" / "*.fits")])
    assert found[0] == a and len(found) == 4


def test_fits_file_without_fits_extension_is_sniffed(tmp_path, write_fits):
    path = write_fits("image.dat", gaussian_blob())
    assert find_sources(path) == [path]


def test_a_failing_file_stops_a_parallel_read_early(tmp_path, write_fits):
    """on_error="fail" raises on the first bad file without reading all the others first:
    the queued work is dropped, so most files never reach the cache."""
    import pytest

    from morphospace.dataset import ObjectCache
    from morphospace.errors import InputError
    from morphospace.preprocess import PreprocessChain

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a_broken.fits").write_bytes(b"SIMPLE  = T" + b" " * 100)
    blob = gaussian_blob()
    for i in range(159):
        write_fits(f"data/b_{i:03d}.fits", blob)
    chain = PreprocessChain.default()
    cache = ObjectCache(tmp_path / "cache", chain)
    with pytest.raises(InputError, match="a_broken"):
        read_many(
            find_sources(tmp_path / "data"),
            on_error="fail",
            transform=chain,
            workers=2,
            cache=cache,
        )
    assert len(list((tmp_path / "cache").glob("*.json"))) < 80


def test_folder_search_orders_like_sorted_paths(tmp_path):
    """Names that sort differently as strings and as paths, hidden files, a symbolic link
    to a folder (not followed) and a link to a file (kept), as pathlib's rglob finds them."""
    import os

    root = tmp_path / "data"
    names = ["a/b.fits", "a-c.fits", "a.b/x.fits", "A/z.fit", "a/b/c.fts", ".hidden.fits",
             "deep/er/e.fits.gz", "not_fits.txt", "a/readme.md"]  # fmt: skip
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    os.symlink(root / "a", root / "linked_folder")
    os.symlink(root / "a-c.fits", root / "linked.fits")
    expected = sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(
        (".fits", ".fit", ".fts", ".fits.gz")))  # fmt: skip
    assert find_sources(root) == expected
    assert root / "linked.fits" in expected and not any("linked_folder" in str(p) for p in expected)

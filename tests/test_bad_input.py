"""Every bad input gives a one-line error naming the file; the CLI exits 2 without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from conftest import celestial_header, gaussian_blob
from morphospace.cli import main
from morphospace.errors import InputError
from morphospace.io import find_sources, read_fits, read_many


def _non_fits(tmp_path: Path) -> Path:
    path = tmp_path / "notes.fits"
    path.write_text("this is a text file pretending to be FITS\n" * 5)
    return path


def _truncated(tmp_path: Path) -> Path:
    full = tmp_path / "full.fits"
    fits.PrimaryHDU(np.ones((128, 128), np.float32)).writeto(full)
    path = tmp_path / "truncated.fits"
    path.write_bytes(full.read_bytes()[: 2880 + 20000])
    return path


def _no_image_hdu(tmp_path: Path) -> Path:
    table = fits.BinTableHDU.from_columns([fits.Column(name="x", format="E", array=[1.0, 2.0])])
    path = tmp_path / "table_only.fits"
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    return path


def _write(tmp_path: Path, name: str, data) -> Path:
    path = tmp_path / name
    fits.PrimaryHDU(data).writeto(path)
    return path


def _zero_size(tmp_path: Path) -> Path:
    # astropy will not write NAXIS2 = 0 itself, so lay out the header block by hand.
    cards = [("SIMPLE", True), ("BITPIX", -32), ("NAXIS", 2), ("NAXIS1", 16), ("NAXIS2", 0)]
    block = "".join(fits.Card(k, v).image for k, v in cards) + "END".ljust(80)
    path = tmp_path / "zero.fits"
    path.write_bytes(block.ljust(2880).encode("ascii"))
    return path


def _raw(tmp_path: Path, name: str, cards: list, data: bytes = b"") -> Path:
    """A FITS file laid out by hand: headers astropy itself would refuse to write."""
    block = "".join(fits.Card(k, v).image for k, v in cards) + "END".ljust(80)
    path = tmp_path / name
    path.write_bytes(block.ljust(2880).encode("ascii") + data)
    return path


def _bytes(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _image(bitpix: int = -32, *extra) -> list:
    return [("SIMPLE", True), ("BITPIX", bitpix), ("NAXIS", 2), ("NAXIS1", 32), ("NAXIS2", 32),
            *extra]  # fmt: skip


def _bad_wcs(tmp_path: Path) -> Path:
    header = celestial_header((32, 32))
    header["CTYPE1"], header["CTYPE2"] = "RA---XYZ", "DEC--XYZ"  # no such projection
    path = tmp_path / "bad_wcs.fits"
    fits.PrimaryHDU(gaussian_blob(32), header).writeto(path)
    return path


def _empty_list(tmp_path: Path) -> Path:
    path = tmp_path / "files.txt"
    path.write_text("# nothing here yet\n\n   \n")
    return path


BAD_FILES = {
    "missing": (lambda t: t / "does_not_exist.fits", "no such file"),
    "non-FITS": (_non_fits, "not a FITS file"),
    "truncated": (_truncated, "declares 128x128 pixels (64 KiB), the file holds 22.3 KiB"),
    "no image HDU": (_no_image_hdu, "no image HDU"),
    "all NaN": (lambda t: _write(t, "nan.fits", np.full((32, 32), np.nan)), "all pixels are blank"),
    "1-D": (lambda t: _write(t, "spectrum.fits", np.arange(64, dtype=np.float32)), "1-D data"),
    "5-D": (lambda t: _write(t, "five.fits", np.zeros((2, 2, 2, 16, 16), np.float32)), "5-D data"),
    "zero-size axis": (_zero_size, "zero-size axis"),
    "too small": (lambda t: _write(t, "tiny.fits", np.ones((8, 40))), "below the minimum of 16 px"),
    "zero bytes": (lambda t: _bytes(t, "empty.fits", b""), "empty"),
    "HTML saved as FITS": (lambda t: _bytes(t, "page.fits", b"<!DOCTYPE html><html>404</html>"),
                           "not a FITS file"),
    "not gzip": (lambda t: _bytes(t, "x.fits.gz", b"plain bytes" * 50), "not a FITS file"),
    "NAXIS 0": (lambda t: _raw(t, "naxis0.fits", [("SIMPLE", True), ("BITPIX", 8), ("NAXIS", 0)]),
                "no image HDU"),
    "wrong BITPIX": (lambda t: _raw(t, "bitpix.fits", _image(12), b"\0" * 8192), "corrupt"),
    "one pixel": (lambda t: _write(t, "pixel.fits", np.ones((1, 1), np.float32)), "1x1 px"),
    "huge BSCALE": (lambda t: _raw(t, "bscale.fits", _image(16, ("BSCALE", 1e300)),
                                   np.arange(1024, dtype=">i2").tobytes()), "all pixels are blank"),
    "100,000 x 100,000 declared": (
        lambda t: _raw(t, "huge.fits", [("SIMPLE", True), ("BITPIX", -32), ("NAXIS", 2),
                                        ("NAXIS1", 100_000), ("NAXIS2", 100_000)], b"\0" * 2880),
        "declares 100000x100000 pixels"),
    "NAXIS of millions": (lambda t: _raw(t, "axes.fits", [("SIMPLE", True), ("BITPIX", -32),
                                                         ("NAXIS", 4_212_742)]),
                          "NAXIS = 4212742 is not valid"),
    "unparseable WCS": (_bad_wcs, "WCS that cannot be parsed (Unrecognized projection code"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_reader_error_names_file_and_problem(tmp_path, case):
    make, expected = BAD_FILES[case]
    path = make(tmp_path)
    with pytest.raises(InputError) as info:
        read_fits(path)
    message = str(info.value)
    assert str(path) in message and expected in message
    assert "\n" not in message


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_cli_exits_2_with_one_line(tmp_path, case, capsys):
    make, expected = BAD_FILES[case]
    path = make(tmp_path)
    listing = tmp_path / "list.txt"
    listing.write_text(f"{path}\n")
    assert main(["inspect", "--on-error", "fail", str(listing)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert err.startswith("morphospace: error: ")
    assert str(path) in err and expected in err


def test_empty_file_list(tmp_path, capsys):
    listing = _empty_list(tmp_path)
    with pytest.raises(InputError, match="file list has no entries"):
        find_sources(listing)
    assert main(["inspect", str(listing)]) == 2
    err = capsys.readouterr().err
    assert str(listing) in err and "file list has no entries" in err


def test_inspect_reports_every_problem_one_line_per_file(tmp_path, capsys):
    good = _write(tmp_path, "good.fits", gaussian_blob())
    bad = [make(tmp_path) for make, _ in BAD_FILES.values()]
    listing = tmp_path / "all.txt"
    listing.write_text("\n".join(str(p) for p in [good, *bad]))
    assert main(["inspect", str(listing)]) == 1  # as fitscheck: non-zero when any is bad
    out = capsys.readouterr().out
    assert f"{len(bad) + 1} files: 1 object readable, {len(bad)} with problems" in out
    problem_lines = out.split("problems:\n", 1)[1].strip().splitlines()
    assert len(problem_lines) == len(bad)
    for path, (_, expected) in zip(bad, BAD_FILES.values(), strict=True):
        assert any(str(path) in line and expected in line for line in problem_lines)


def test_on_error_skip_writes_report_and_fail_raises(tmp_path):
    good = _write(tmp_path, "good.fits", gaussian_blob())
    bad = _non_fits(tmp_path)
    report = tmp_path / "run" / "skipped.csv"
    result = read_many([good, bad, good], on_error="skip", report=report)
    assert len(result.items) == 2 and len(result.problems) == 1
    lines = report.read_text().splitlines()
    assert lines[0] == "path,problem" and str(bad) in lines[1] and "not a FITS file" in lines[1]
    with pytest.raises(InputError, match="not a FITS file"):
        read_many([good, bad], on_error="fail")


def test_skip_policy_in_parallel_keeps_input_order(tmp_path):
    paths = []
    for i in range(70):
        paths.append(_write(tmp_path, f"obj{i:03d}.fits", gaussian_blob(peak=i + 1)))
    paths.insert(35, _non_fits(tmp_path))
    result = read_many(paths, on_error="skip", workers=2)
    peaks = [image.data.max() / gaussian_blob().max() for image in result.items]
    assert peaks == pytest.approx(list(range(1, 71)), rel=1e-5)
    assert [p.path for p in result.problems] == [str(paths[35])]


def test_catalogue_position_outside_map(tmp_path, capsys):
    data = gaussian_blob(64)
    map_path = tmp_path / "map.fits"
    fits.PrimaryHDU(data, celestial_header(data.shape)).writeto(map_path)
    catalog = tmp_path / "cat.csv"
    catalog.write_text("name,x,y\ninside,30,30\nfar,500,30\n")
    out_dir = tmp_path / "cut"
    code = main(f"cutouts {map_path} --catalog {catalog} --size 16 -o {out_dir}".split())
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert str(catalog) in err and "row 1 (far)" in err and "outside the map" in err


def test_console_script_prints_no_traceback(tmp_path):
    bad = _non_fits(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "morphospace", "inspect", str(bad), "--hdu", "0"],
        capture_output=True,
        text=True,
    )
    # inspect skips and lists bad files (exit 1); a direct read of a bad map fails with 2.
    assert proc.returncode == 1 and "not a FITS file" in proc.stdout
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "morphospace",
            "cutouts",
            str(bad),
            "--mask",
            str(bad),
            "-o",
            str(tmp_path / "cutouts"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == f"morphospace: error: {bad}: not a FITS file (no SIMPLE card at the start)"
    )


def test_a_list_naming_missing_files_lists_each_and_a_folder_without_fits_is_one_line(
    tmp_path, capsys
):
    listing = tmp_path / "files.txt"
    listing.write_text(f"{tmp_path / 'gone_a.fits'}\n{tmp_path / 'gone_b.fits'}\n")
    assert main(["inspect", str(listing)]) == 1
    out = capsys.readouterr().out
    assert "2 files: 0 objects readable, 2 with problems" in out
    assert out.count("no such file") == 2
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("no images here")
    assert main(["inspect", str(folder)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"morphospace: error: {folder}: no FITS files found (searched recursively)"
    )


def test_a_file_name_that_is_not_utf8_is_read(tmp_path, capsys):
    name = b"caf\xe9_field.fits"  # Latin-1, as old archives write it
    path = Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), name)))
    fits.PrimaryHDU(gaussian_blob(32)).writeto(path)
    assert main(["inspect", str(tmp_path)]) == 0
    assert "1 file: 1 object readable, 0 with problems" in capsys.readouterr().out


def test_an_astromorph_settings_file_with_a_value_of_the_wrong_type_is_one_line(tmp_path, capsys):
    settings = tmp_path / "astromorph.toml"
    settings.write_text(f'datafile = "{tmp_path / "files.txt"}"\nepochs = "three"\n')
    assert main(["train", "-c", str(settings), "-o", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(settings) in err and "'train.epochs'" in err
    assert not (tmp_path / "run").exists()


def test_a_file_without_read_permission_is_one_line(tmp_path, capsys, monkeypatch):
    import builtins
    import io

    path = _write(tmp_path, "private.fits", gaussian_blob(32))
    path.chmod(0)
    if os.geteuid() == 0:  # root reads any file: refuse this one as the kernel would
        opened = builtins.open

        def guarded(file, *args, **kwargs):
            if os.fspath(file) == str(path):
                raise PermissionError(13, "Permission denied", str(path))
            return opened(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", guarded)
        monkeypatch.setattr(io, "open", guarded)  # what Path.open calls
    try:
        assert main(["inspect", "--on-error", "fail", str(path)]) == 2
    finally:
        path.chmod(0o644)
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(path) in err and "Permission denied" in err


def test_a_folder_of_pictures_and_a_text_that_is_not_a_list_say_what_they_are(tmp_path, capsys):
    pictures = tmp_path / "pngs"
    pictures.mkdir()
    for n in range(3):
        (pictures / f"galaxy_{n}.png").write_bytes(b"\x89PNG")
    (pictures / "cover.jpg").write_bytes(b"\xff\xd8")
    assert main(["inspect", str(pictures)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"morphospace: error: {pictures}: no FITS files found (searched recursively); "
        "found 3 PNG files, 1 JPEG file: morphospace reads FITS images and cubes"
    )
    assert main(["train", str(pictures / "*.png"), "-o", str(tmp_path / "run")]) == 2
    assert "found 3 PNG files: morphospace reads FITS" in capsys.readouterr().err
    notes = tmp_path / "notes.txt"
    notes.write_text("Observing log\nnight 1: clouds\nnight 2: clear\n")
    assert main(["inspect", str(notes)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"morphospace: error: {notes}: not a file list: none of its 3 lines names an existing "
        "file or a FITS file"
    )
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("train", "no such file or directory"),
        ("run", "no such file or directory"),
        ("embed", "no model.json: not a trained morphospace run (run 'morphospace train')"),
    ],
)
def test_a_bad_data_path_is_said_before_torch_or_scikit_learn_is_loaded(tmp_path, command, problem):
    import subprocess
    import sys

    argv = [command, str(tmp_path / "nowhere"), "-o", str(tmp_path / "r")]
    code = (
        f"import sys; from morphospace.cli import main; code = main({argv!r}); "
        "print(code, sorted({'torch', 'sklearn'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "2 []"
    assert done.stderr.strip().endswith(f"nowhere: {problem}")

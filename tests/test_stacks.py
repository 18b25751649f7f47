"""Cutout stacks: an HDF5 or FITS file of N objects with a table, read as N objects."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from astropy.table import Table

from morphospace.cli import main
from morphospace.errors import InputError
from morphospace.explore import RunTable
from morphospace.io import find_sources, open_stack, read_object, take_inventory
from morphospace.io.sources import object_id

N = 24


def _images(n: int = N, side: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side] - side / 2
    width = rng.uniform(2, 6, n)[:, None, None]
    return (
        np.exp(-(xx**2 + yy**2) / (2 * width**2)) + rng.normal(0, 0.02, (n, side, side))
    ).astype(np.float32)


def _hdf5(path, images, **columns):
    with h5py.File(path, "w") as handle:
        handle["images"] = images
        for name, values in columns.items():
            handle[name] = values
        handle.attrs["pixel_scale"] = 1.8
    return path


def _fits_stack(path, images, rows: int | None = None):
    n = rows or len(images)
    table = Table({"id": [f"fits{i}" for i in range(n)], "ra": np.linspace(10, 11, n),
                   "dec": np.full(n, -5.0)})  # fmt: skip
    header = fits.Header()
    header["CDELT2"], header["BUNIT"] = 0.5 / 3600, "Jy/beam"
    fits.HDUList([fits.PrimaryHDU(images, header), fits.BinTableHDU(table)]).writeto(path)
    return path


def test_an_hdf5_stack_is_read_as_one_object_per_image_with_its_id_and_position(tmp_path):
    images = _images()
    ids = np.array([f"FIRST J{i:04d}".encode() for i in range(N)])
    stack = _hdf5(
        tmp_path / "first.h5", images, id=ids, ra=np.arange(N) * 0.1, dec=np.full(N, 30.0)
    )
    found = find_sources([stack])
    assert [str(p) for p in found] == [f"{stack}#{i}" for i in range(N)]
    image = read_object(found[7])
    assert np.array_equal(image.data, images[7]) and image.meta.object == "FIRST J0007"
    assert (image.meta.ra, image.meta.dec, image.meta.pixel_scale) == (
        pytest.approx(0.7),
        30.0,
        1.8,
    )
    assert object_id(found[7]) == "FIRST J0007"
    # a tangent-plane WCS centred on the position: north up, east left, the stack's scale
    ra, dec = image.wcs.pixel_to_world_values(15.5, 15.5)
    assert (float(ra), float(dec)) == pytest.approx((0.7, 30.0))
    assert image.wcs.pixel_to_world_values(15.5, 16.5)[1] > 30.0


def test_a_fits_stack_and_channels_last_are_read_as_their_objects(tmp_path):
    images = _images()
    stack = _fits_stack(tmp_path / "stack.fits", images)
    found = find_sources([stack])
    assert len(found) == N and read_object(found[3]).meta.object == "fits3"
    assert read_object(found[3]).meta.pixel_scale == pytest.approx(0.5)
    colour = np.stack([images, images * 2, images * 3], axis=-1)  # (N, H, W, 3), Galaxy10's way
    rgb = _hdf5(tmp_path / "galaxies.h5", colour)
    one = read_object(find_sources([rgb])[5])
    assert one.data.shape == (3, 32, 32) and np.allclose(one.data[2], images[5] * 3)
    assert object_id(find_sources([rgb])[5]) == "galaxies_05"  # numbered without an id column


def _empty_hdf5(path):
    h5py.File(path, "w").close()
    return path


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: _hdf5(p, _images(), ra=np.zeros(N - 2)),
         "holds 24 images but its column 'ra' has 22 values"),
        (lambda p: _hdf5(p, _images()[0]),
         "holds an array of shape (32, 32): a stack is N x H x W or N x C x H x W"),
        (_empty_hdf5, "has no 'images' dataset (it holds nothing)"),
    ],
)  # fmt: skip
def test_a_bad_stack_is_one_line_naming_the_file(tmp_path, make, problem):
    path = make(tmp_path / "bad.h5")
    with pytest.raises(InputError) as caught:
        find_sources([path])
    assert str(caught.value) == f"{path}: {problem}"


def test_a_fits_stack_whose_table_is_short_and_an_object_past_the_end_are_refused(tmp_path):
    short = _fits_stack(tmp_path / "short.fits", _images(), rows=N - 1)
    with pytest.raises(InputError, match="holds 24 images but its table has 23 rows"):
        open_stack(short)
    stack = _fits_stack(tmp_path / "stack.fits", _images())
    with pytest.raises(InputError, match=r"stack.fits#99: no such object: the stack holds 24"):
        read_object(f"{stack}#99")


def test_inspect_names_the_stack_and_run_embeds_it_end_to_end(tmp_path, capsys):
    stack = _hdf5(tmp_path / "first.h5", _images(), id=np.array([f"s{i}" for i in range(N)], "S"),
                  ra=np.linspace(150, 151, N), dec=np.full(N, 2.0))  # fmt: skip
    inventory = take_inventory([stack])
    assert len(inventory.metas) == N
    assert inventory.stacks == [
        f"{stack}: HDF5 stack of 24 objects of 32x32 px, 1 channel, 1.8 arcsec/px; ids, positions"
    ]
    argv = ["run", str(stack), "-o", str(tmp_path / "run"), "--map", "pca", "--set",
            "train.epochs=1", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    table = pd.read_parquet(tmp_path / "run" / "embeddings.parquet")
    assert list(table["id"]) == [f"s{i}" for i in range(N)]
    assert list(table["path"]) == [f"{stack}#{i}" for i in range(N)]
    assert (tmp_path / "run" / "report" / "clusters.png").exists()


def _map_and_catalogue(tmp_path, n: int = 30):
    from conftest import celestial_header

    rng = np.random.default_rng(3)
    data = rng.normal(size=(300, 400)).astype(np.float32)
    path = tmp_path / "field.fits"
    fits.PrimaryHDU(data, celestial_header((300, 400), pixel_deg=2 / 3600)).writeto(path)
    x, y = rng.uniform(0, 399, n), rng.uniform(0, 299, n)
    x[0], y[0] = 2.0, 297.0  # at the corner: padded with NaN
    catalogue = tmp_path / "clumps.csv"
    Table({"name": [f"clump{i}" for i in range(n)], "x": x, "y": y}).write(catalogue)
    return path, catalogue


def test_a_map_cut_by_a_catalogue_while_read_gives_the_cutouts_pixels(tmp_path):
    from morphospace.io import cutouts_from_catalog
    from morphospace.io.cutouts import CatalogueCut

    field, catalogue = _map_and_catalogue(tmp_path)
    cut = CatalogueCut(catalogue, size="32px")
    index = cut.stack(field, tmp_path / "sources")
    written = cutouts_from_catalog(field, catalogue, tmp_path / "cutouts", **cut.options())
    addresses = find_sources([index])
    assert len(addresses) == 30 and not list((tmp_path / "sources").glob("*.fits"))
    for i in (0, 7, 29):
        saved = read_object(tmp_path / "cutouts" / written.records[i].file)
        streamed = read_object(addresses[i])
        assert np.array_equal(streamed.data, saved.data, equal_nan=True)
        assert np.array_equal(streamed.wcs.wcs.crpix, saved.wcs.wcs.crpix)
        assert streamed.meta.object == f"clump{i}" and streamed.meta.pixel_scale == pytest.approx(2)
    assert np.isnan(read_object(addresses[0]).data).any()  # the corner object is padded


def test_a_position_off_the_map_and_cutout_options_without_a_catalogue_are_one_line(
    tmp_path, capsys
):
    field, catalogue = _map_and_catalogue(tmp_path)
    Table({"x": [10.0, 900.0], "y": [10.0, 20.0]}).write(tmp_path / "far.csv")
    assert (
        main(["inspect", str(field), "--catalog", str(tmp_path / "far.csv"), "--size", "16"]) == 2
    )
    error = capsys.readouterr().err.strip()
    assert error.endswith("far.csv: row 1 (far_1): position x=900.0, y=20.0 lies outside the "
                          "map field.fits (400x300 px)")  # fmt: skip
    assert main(["inspect", str(field), "--size", "16"]) == 2
    assert "the cutout options (--size, --ra-col, …) need --catalog" in capsys.readouterr().err
    two = ["inspect", str(field), str(field), "--catalog", str(catalogue), "--size", "16"]
    assert main(two) == 2 and "cuts one map; 2 were given" in capsys.readouterr().err


def test_run_on_a_map_and_a_catalogue_writes_no_file_per_object(tmp_path, capsys):
    field, catalogue = _map_and_catalogue(tmp_path)
    assert main(["inspect", str(field), "--catalog", str(catalogue), "--size", "32px"]) == 0
    assert "30 objects cut from a map as they are read, 32x32 px" in capsys.readouterr().out
    run = tmp_path / "run"
    argv = ["run", str(field), "--catalog", str(catalogue), "--size", "32px", "-o", str(run),
            "--map", "pca", "--set", "train.epochs=1", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    table = pd.read_parquet(run / "embeddings.parquet")
    assert list(table["id"]) == [f"clump{i}" for i in range(30)]
    assert not list(run.rglob("*.npy")) and not list(run.rglob("clump*"))


def test_the_same_objects_embed_the_same_from_files_a_stack_or_a_map(trained, tmp_path):
    from morphospace.embed import EmbedOptions
    from morphospace.io import cutouts_from_catalog
    from morphospace.io.cutouts import CatalogueCut
    from morphospace.pipeline import embed_run

    run, _ = trained
    field, catalogue = _map_and_catalogue(tmp_path)
    cut = CatalogueCut(catalogue, size="32px")
    written = cutouts_from_catalog(field, catalogue, tmp_path / "cutouts", **cut.options())
    files = [tmp_path / "cutouts" / record.file for record in written.records]
    pixels = np.stack([fits.getdata(path) for path in files])  # the cutouts' own pixels
    stack = _hdf5(tmp_path / "stack.h5", pixels, id=np.array([f"clump{i}" for i in range(30)], "S"))
    index = cut.stack(field, tmp_path / "sources")
    options = EmbedOptions(workers=1)
    tables = {
        name: embed_run(run, [str(source)], tmp_path / f"{name}.parquet", options=options)
        for name, source in (("files", tmp_path / "cutouts"), ("stack", stack), ("map", index))
    }
    opened = {name: RunTable.open(found.path) for name, found in tables.items()}
    names = [f"clump{i}" for i in range(30)]
    assert opened["stack"].ids == opened["map"].ids == names
    row_of_file = {id_: k for k, id_ in enumerate(opened["files"].ids)}  # files: sorted
    assert set(row_of_file) == set(names)
    from_files = opened["files"].vectors[[row_of_file[name] for name in names]]
    assert np.allclose(from_files, opened["map"].vectors, atol=1e-5)
    assert np.allclose(opened["stack"].vectors, opened["map"].vectors, atol=1e-5)

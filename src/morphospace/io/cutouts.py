"""Cut objects out of a large map: at catalogue positions, or one per component of a mask.

Cutouts are FITS files that keep the map's WCS (shifted to the cutout), its beam, units and
other descriptive keywords, plus (from a catalogue) the row's columns as header keywords.
Objects at the map edge are padded with NaN or skipped; either way they are listed in
``cutouts.csv`` beside the files.
"""

from __future__ import annotations

import csv
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.nddata.utils import overlap_slices
from astropy.table import Table
from astropy.wcs.utils import skycoord_to_pixel
from scipy import ndimage

from morphospace.choices import MIN_SIDE
from morphospace.errors import InputError
from morphospace.files import atomic_write, safe_filename
from morphospace.io.catalogue import (
    DEC_NAMES,
    GLAT_NAMES,
    GLON_NAMES,
    RA_NAMES,
    find_column,
    read_catalogue,
    sky_coords,
)
from morphospace.io.fits import SkyImage, is_fits_name, read_fits
from morphospace.io.quantities import BEAM, read_quantity
from morphospace.progress import progress_bar

__all__ = [
    "CatalogueCut",
    "CutoutRecord",
    "CutoutResult",
    "EdgePolicy",
    "catalogue_stack",
    "claim_folder",
    "cutouts_from_catalog",
    "cutouts_from_mask",
    "parse_size",
]

EdgePolicy = Literal["pad", "skip"]

_X_NAMES = ("x", "xcentroid", "x_pix", "xpix", "x_image", "xcen")
_Y_NAMES = ("y", "ycentroid", "y_pix", "ypix", "y_image", "ycen")
_NAME_NAMES = ("name", "id", "source_id", "object", "designation", "source_name")

# Keywords describing the data layout or its old WCS: never copied from the map.
_STRUCTURAL = re.compile(
    r"^(SIMPLE|BITPIX|NAXIS\d*|EXTEND|XTENSION|PCOUNT|GCOUNT|BSCALE|BZERO|BLANK|CHECKSUM|DATASUM|"
    r"CTYPE\d|CRVAL\d|CDELT\d|CRPIX\d|CUNIT\d|CROTA\d|PC\d_\d|CD\d_\d|PV\d_\d+|PS\d_\d+|"
    r"LONPOLE|LATPOLE|WCSAXES|RADESYS|EQUINOX|EPOCH|MJDREF.*|DATEREF|END|COMMENT|HISTORY|)$"
)


@dataclass(frozen=True)
class CutoutRecord:
    """One requested cutout and what became of it."""

    index: int  # catalogue row or mask label
    name: str
    x: float  # centre, 0-based pixel coordinates in the map
    y: float
    status: Literal["ok", "padded", "skipped"]
    file: str = ""
    note: str = ""


@dataclass
class CutoutResult:
    """The cutouts written and the index file that lists every requested object."""

    records: list[CutoutRecord] = field(default_factory=list)
    index_path: Path | None = None

    @property
    def written(self) -> list[CutoutRecord]:
        return [r for r in self.records if r.file]

    @property
    def at_edge(self) -> list[CutoutRecord]:
        return [r for r in self.records if r.status in ("padded", "skipped")]


def parse_size(text: str | float | u.Quantity, source: str = "--size") -> u.Quantity:
    """Read a cutout size as astronomers write it: ``64``, ``64px``, ``"30 arcsec"``,
    ``120"``, ``2'``, ``2arcmin`` or ``"3 beam"`` (the map's beam major axis).

    A bare number means pixels. ``source`` (the option or the catalogue column) is blamed
    when the size cannot be read.
    """
    quantity = read_quantity(text, source, u.pix)
    if quantity.unit == u.pixel:
        quantity = quantity.value * u.pix
    elif (
        quantity.unit != u.pix and quantity.unit != BEAM and not quantity.unit.is_equivalent(u.deg)
    ):
        raise InputError(
            source, f"size {text!r} must be in pixels, beams or an angle (arcsec, arcmin, deg)"
        )
    if not np.all(np.asarray(quantity.value) > 0):
        raise InputError(source, f"size {text!r} must be positive")
    return quantity


def cutouts_from_catalog(
    map_path: str | Path,
    catalog_path: str | Path,
    outdir: str | Path,
    *,
    size: str | float | u.Quantity | None = None,
    size_column: str | None = None,
    size_unit: str = "pix",
    ra_column: str | None = None,
    dec_column: str | None = None,
    x_column: str | None = None,
    y_column: str | None = None,
    name_column: str | None = None,
    frame: str | None = None,
    pixel_origin: Literal[0, 1] = 0,
    edge: EdgePolicy = "pad",
    outside: Literal["fail", "skip"] = "fail",
    hdu: int | str | None = None,
    progress: bool = False,
    overwrite: bool = False,
    cluster: str | None = None,
) -> CutoutResult:
    """Write one FITS cutout per catalogue row: here, or on the Dask cluster ``cluster``
    names (:mod:`morphospace.cluster`), :data:`CUT_ROWS` rows a task.

    Parameters
    ----------
    map_path : path
        The large map: a 2-D image or a cube (cut spatially).
    catalog_path : path
        CSV, ECSV or FITS table.
    outdir : path
        Folder for the cutouts and ``cutouts.csv``.
    size : str, float or Quantity
        One size for all cutouts: pixels (bare number or ``pix``) or an angle.
    size_column : str
        Alternatively, a column with each row's size; its unit is the column's own
        (ECSV, FITS) or ``size_unit``.
    ra_column, dec_column : str
        Sky position columns, in degrees or sexagesimal (``"05:35:17.3"``,
        ``"-05d23m28s"``). Found automatically for common names (ra/dec, RAJ2000, glon/glat).
    x_column, y_column : str
        Pixel position columns instead; ``pixel_origin`` says whether they count from 0
        (numpy, photutils) or 1 (FITS, DS9, SExtractor).
    name_column : str
        Names for the files and the OBJECT keyword; by default a name/id column if any.
    frame : str
        Frame of the sky columns (default ``icrs``; ``galactic`` for glon/glat).
    edge : {"pad", "skip"}
        Cutouts that cross the map edge are padded with NaN, or not written.
    outside : {"fail", "skip"}
        A position outside the map raises :class:`InputError`, or is recorded and skipped.
    hdu : int or str
        HDU of the map.
    cluster : str, optional
        ``local:N`` or a scheduler's address: each worker opens the map once and writes
        the files of its rows; the index is written here, last.
    """
    claim_folder(Path(outdir), overwrite)
    cut = CatalogueCut(
        Path(catalog_path), size, size_column, size_unit, ra_column, dec_column, x_column,
        y_column, name_column, frame, pixel_origin,
    )  # fmt: skip
    rows = _catalogue_rows(map_path, cut, hdu, lambda i, count: f"cutout_{i:05d}")
    if rows.outside and outside == "fail":
        rows.refuse_outside(map_path)  # before anything is written: no partial output
    files = _file_names(rows.names)  # planned in row order, the same here or on a cluster
    job = _CutJob(Path(map_path), hdu, Path(outdir), edge, Path(rows.catalog).name[:68])
    if cluster is None:
        return _write_index(Path(outdir), _cut_part(_part(rows, files, 0, len(rows.table)), job,
                                                    rows.image, progress))  # fmt: skip
    from morphospace.cluster import connect, run_partitions, worker_count

    with connect(cluster) as client:
        size = max(1, min(CUT_ROWS, -(-len(rows.table) // (4 * worker_count(client)))))
        parts = [_part(rows, files, start, start + size)
                 for start in range(0, len(rows.table), size)]  # fmt: skip
        found = run_partitions(client, _cut_part, parts, job, progress=progress,
                               description="cutouts")  # fmt: skip
    return _write_index(Path(outdir), [record for part in found for record in part])


#: The most catalogue rows one task of a worker cuts, on a cluster (each worker is given
#: about four tasks of a smaller catalogue).
CUT_ROWS = 5_000


@dataclass(frozen=True)
class _CutJob:
    """What every part of a catalogue's cutouts shares: the map and where they go."""

    map_path: Path
    hdu: int | str | None
    outdir: Path
    edge: EdgePolicy
    catalog: str


@dataclass(frozen=True)
class _CutPart:
    """Consecutive catalogue rows to cut, from row ``start``: their places, sizes, names,
    files, which of them lie outside the map, and the rows themselves."""

    start: int
    xs: np.ndarray
    ys: np.ndarray
    sizes: list
    names: list[str]
    files: list[str]
    outside: set[int]
    table: Table


_MAPS: dict[tuple[Path, int | str | None], SkyImage] = {}  # the map a worker cuts from


def _part(rows: _CatalogueRows, files: list[str], start: int, stop: int) -> _CutPart:
    """Rows ``start`` to ``stop`` of a catalogue read with its map, to cut."""
    block = slice(start, stop)
    outside = {i - start for i in rows.outside if start <= i < stop}
    return _CutPart(start, rows.xs[block], rows.ys[block], rows.sizes[block],
                    rows.names[block], files[block], outside, rows.table[block])  # fmt: skip


def _cut_part(
    part: _CutPart, job: _CutJob, image: SkyImage | None = None, progress: bool = False
) -> list[CutoutRecord]:
    """Write the cutouts of one part of the catalogue; what became of each row."""
    if image is None:  # on a worker: the map opened (memory-mapped) once
        from morphospace.cluster import on_worker

        on_worker()
        key = (job.map_path, job.hdu)
        if key not in _MAPS:
            _MAPS.clear()
            _MAPS[key] = read_fits(job.map_path, hdu=job.hdu)
        image = _MAPS[key]
    writer = _CutoutWriter(image, job.outdir, job.edge)
    rows = progress_bar(part.table, "cutouts", progress, total=len(part.table), unit="object")
    for k, row in enumerate(rows):
        index, name, x, y = part.start + k, part.names[k], part.xs[k], part.ys[k]
        if k in part.outside:
            writer.record(index, name, x, y, "skipped", "outside the map")
            continue
        extra = [
            *_row_cards(row, part.table.colnames),
            ("CATROW", index, "row of the source catalogue (0-based)"),
            ("CATALOG", job.catalog, "source catalogue"),
        ]
        box = _box_pixels(image, part.sizes[k])
        writer.cut(index, name, x, y, box, extra, filename=part.files[k])
    return writer.records


def _file_names(names: list[str]) -> list[str]:
    """A FITS file name for each object name, made unique in order (``name_2``, …)."""
    used: set[str] = set()
    return [_unused_file(name, used) for name in names]


def _unused_file(name: str, used: set[str]) -> str:
    stem = safe_filename(name).strip("._") or "cutout"
    candidate, n = stem, 1
    while candidate in used:
        n += 1
        candidate = f"{stem}_{n}"
    used.add(candidate)
    return f"{candidate}.fits"


@dataclass
class _CatalogueRows:
    """A map and a catalogue read together: each row's pixel position, size and name, and
    the rows whose centre lies outside the map."""

    image: SkyImage
    table: Table
    catalog: str
    xs: np.ndarray
    ys: np.ndarray
    sizes: list
    names: list[str]
    outside: list[int]

    def refuse_outside(self, map_path: str | Path) -> None:
        first, plane = self.outside[0], self.image.data.shape[-2:]
        more = len(self.outside) - 1
        raise InputError(
            self.catalog,
            f"row {first} ({self.names[first]}): position x={self.xs[first]:.1f}, "
            f"y={self.ys[first]:.1f} lies outside the map {Path(map_path).name} "
            f"({plane[1]}x{plane[0]} px)" + (f", and {more} more rows" if more else ""),
        )


def _catalogue_rows(
    map_path: str | Path, cut: CatalogueCut, hdu: int | str | None, unnamed
) -> _CatalogueRows:
    """Read ``map_path`` and ``cut``'s catalogue, checking the options against both;
    ``unnamed(i, count)`` names row i of count when the catalogue has no name column."""
    image = read_fits(map_path, hdu=hdu)
    table = read_catalogue(cut.catalog)
    catalog = str(cut.catalog)
    if (cut.size is None) == (cut.size_column is None):
        raise InputError(catalog, "give either one size for all cutouts or a size column")
    xs, ys = _catalog_pixels(
        image, table, catalog, cut.ra_column, cut.dec_column, cut.x_column, cut.y_column,
        cut.frame, cut.pixel_origin,
    )  # fmt: skip
    sizes = _catalog_sizes(table, catalog, cut.size, cut.size_column, cut.size_unit)
    name_column = cut.name_column or find_column(table, _NAME_NAMES)
    if name_column is not None and name_column not in table.colnames:
        raise InputError(
            catalog, f"no column {name_column!r} (columns: {', '.join(table.colnames)})"
        )
    count = len(table)
    names = (
        [str(v) for v in table[name_column]]
        if name_column
        else [unnamed(i, count) for i in range(count)]
    )
    plane = image.data.shape[-2:]
    outside = [i for i in range(count) if not _centre_inside(plane, xs[i], ys[i])]
    return _CatalogueRows(image, table, catalog, xs, ys, sizes, names, outside)


@dataclass(frozen=True)
class CatalogueCut:
    """How a catalogue names the objects of a map: its file, their size and which columns
    hold their positions and names (the options of ``cutouts --catalog``, declared once
    for every command that cuts).

    See :func:`cutouts_from_catalog` for each field.
    """

    catalog: Path
    size: str | None = None
    size_column: str | None = None
    size_unit: str = "pix"
    ra_column: str | None = None
    dec_column: str | None = None
    x_column: str | None = None
    y_column: str | None = None
    name_column: str | None = None
    frame: str | None = None
    pixel_origin: Literal[0, 1] = 0

    def options(self) -> dict[str, object]:
        """The fields but the catalogue, as keywords of :func:`cutouts_from_catalog`."""
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        del fields["catalog"]
        return fields

    def stack(self, map_path: str | Path, folder: str | Path, hdu: int | str | None = None) -> Path:
        """The objects of ``map_path`` as a stack cut while read (:func:`catalogue_stack`),
        its index written into ``folder`` (``MAP-CATALOGUE.h5``)."""
        name = f"{Path(map_path).name.split('.')[0]}-{self.catalog.stem}.h5"
        return catalogue_stack(map_path, self, Path(folder) / name, hdu)


def catalogue_stack(
    map_path: str | Path,
    cut: CatalogueCut,
    output: str | Path,
    hdu: int | str | None = None,
) -> Path:
    """A cutout stack of a map's objects, cut while they are read: nothing per object.

    Writes ``output`` (HDF5): where each catalogue row's box lies in the map (its centre
    and size in pixels), its id and sky position, and the map's path, HDU and pixel scale.
    :mod:`morphospace.io.stacks` reads it as a stack whose pixels are slices of the
    memory-mapped map, the same pixels :func:`cutouts_from_catalog` would write (padded
    with NaN at the map's edge). ``cut`` holds the catalogue options of
    :func:`cutouts_from_catalog`; a position off the map is refused in one line.
    """
    import h5py

    stem = cut.catalog.stem
    rows = _catalogue_rows(
        map_path, cut, hdu, lambda i, count: f"{stem}_{i:0{len(str(count - 1))}d}"
    )
    if rows.outside:
        rows.refuse_outside(map_path)
    image, table, names, xs, ys = rows.image, rows.table, rows.names, rows.xs, rows.ys
    sides = [_box_pixels(image, size)[0] for size in rows.sizes]
    ra = dec = np.full(len(table), np.nan)
    if image.wcs is not None and image.wcs.has_celestial:
        sky = image.wcs.celestial.pixel_to_world(xs, ys).icrs
        ra, dec = sky.ra.deg, sky.dec.deg
    output = Path(output)

    def write(temporary: Path) -> None:
        with h5py.File(temporary, "w") as handle:
            handle["id"] = np.array(names, dtype=h5py.string_dtype())
            for name, values in (("ra", ra), ("dec", dec), ("x", xs), ("y", ys)):
                handle[name] = np.asarray(values, dtype=float)
            handle["side"] = np.asarray(sides, dtype=np.int32)
            handle.attrs["map"] = str(Path(map_path).resolve())
            handle.attrs["map_hdu"] = image.meta.hdu
            handle.attrs["catalogue"] = str(cut.catalog.resolve())
            if image.meta.pixel_scale:
                handle.attrs["pixel_scale"] = image.meta.pixel_scale
            if image.meta.bunit:
                handle.attrs["bunit"] = image.meta.bunit

    atomic_write(output, write)
    return output


def claim_folder(outdir: Path, overwrite: bool) -> None:
    """Refuse to write cutouts into a folder that holds anything, unless ``overwrite``: then
    its FITS files and index go first, so old and new cutouts never mix."""
    if not outdir.exists():
        return
    if not outdir.is_dir():
        raise InputError(outdir, "is a file, not a folder for cutouts")
    held = [p for p in outdir.iterdir() if not p.name.startswith(".")]
    if not held:
        return
    if not overwrite:
        raise InputError(
            outdir,
            f"already holds {len(held)} files; cutouts would mix with them: choose an empty "
            "folder, or --overwrite to replace its cutouts",
        )
    for path in held:
        if path.is_file() and (is_fits_name(path) or path.name == "cutouts.csv"):
            path.unlink()


def _centre_inside(plane: tuple[int, ...], x: float, y: float) -> bool:
    return bool(np.isfinite(x) and np.isfinite(y)) and (
        0 <= round(x) < plane[1] and 0 <= round(y) < plane[0]
    )


def cutouts_from_mask(
    map_path: str | Path,
    mask_path: str | Path,
    outdir: str | Path,
    *,
    margin: int = 5,
    min_area: int = 10,
    min_side: int = MIN_SIDE,
    isolate: bool = False,
    edge: EdgePolicy = "pad",
    hdu: int | str | None = None,
    mask_hdu: int | str | None = None,
    progress: bool = False,
    overwrite: bool = False,
) -> CutoutResult:
    """Write one cutout per connected component of a mask, or per label of a label map.

    A mask with values 0/1 (or any two values, zero meaning background) is split into
    8-connected components; a map of integer labels keeps its labels, one object each.

    Parameters
    ----------
    margin : int
        Pixels added around each component's bounding box.
    min_area : int
        Components with fewer pixels are ignored.
    min_side : int
        Cutouts are at least this many pixels on a side (centred on the component).
    isolate : bool
        Blank (NaN) the pixels of other components inside each cutout.
    """
    claim_folder(Path(outdir), overwrite)
    image = read_fits(map_path, hdu=hdu)
    mask_image = read_fits(mask_path, hdu=mask_hdu, min_side=1)
    if mask_image.data.shape[-2:] != image.data.shape[-2:]:
        raise InputError(
            mask_path,
            f"mask shape {mask_image.data.shape[-2:]} does not match the map's "
            f"{image.data.shape[-2:]} ({Path(map_path).name})",
        )
    labels = _label_components(np.nan_to_num(mask_image.data))
    writer = _CutoutWriter(image, Path(outdir), edge)
    stem = Path(map_path).name.split(".")[0]
    components = ndimage.find_objects(labels)
    found = enumerate(components, start=1)
    for label, slices in progress_bar(found, "cutouts", progress, total=len(components)):
        if slices is None:
            continue
        area = int((labels[slices] == label).sum())
        if area < min_area:
            continue
        (y0, y1), (x0, x1) = ((s.start, s.stop) for s in slices)
        height = max(y1 - y0 + 2 * margin, min_side)
        width = max(x1 - x0 + 2 * margin, min_side)
        x, y = (x0 + x1 - 1) / 2, (y0 + y1 - 1) / 2
        blank = (labels != label) & (labels > 0) if isolate else None
        cards = [
            ("MASKLAB", label, "label of the mask component"),
            ("MASKAREA", area, "component area in pixels"),
        ]
        writer.cut(label, f"{stem}_obj{label:05d}", x, y, (height, width), cards, blank)
    return writer.finish()


def _label_components(mask: np.ndarray) -> np.ndarray:
    values = np.unique(mask[mask != 0])
    integer = np.allclose(values, np.round(values))
    if values.size > 1 and integer and values.min() > 0:
        return mask.astype(np.int64)  # already a label map
    labels, _ = ndimage.label(mask != 0, structure=np.ones((3, 3), dtype=bool))
    return labels


class _CutoutWriter:
    """Cuts boxes from one map, writes them with an updated WCS and keeps the index."""

    def __init__(self, image: SkyImage, outdir: Path, edge: EdgePolicy):
        if edge not in ("pad", "skip"):
            raise InputError("edge", f"must be 'pad' or 'skip', not {edge!r}")
        self.image = image
        self.outdir = outdir
        self.edge = edge
        self.records: list[CutoutRecord] = []
        self.used_names: set[str] = set()
        self.base_header = _descriptive_cards(image)
        outdir.mkdir(parents=True, exist_ok=True)

    def record(
        self, index: int, name: str, x: float, y: float, status, note: str = "", file: str = ""
    ):
        self.records.append(CutoutRecord(index, name, float(x), float(y), status, file, note))

    def cut(
        self,
        index: int,
        name: str,
        x: float,
        y: float,
        shape: tuple[int, int],
        cards: list[tuple[str, Any, str]],
        blank: np.ndarray | None = None,
        filename: str | None = None,
    ) -> None:
        # Callers place the centre inside the map, so the box always overlaps it.
        large, small = overlap_slices(self.image.data.shape[-2:], shape, (y, x), mode="partial")
        partial = any(s.stop - s.start != n for s, n in zip(small, shape, strict=True))
        if partial and self.edge == "skip":
            self.record(index, name, x, y, "skipped", "crosses the map edge")
            return
        data = np.full(self.image.data.shape[:-2] + tuple(shape), np.nan, dtype=np.float32)
        data[(..., *small)] = self.image.data[(..., *large)]
        if blank is not None:
            data[..., small[0], small[1]][..., blank[large]] = np.nan
        origin_y = large[0].start - small[0].start
        origin_x = large[1].start - small[1].start
        filename = filename or _unused_file(name, self.used_names)
        header = self._header(origin_x, origin_y, name, cards)
        fits.PrimaryHDU(data, header).writeto(self.outdir / filename, overwrite=True)
        status = "padded" if partial else "ok"
        self.record(
            index,
            name,
            x,
            y,
            status,
            "padded with NaN at the map edge" if partial else "",
            filename,
        )

    def _header(self, origin_x: int, origin_y: int, name: str, cards) -> fits.Header:
        header = self.base_header.copy()
        if self.image.wcs is not None:
            wcs = self.image.wcs.deepcopy()
            wcs.wcs.crpix[0] -= origin_x
            wcs.wcs.crpix[1] -= origin_y
            header.update(wcs.to_header())
        header["OBJECT"] = name[:68]
        header["CUTX0"] = (origin_x, "map pixel (0-based) of cutout column 0")
        header["CUTY0"] = (origin_y, "map pixel (0-based) of cutout row 0")
        header["CUTMAP"] = (Path(self.image.meta.path).name[:68], "map the cutout was taken from")
        for key, value, comment in cards:
            _set_card(header, key, value, comment)
        return header

    def finish(self) -> CutoutResult:
        return _write_index(self.outdir, self.records)


def _write_index(outdir: Path, records: list[CutoutRecord]) -> CutoutResult:
    """Write ``cutouts.csv``, the index of every requested object, last."""
    index_path = outdir / "cutouts.csv"
    with index_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "name", "x", "y", "status", "file", "note"])
        for r in records:
            writer.writerow([r.index, r.name, f"{r.x:.2f}", f"{r.y:.2f}", r.status, r.file, r.note])
    return CutoutResult(records=records, index_path=index_path)


def _descriptive_cards(image: SkyImage) -> fits.Header:
    """The map's descriptive keywords (units, beam, telescope, …) without layout or WCS."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original = fits.getheader(image.meta.path, ext=image.meta.hdu)
    header = fits.Header()
    for card in original.cards:
        if not _STRUCTURAL.match(card.keyword) and not card.keyword.startswith(("ZTENSION", "Z")):
            header.append(card)
    return header


def _set_card(header: fits.Header, key: str, value: Any, comment: str = "") -> None:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str):
        value = value.encode("ascii", "replace").decode()[:60]
    elif not isinstance(value, (int, float, bool)):
        return
    keyword = key.upper()
    plain = len(keyword) <= 8 and re.fullmatch(r"[A-Z0-9_-]+", keyword) and keyword not in header
    try:
        header[keyword if plain else f"HIERARCH {key}"] = (value, comment)
    except ValueError:  # a long name and value that cannot share one 80-character card
        header[keyword if plain else f"HIERARCH {key}"] = value


def _row_cards(row, colnames: list[str]) -> list[tuple[str, Any, str]]:
    cards = []
    for name in colnames:
        value = row[name]
        if np.ma.is_masked(value):
            continue
        cards.append((name, value, "catalogue column"))
    return cards


def _catalog_pixels(
    image: SkyImage,
    table: Table,
    catalog: str,
    ra_column: str | None,
    dec_column: str | None,
    x_column: str | None,
    y_column: str | None,
    frame: str | None,
    pixel_origin: int,
) -> tuple[np.ndarray, np.ndarray]:
    columns = ", ".join(table.colnames)
    for given in (ra_column, dec_column, x_column, y_column):
        if given is not None and given not in table.colnames:
            raise InputError(catalog, f"no column {given!r} (columns: {columns})")
    if x_column or y_column:
        if not (x_column and y_column):
            raise InputError(catalog, "give both an x and a y column")
        return _pixel_columns(table, catalog, x_column, y_column, pixel_origin)
    if ra_column or dec_column:
        if not (ra_column and dec_column):
            raise InputError(catalog, "give both an RA and a Dec column")
    else:
        ra_column, dec_column = find_column(table, RA_NAMES), find_column(table, DEC_NAMES)
        if ra_column is None or dec_column is None:
            ra_column, dec_column = (
                find_column(table, GLON_NAMES),
                find_column(table, GLAT_NAMES),
            )
            frame = frame or ("galactic" if ra_column and dec_column else None)
        if ra_column is None or dec_column is None:
            x_column, y_column = find_column(table, _X_NAMES), find_column(table, _Y_NAMES)
            if x_column and y_column:
                return _pixel_columns(table, catalog, x_column, y_column, pixel_origin)
            raise InputError(
                catalog,
                "no position columns found; name them with --ra-col/--dec-col or "
                f"--x-col/--y-col (columns: {columns})",
            )
    if image.wcs is None or not image.wcs.has_celestial:
        raise InputError(
            image.meta.path,
            "map has no celestial WCS, so sky positions cannot be placed; use pixel columns",
        )
    coords = sky_coords(table[ra_column], table[dec_column], frame or "icrs", catalog)
    x, y = skycoord_to_pixel(coords, image.wcs.celestial, origin=0)
    return np.atleast_1d(np.asarray(x, float)), np.atleast_1d(np.asarray(y, float))


def _pixel_columns(
    table, catalog, x_column, y_column, pixel_origin
) -> tuple[np.ndarray, np.ndarray]:
    try:
        x = np.asarray(table[x_column], dtype=float) - pixel_origin
        y = np.asarray(table[y_column], dtype=float) - pixel_origin
    except (TypeError, ValueError):
        raise InputError(
            catalog, f"pixel columns {x_column!r}, {y_column!r} are not numeric"
        ) from None
    return x, y


def _catalog_sizes(
    table, catalog: str, size, size_column: str | None, size_unit: str
) -> list[u.Quantity]:
    if size_column is None:
        return [parse_size(size)] * len(table)
    if size_column not in table.colnames:
        raise InputError(
            catalog, f"no size column {size_column!r} (columns: {', '.join(table.colnames)})"
        )
    column = table[size_column]
    unit = column.unit or read_quantity(f"1 {size_unit}", "--size-unit", u.pix).unit
    where = f"{catalog}: column {size_column}"
    return [parse_size(float(v) * unit, where) for v in np.asarray(column, dtype=float)]


def _box_pixels(image: SkyImage, size: u.Quantity) -> tuple[int, int]:
    """Cutout (height, width) in pixels; angular sizes use the map's pixel scale."""
    if size.unit == u.pix:
        side = size.value
    elif size.unit == BEAM:
        beam = image.meta.beam
        if beam is None or image.meta.pixel_scale is None:
            raise InputError(
                image.meta.path,
                f"map has no beam (BMAJ) or pixel scale, so a size of {size} cannot be converted",
            )
        side = size.value * beam.major / image.meta.pixel_scale
    else:
        if image.meta.pixel_scale is None:
            raise InputError(
                image.meta.path,
                f"map has no pixel scale in its WCS, so a size of {size} "
                "cannot be converted to pixels",
            )
        side = size.to_value(u.arcsec) / image.meta.pixel_scale
    side = max(1, round(float(side)))
    return side, side

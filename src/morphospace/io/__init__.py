"""Input: FITS reading, source discovery, batch reading and cutouts."""

from morphospace.choices import MIN_SIDE
from morphospace.io.cutouts import CutoutResult, cutouts_from_catalog, cutouts_from_mask, parse_size
from morphospace.io.fits import Beam, ImageMeta, SkyImage, SpectralAxis, read_fits
from morphospace.io.inspect import Inventory, format_inventory, take_inventory, write_inventory
from morphospace.io.reader import Problem, ReadResult, read_many, write_problems
from morphospace.io.sources import find_sources, read_file_list

__all__ = [
    "MIN_SIDE",
    "Beam",
    "CutoutResult",
    "ImageMeta",
    "Inventory",
    "Problem",
    "ReadResult",
    "SkyImage",
    "SpectralAxis",
    "cutouts_from_catalog",
    "cutouts_from_mask",
    "find_sources",
    "format_inventory",
    "parse_size",
    "read_file_list",
    "read_fits",
    "read_many",
    "take_inventory",
    "write_inventory",
    "write_problems",
]

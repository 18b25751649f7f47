"""Input: FITS reading, source discovery, batch reading and cutouts."""

from morphospace.io.fits import MIN_SIDE, Beam, ImageMeta, SkyImage, SpectralAxis, read_fits
from morphospace.io.reader import Problem, ReadResult, read_many, write_problems
from morphospace.io.sources import find_sources, read_file_list

__all__ = [
    "MIN_SIDE",
    "Beam",
    "ImageMeta",
    "Problem",
    "ReadResult",
    "SkyImage",
    "SpectralAxis",
    "find_sources",
    "read_file_list",
    "read_fits",
    "read_many",
    "write_problems",
]

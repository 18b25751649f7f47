"""Input: FITS reading, cutout stacks, source discovery, batch reading and cutouts."""

from morphospace._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "morphospace.choices": ["MIN_SIDE"],
        "morphospace.io.catalogue": [
            "CatalogueMatch",
            "match_catalogue",
            "normalise_name",
            "read_catalogue",
        ],
        "morphospace.io.cutouts": [
            "CutoutResult",
            "cutouts_from_catalog",
            "cutouts_from_mask",
            "parse_size",
        ],
        "morphospace.io.fits": ["Beam", "ImageMeta", "SkyImage", "SpectralAxis", "read_fits"],
        "morphospace.io.inspect": [
            "Inventory",
            "format_inventory",
            "take_inventory",
            "write_inventory",
        ],
        "morphospace.io.reader": ["Problem", "ReadResult", "read_many", "write_problems"],
        "morphospace.io.sources": ["find_sources", "object_id", "read_file_list"],
        "morphospace.io.stacks": [
            "Stack",
            "is_stack",
            "open_stack",
            "read_object",
            "split_address",
            "stack_addresses",
        ],
    },
)

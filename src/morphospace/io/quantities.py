"""Sizes and angles as astronomers write them: ``2'``, ``120"``, ``64px``, ``3 beam``."""

from __future__ import annotations

import re

from astropy import units as u

from morphospace.errors import InputError

__all__ = ["BEAM", "read_angle", "read_quantity"]

#: A length in beams (the map's restoring beam, its major axis), turned into pixels per map.
BEAM = u.beam

_SPELLINGS = (
    (re.compile(r"(?<=[\d.\s])(?:''|\")\s*$"), " arcsec"),
    (re.compile(r"(?<=[\d.\s])'\s*$"), " arcmin"),
    (re.compile(r"(?<=[\d.\s])px\s*$", re.IGNORECASE), " pix"),
    (re.compile(r"(?<=[\d.\s])(?:beams?)\s*$", re.IGNORECASE), " beam"),
)


def read_quantity(text: str | float | u.Quantity, source: str, bare: u.UnitBase) -> u.Quantity:
    """``text`` as a quantity; a bare number is in ``bare``. ``source`` (the option or the
    file) is named in the error when it cannot be read."""
    if isinstance(text, u.Quantity):
        return text
    if isinstance(text, int | float):
        return float(text) * bare
    written = str(text).strip()
    for pattern, unit in _SPELLINGS:
        written = pattern.sub(unit, written)
    try:
        quantity = u.Quantity(written)
    except (TypeError, ValueError):
        raise InputError(
            source, f"cannot read {text!r}; write e.g. 64, 64px, 30\", 2', 2arcmin or 3 beam"
        ) from None
    if quantity.unit == u.dimensionless_unscaled:
        quantity = quantity.value * bare
    return quantity


def read_angle(text: str | float | u.Quantity, source: str) -> u.Quantity:
    """A positive angle; a bare number is in arcsec."""
    angle = read_quantity(text, source, u.arcsec)
    if not angle.unit.is_equivalent(u.deg):
        raise InputError(source, f"{text!r} must be an angle (arcsec, arcmin, deg, \", ')")
    if not angle.value > 0:
        raise InputError(source, f"{text!r} must be positive")
    return angle.to(u.arcsec)

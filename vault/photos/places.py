"""What counts as a place on Earth: shared by the worker, which seals a photo's GPS position,
and the photo page, which shows it (and must not show a position sealed before this check)."""

from __future__ import annotations

import math


def place_is_real(latitude, longitude) -> bool:
    """True for finite coordinates in range (degrees, WGS 84), except exactly 0, 0: no photo is
    taken at "Null Island"; it is what a GPS block written without a fix says."""
    if not all(isinstance(value, (int, float)) for value in (latitude, longitude)):
        return False
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        return False
    if abs(latitude) > 90 or abs(longitude) > 180:
        return False
    return not (latitude == 0 and longitude == 0)

"""Where a postal code is, and how far apart two places are — offline.

The `zipcodes` package carries the US ZIP code database, so "events near me" needs no
geocoding service, no API key and no network. Distances are great-circle (haversine) in
miles, which is what "within 25 miles" means to the people searching.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import zipcodes

from core.plugin_api import UserError

RADII_MILES = (5, 10, 25, 50, 100)
DEFAULT_RADIUS_MILES = 25
EARTH_RADIUS_MILES = 3958.8
_ZIP = re.compile(r"^(\d{5})(?:-?\d{4})?$")


@dataclass(frozen=True)
class Place:
    postal_code: str
    latitude: float
    longitude: float
    locality: str
    region: str


def normalize_zip(text: str) -> str | None:
    """The 5-digit ZIP in `text` ("02139", "02139-4307", " 021394307 "), or None."""
    match = _ZIP.match(text.strip())
    return match.group(1) if match else None


def locate(postal_code: str) -> Place:
    """The centre of a US ZIP code; UserError says what to type instead."""
    code = normalize_zip(postal_code)
    if code is None:
        raise UserError(
            f"{postal_code.strip()[:20]!r} is not a US ZIP code. "
            "Type the 5 digits of a ZIP code, such as 02139."
        )
    place = _lookup(code)
    if place is None:
        raise UserError(f"We could not find the ZIP code {code}. Check it, or try a nearby one.")
    return place


@functools.lru_cache(maxsize=8192)
def _lookup(code: str) -> Place | None:
    """`zipcodes.matching` scans its whole table (about 4 ms), and the panel after signing asks
    for every signer's ZIP: remembering the answers takes that off the signing request."""
    try:
        found = zipcodes.matching(code)
    except ValueError:
        found = []
    if not found:
        return None
    place = found[0]
    return Place(
        postal_code=code,
        latitude=float(place["lat"]),
        longitude=float(place["long"]),
        locality=place.get("city") or "",
        region=place.get("state") or "",
    )


def distance_miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points, in miles."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lon: float, radius_miles: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lon, max_lon) containing every point within the radius: a cheap
    filter the database can apply before the exact distance is computed."""
    dlat = radius_miles / 69.0
    cos_lat = max(math.cos(math.radians(lat)), 0.01)
    dlon = min(radius_miles / (69.17 * cos_lat), 180.0)
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


def check_radius(value: str | int | None) -> int:
    """One of the offered radii; anything else is a clear 400."""
    if value in (None, ""):
        return DEFAULT_RADIUS_MILES
    try:
        radius = int(value)
    except (TypeError, ValueError):
        radius = -1
    if radius not in RADII_MILES:
        raise UserError(f"Choose a distance of {', '.join(map(str, RADII_MILES))} miles.")
    return radius

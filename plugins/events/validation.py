"""Checking what a host typed: every problem becomes a message that says what to change.

Times arrive as the host's wall-clock time (an HTML datetime-local value) plus an IANA time
zone, and leave as UTC instants: the zone is applied here, once, so nothing downstream guesses.
Text is stored as typed (trimmed) and escaped wherever it is shown — HTML, iCal, CSV and
email each escape in their own way — so "<b>" in a title is shown as "<b>", never obeyed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.plugin_api import UserError
from plugins.events.geo import locate
from plugins.events.tables import KINDS, VISIBILITIES

MAX_CAPACITY = 100_000
MAX_GUESTS = 20
MAX_DURATION = timedelta(days=14)
COMMON_TIME_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "UTC",
)
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_PHONE_CHARACTERS = set("0123456789+-(). ")


@dataclass(frozen=True)
class EventInput:
    """The event form's fields, as text."""

    title: str
    starts_at: str
    ends_at: str
    timezone: str
    kind: str = "other"
    description: str = ""
    visibility: str = "public"
    venue: str = ""
    address: str = ""
    locality: str = ""
    region: str = ""
    postal_code: str = ""
    online_url: str = ""
    capacity: str = ""
    host_email: str = ""
    host_phone: str = ""
    group_id: str = ""
    petition_slug: str = ""
    target_name: str = ""


@dataclass(frozen=True)
class CleanEvent:
    title: str
    description: str
    kind: str
    visibility: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    venue: str
    address: str
    locality: str
    region: str
    postal_code: str
    latitude: float | None
    longitude: float | None
    online_url: str
    capacity: int | None
    host_email: str
    host_phone: str
    group_id: int | None
    petition_slug: str
    target_name: str


def _line(value: str, label: str, limit: int, *, required: bool = False) -> str:
    text = " ".join(value.split())
    if required and not text:
        raise UserError(f"{label} is required.")
    if len(text) > limit:
        raise UserError(f"{label} is too long (at most {limit} characters).")
    return text


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`; an unknown one is a 400 naming an example."""
    text = name.strip()
    if not text:
        raise UserError("Time zone is required, such as America/Chicago.")
    try:
        if len(text) > 64 or text.startswith(("/", ".")) or ".." in text:
            raise ValueError(text)
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UserError(
            f"Unknown time zone {text[:64]!r}. Use a name from the IANA list, such as America/Chicago."
        ) from None


def local_time(value: str, zone: ZoneInfo, label: str) -> datetime:
    """A datetime-local value ("2026-05-01T18:30") in `zone`, as a UTC instant."""
    text = value.strip()
    if not text:
        raise UserError(f"{label} is required.")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"{label}: give a date and time such as 2026-05-01T18:30.") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone).replace(tzinfo=None)
    return moment.replace(tzinfo=zone, second=0, microsecond=0).astimezone(UTC)


def capacity_of(value: str) -> int | None:
    text = value.strip()
    if not text:
        return None
    try:
        capacity = int(text)
    except ValueError:
        raise UserError("Capacity must be a whole number of people, or blank for no limit.") from None
    if capacity < 1:
        raise UserError("Capacity must be at least 1, or blank for no limit.")
    if capacity > MAX_CAPACITY:
        raise UserError(f"Capacity is limited to {MAX_CAPACITY:,} people; leave it blank for no limit.")
    return capacity


def web_link(value: str) -> str:
    """An http(s) link, or empty. Other schemes (javascript:, data:) are refused."""
    text = value.strip()
    if not text:
        return ""
    if len(text) > 500:
        raise UserError("Online link is too long (at most 500 characters).")
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c.isspace() for c in text):
        raise UserError("Online link must be a web address starting with https:// (or http://).")
    return text


def email_address(value: str, label: str) -> str:
    text = value.strip()
    if not text:
        return ""
    if len(text) > 320 or not _EMAIL.match(text):
        raise UserError(f"{label}: {text[:60]!r} is not an email address.")
    return text


def phone_number(value: str, label: str) -> str:
    text = " ".join(value.split())
    if len(text) > 40 or not set(text) <= _PHONE_CHARACTERS:
        raise UserError(f"{label} may contain only digits, spaces, +, -, dots and brackets.")
    return text


def guests_of(value: str | int) -> int:
    try:
        guests = int(str(value).strip() or "0")
    except ValueError:
        raise UserError("Guests must be a whole number (0 if you come alone).") from None
    if not 0 <= guests <= MAX_GUESTS:
        raise UserError(f"You can bring between 0 and {MAX_GUESTS} guests.")
    return guests


def clean_event(data: EventInput, *, now: datetime | None = None, allow_past: bool = False) -> CleanEvent:
    """Everything checked before anything is stored."""
    now = now or datetime.now(UTC)
    title = _line(data.title, "Title", 200, required=True)
    if len(title) < 3:
        raise UserError("Title is too short: say what the event is in a few words.")
    description = data.description.strip().replace("\r\n", "\n")
    if len(description) > 10_000:
        raise UserError("Description is too long (at most 10,000 characters).")
    kind = data.kind.strip() or "other"
    if kind not in KINDS:
        raise UserError(f"Event type must be one of: {', '.join(KINDS.values())}.")
    visibility = data.visibility.strip() or "public"
    if visibility not in VISIBILITIES:
        raise UserError("Visibility must be public (listed) or unlisted (only people with the link).")
    zone = time_zone(data.timezone)
    starts_at = local_time(data.starts_at, zone, "Start")
    ends_at = local_time(data.ends_at, zone, "End")
    if ends_at <= starts_at:
        raise UserError("The end must be after the start.")
    if ends_at - starts_at > MAX_DURATION:
        raise UserError("An event can last at most 14 days; create separate events for longer series.")
    if not allow_past and starts_at < now:
        raise UserError("The start is in the past. Choose a time that is still to come.")
    online_url = web_link(data.online_url)
    venue = _line(data.venue, "Venue", 200)
    address = _line(data.address, "Address", 300)
    locality = _line(data.locality, "City", 100)
    region = _line(data.region, "State", 100)
    postal_code = _line(data.postal_code, "ZIP code", 20)
    latitude = longitude = None
    if postal_code:
        place = locate(postal_code)
        postal_code, latitude, longitude = place.postal_code, place.latitude, place.longitude
        locality = locality or place.locality
        region = region or place.region
    if not online_url and not (address and postal_code):
        raise UserError("Give the venue's address and ZIP code, or an online link for an online event.")
    group_text = data.group_id.strip()
    if group_text and not (group_text.isdigit() and len(group_text) < 10):
        raise UserError("Choose a group from the list.")
    if kind == "petition_delivery" and not data.petition_slug.strip():
        raise UserError("A petition delivery needs the petition it delivers.")
    return CleanEvent(
        title=title,
        description=description,
        kind=kind,
        visibility=visibility,
        starts_at=starts_at,
        ends_at=ends_at,
        timezone=zone.key,
        venue=venue,
        address=address,
        locality=locality,
        region=region,
        postal_code=postal_code,
        latitude=latitude,
        longitude=longitude,
        online_url=online_url,
        capacity=capacity_of(data.capacity),
        host_email=email_address(data.host_email, "Host email"),
        host_phone=phone_number(data.host_phone, "Host phone"),
        group_id=int(group_text) if group_text else None,
        petition_slug=_line(data.petition_slug, "Petition", 120),
        target_name=_line(data.target_name, "Target", 200),
    )

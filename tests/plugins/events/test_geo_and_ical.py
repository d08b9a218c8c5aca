"""Distances from ZIP codes (offline), calendar files and add-to-calendar links."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import icalendar
import pytest

from core.plugin_api import UserError
from plugins.events import geo, ical, service
from plugins.events.geo import distance_miles, locate
from tests.plugins.events.support import make_event, viewer


def test_distances_between_zip_codes_are_great_circle_miles():
    denver, boulder, nyc = locate("80202"), locate("80302"), locate("10001")
    assert 20 < distance_miles(denver.latitude, denver.longitude, boulder.latitude, boulder.longitude) < 30
    assert 1600 < distance_miles(denver.latitude, denver.longitude, nyc.latitude, nyc.longitude) < 1650
    assert denver.locality == "Denver" and denver.region == "CO"


def test_each_zip_code_is_looked_up_once_and_unknown_ones_stay_clear_errors():
    """The panel after signing locates every signer's ZIP: the table scan happens once per code."""
    geo._lookup.cache_clear()
    assert locate("02139") == locate("02139-4307") == locate(" 02139 ")
    assert geo._lookup.cache_info().misses == 1
    for _ in range(2):
        with pytest.raises(UserError, match="could not find the ZIP code 00000"):
            locate("00000")
    assert geo._lookup.cache_info().misses == 2


async def test_events_near_a_zip_code_are_found_within_the_radius_nearest_first():
    near = await make_event(postal_code="80203", title="Capitol Hill meeting")
    far = await make_event(postal_code="80302", title="Boulder rally")
    await make_event(postal_code="10001", title="New York phone bank")
    await make_event(postal_code="80204", visibility="unlisted", title="Unlisted party")
    found = await service.events_near(locate("80202"), 10)
    assert [n.event.id for n in found] == [near.id]
    found = await service.events_near(locate("80202"), 50)
    assert [n.event.id for n in found] == [near.id, far.id]


async def test_an_event_calendar_file_keeps_the_events_own_time_zone():
    event = await make_event(title="Rally <at> the Capitol", description="Bring a sign; and water, too.")
    parsed = icalendar.Calendar.from_ical(ical.calendar([event], name=event.title))
    [item] = parsed.walk("VEVENT")
    assert str(item["summary"]) == "Rally <at> the Capitol"
    assert item.decoded("dtstart").tzinfo.key == "America/Denver"
    assert item.decoded("dtstart") == event.starts_at
    assert str(item["uid"]) == f"event-{event.id}@testserver.local"
    assert int(item["sequence"]) == 1 and str(item["status"]) == "CONFIRMED"
    assert "Bring a sign; and water, too." in str(item["description"])
    assert [tz["tzid"] for tz in parsed.walk("VTIMEZONE")] == ["America/Denver"]


async def test_a_cancelled_event_is_cancelled_in_calendars_with_a_new_sequence():
    host = await viewer(role="leader")
    event = await make_event(host)
    event = await service.cancel_event(event.id, host)
    [item] = icalendar.Calendar.from_ical(ical.calendar([event], name="x")).walk("VEVENT")
    assert str(item["status"]) == "CANCELLED" and int(item["sequence"]) == 2


async def test_add_to_calendar_links_carry_the_times_in_utc():
    event = await make_event(starts_in=timedelta(days=2))
    google = parse_qs(urlsplit(ical.google_link(event)).query)
    start = event.starts_at.strftime("%Y%m%dT%H%M%SZ")
    assert google["action"] == ["TEMPLATE"] and google["text"] == [event.title]
    assert google["dates"][0].startswith(start + "/") and google["ctz"] == ["America/Denver"]
    outlook = parse_qs(urlsplit(ical.outlook_link(event)).query)
    assert outlook["subject"] == [event.title] and outlook["startdt"][0] == event.starts_at.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )

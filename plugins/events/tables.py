"""The plugin's tables (named `events_…`: a plugin owns its namespace).

Times are stored in UTC (`starts_at`, `ends_at`) next to the event's IANA time zone, which is
how they are shown: a house party at 7 pm in Denver stays at 7 pm in Denver whatever the
server's or the reader's zone. An attendance is unique per event and person (a unique index
made by the migration), so RSVPing twice updates the first RSVP instead of adding a second.
"""

from piccolo.columns import Boolean, DoublePrecision, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from core.plugin_api import Group, Person, Petition

KINDS = {
    "rally": "Rally",
    "petition_delivery": "Petition delivery",
    "house_party": "House party",
    "meeting": "Meeting",
    "phone_bank": "Phone bank",
    "other": "Other",
}
# pending (a member's event, waiting for staff) → published → cancelled; pending → rejected.
EVENT_STATUSES = ("pending", "published", "cancelled", "rejected")
VISIBILITIES = ("public", "unlisted")
# going → cancelled; waitlisted → going (promoted) or cancelled.
ATTENDANCE_STATUSES = ("going", "waitlisted", "cancelled")


class Event(Table, tablename="events_event"):
    """An event. `version` grows with every change attendees must hear about (a new time or
    place, a cancellation): notification keys and the iCal SEQUENCE are built from it."""

    title = Varchar(length=200)
    description = Text(default="")
    kind = Varchar(length=20, default="other")
    status = Varchar(length=12, default="published", index=True)
    visibility = Varchar(length=10, default="public")
    starts_at = Timestamptz(index=True)
    ends_at = Timestamptz()
    timezone = Varchar(length=64)
    venue = Varchar(length=200, default="")
    address = Varchar(length=300, default="")
    locality = Varchar(length=100, default="")
    region = Varchar(length=100, default="")
    postal_code = Varchar(length=20, default="", index=True)
    latitude = DoublePrecision(null=True, default=None)
    longitude = DoublePrecision(null=True, default=None)
    online_url = Varchar(length=500, default="")
    capacity = Integer(null=True, default=None)
    host = ForeignKey(references=Person, on_delete=OnDelete.set_null, null=True)
    host_email = Varchar(length=320, default="")
    host_phone = Varchar(length=40, default="")
    group = ForeignKey(references=Group, on_delete=OnDelete.set_null, null=True)
    petition = ForeignKey(references=Petition, on_delete=OnDelete.set_null, null=True)
    target_name = Varchar(length=200, default="")
    status_reason = Text(default="")
    version = Integer(default=1)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Attendance(Table, tablename="events_attendance"):
    """One person's RSVP. `revision` grows with each change of status, so the email about a
    change has a key of its own. `queued_at` orders the waitlist. `muted`: the attendee asked
    for no more reminders or host messages about this event."""

    event = ForeignKey(references=Event, on_delete=OnDelete.cascade, index=True)
    person = ForeignKey(references=Person, on_delete=OnDelete.cascade, index=True)
    status = Varchar(length=12, default="going", index=True)
    guests = Integer(default=0)
    queued_at = Timestamptz(default=TimestamptzNow())
    checked_in_at = Timestamptz(null=True, default=None)
    muted = Boolean(default=False)
    reminded_24h = Boolean(default=False)
    reminded_2h = Boolean(default=False)
    revision = Integer(default=1)
    source = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class EventMessage(Table, tablename="events_message"):
    """A message a host sent to an event's attendees: what was said, by whom, to how many."""

    event = ForeignKey(references=Event, on_delete=OnDelete.cascade, index=True)
    sender = ForeignKey(references=Person, on_delete=OnDelete.set_null, null=True)
    subject = Varchar(length=200)
    body = Text()
    recipients = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())

"""What the leader's and the staff's mail pages share: reading the compose form (every problem
found at once, each a sentence to act on), reading a send time, and choosing whose merge fields
a preview shows.

Times typed into a `datetime-local` field carry no zone; this instance reads them as UTC
(SCHEDULE_ZONE), and the pages say so next to the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from piccolo.query.functions.aggregate import Count

from core.errors import UserError
from core.mailings.audience import is_member, parse_audience, sample_person_id
from core.mailings.service import (
    FROM_NAME_MAX,
    MAX_TEST_FRACTION,
    MAX_TEST_WINDOW_S,
    MIN_TEST_FRACTION,
    MIN_TEST_WINDOW_S,
)
from core.mailings.tables import MAIL_TOPICS, Delivery
from core.people.tables import Person
from core.petitions.tables import Signature
from core.web.forms import field as form_field

SCHEDULE_ZONE = "UTC"
SUBJECT_MAX = 300
BODY_MAX = 100_000
VARIANT_LABELS = ("A", "B", "C", "D")
AUDIENCE_KINDS = ("all", "group", "tag", "region", "postal_prefix", "petition", "saved")
# Defaults shown in a new staff form (and used when a field is left empty).
DEFAULTS = {
    "topic": "campaigns",
    "test_percent": "20",
    "window_hours": "4",
    "window_minutes": "0",
    "max_unsubscribe_percent": "2",
    "max_bounce_percent": "5",
    "audience_kind": "all",
}


def submitted_values(data: dict[str, Any]) -> dict[str, Any]:
    """What was typed, to show the form again with it (repeated fields stay lists)."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "_csrf_token":
            continue
        if key == "exclude_signed":
            values[key] = [str(v) for v in (value if isinstance(value, list) else [value])]
        else:
            values[key] = value[-1] if isinstance(value, list) else value
    return values


class _Reader:
    """Reads fields, collecting problems instead of stopping at the first."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.errors: list[str] = []

    def text(self, name: str, max_length: int, label: str) -> str:
        try:
            return form_field(self.data, name, max_length=max_length)
        except UserError:
            self.errors.append(f"{label} is too long: keep it under {max_length:,} characters.")
            return ""

    def number(self, name: str, label: str, *, low: float, high: float, default: str = "0") -> float:
        raw = self.text(name, 20, label).replace(",", ".") or default
        try:
            value = float(raw)
        except ValueError:
            self.errors.append(f"{label} must be a number, like {default}.")
            return float(default)
        if not low <= value <= high:
            self.errors.append(f"{label} must be between {low:g} and {high:g}.")
            return float(default)
        return value

    def whole(self, name: str, label: str, *, low: int, high: int, default: str = "0") -> int:
        raw = self.text(name, 12, label).replace(",", "") or default
        if not raw.isdigit():
            self.errors.append(f"{label} must be a whole number, like {default}.")
            return int(default)
        value = int(raw)
        if not low <= value <= high:
            self.errors.append(f"{label} must be between {low:,} and {high:,}.")
            return int(default)
        return value

    def ids(self, name: str, label: str) -> list[int]:
        raw = self.data.get(name, [])
        raw = raw if isinstance(raw, list) else [raw]
        found = []
        for value in raw:
            text = str(value).strip()
            if not text:
                continue
            if not text.isdigit() or len(text) > 10:
                self.errors.append(f"{label}: choose from the list.")
                return []
            found.append(int(text))
        return sorted(set(found))


@dataclass
class Draft:
    """What a compose form says, in the service's terms."""

    subject: str
    body: str
    variants: list[str] = field(default_factory=list)
    audience: dict[str, Any] = field(default_factory=dict)
    topic: str = "campaigns"
    from_name: str = ""
    reply_to: str = ""
    test_fraction: float = 0.0
    test_window_seconds: int = 4 * 3600
    max_unsubscribe_rate: float = 0.02
    max_bounce_rate: float = 0.05

    def fields(self) -> dict[str, Any]:
        """Keyword arguments for create_mailing / update_mailing."""
        return {
            "subject": self.subject,
            "body": self.body,
            "variants": self.variants,
            "audience": self.audience,
            "topic": self.topic,
            "from_name": self.from_name,
            "reply_to": self.reply_to,
            "test_fraction": self.test_fraction,
            "test_window_seconds": self.test_window_seconds,
            "max_unsubscribe_rate": self.max_unsubscribe_rate,
            "max_bounce_rate": self.max_bounce_rate,
        }


def read_leader_form(data: dict[str, Any]) -> tuple[Draft, list[str]]:
    """A leader writes one subject and a body; the audience is always their petition's signers."""
    reader = _Reader(data)
    subject = reader.text("subject", SUBJECT_MAX, "The subject")
    body = reader.text("body", BODY_MAX, "The message")
    if not subject:
        reader.errors.append("Write a subject line.")
    if not body:
        reader.errors.append("Write the message.")
    return Draft(subject=subject, body=body), reader.errors


def read_audience(reader: _Reader) -> dict[str, Any]:
    """The audience builder's fields as an audience spec (core.mailings.audience checks it)."""
    kind = reader.text("audience_kind", 20, "The audience") or "all"
    spec: dict[str, Any] = {}
    if kind not in AUDIENCE_KINDS:
        reader.errors.append("Choose who receives the mailing from the list.")
    elif kind == "all":
        spec["all"] = True
    elif kind in ("group", "tag", "petition", "saved"):
        label = {
            "group": "The group",
            "tag": "The tag",
            "petition": "The petition",
            "saved": "The saved audience",
        }
        chosen = reader.ids(f"audience_{kind}", label[kind])
        if len(chosen) != 1:
            reader.errors.append(f"{label[kind]}: choose one from the list.")
        else:
            spec[kind] = chosen[0]
    else:
        label = "The region" if kind == "region" else "The postal code prefix"
        value = reader.text(f"audience_{kind}", 100 if kind == "region" else 20, label)
        if not value:
            reader.errors.append(f"{label}: type one, or choose another audience.")
        spec[kind] = value
    excluded = reader.ids("exclude_signed", "Leave out signers of")
    if excluded:
        spec["exclude_signed"] = excluded
    days = reader.whole("exclude_mailed_days", "Leave out members mailed in the last … days", low=0, high=365)
    if days:
        spec["exclude_mailed_days"] = days
    return spec


def read_audience_form(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    reader = _Reader(data)
    return read_audience(reader), reader.errors


def read_staff_form(data: dict[str, Any]) -> tuple[Draft, list[str]]:
    """Staff choose the audience, the topic, the sender and 1 to 4 subject lines (an A/B test
    when there are two or more), with the test's slice, window and circuit breaker."""
    reader = _Reader(data)
    subjects = [
        reader.text(f"subject_{label.lower()}", SUBJECT_MAX, f"Subject {label}") for label in VARIANT_LABELS
    ]
    subjects = [s for s in subjects if s]
    body = reader.text("body", BODY_MAX, "The message")
    if not subjects:
        reader.errors.append("Write a subject line (subject A).")
    if not body:
        reader.errors.append("Write the message.")
    topic = reader.text("topic", 30, "The topic") or DEFAULTS["topic"]
    if topic not in MAIL_TOPICS:
        reader.errors.append("Choose the topic from the list.")
    audience = read_audience(reader)
    testing = len(subjects) > 1
    low, high = round(MIN_TEST_FRACTION * 100), round(MAX_TEST_FRACTION * 100)
    percent = reader.number(
        "test_percent", "The test slice (%)", low=low, high=high, default=DEFAULTS["test_percent"]
    )
    window = reader.whole("window_hours", "The test window's hours", low=0, high=168, default="4") * 3600
    window += reader.whole("window_minutes", "The test window's minutes", low=0, high=59) * 60
    if testing and not MIN_TEST_WINDOW_S <= window <= MAX_TEST_WINDOW_S:
        reader.errors.append(
            f"Let the test run between {MIN_TEST_WINDOW_S // 60} minutes and "
            f"{MAX_TEST_WINDOW_S // 86400} days before the winner is picked."
        )
    unsubscribe = reader.number(
        "max_unsubscribe_percent", "The unsubscribe limit (%)", low=0.1, high=100, default="2"
    )
    bounce = reader.number("max_bounce_percent", "The bounce limit (%)", low=0.1, high=100, default="5")
    draft = Draft(
        subject=subjects[0] if subjects else "",
        body=body,
        variants=subjects[1:],
        audience=audience,
        topic=topic,
        from_name=reader.text("from_name", FROM_NAME_MAX, "The sender's name"),
        reply_to=reader.text("reply_to", 320, "The reply-to address"),
        test_fraction=percent / 100 if testing else 0.0,
        test_window_seconds=window if testing else 4 * 3600,
        max_unsubscribe_rate=unsubscribe / 100,
        max_bounce_rate=bounce / 100,
    )
    return draft, reader.errors


def form_values(mailing: dict[str, Any]) -> dict[str, Any]:
    """A saved mailing as the staff form's fields (service.get_mailing's shape)."""
    subjects = [v["subject"] for v in mailing["variants"]] or [mailing["subject"]]
    values: dict[str, Any] = {
        f"subject_{label.lower()}": text for label, text in zip(VARIANT_LABELS, subjects, strict=False)
    }
    spec = dict(mailing["audience"])
    kind = next((k for k in AUDIENCE_KINDS if k in spec), "all")
    values["audience_kind"] = kind
    if kind != "all":
        values[f"audience_{kind}"] = str(spec[kind])
    values["exclude_signed"] = [str(i) for i in spec.get("exclude_signed", [])]
    values["exclude_mailed_days"] = str(spec.get("exclude_mailed_days", 0))
    window = int(mailing["test_window_seconds"])
    values.update(
        {
            "body": mailing["body"],
            "topic": mailing["topic"],
            "from_name": mailing["from_name"],
            "reply_to": mailing["reply_to"],
            "test_percent": f"{mailing['test_fraction'] * 100:g}"
            if mailing["test_fraction"]
            else DEFAULTS["test_percent"],
            "window_hours": str(window // 3600),
            "window_minutes": str(window % 3600 // 60),
            "max_unsubscribe_percent": f"{mailing['max_unsubscribe_rate'] * 100:g}",
            "max_bounce_percent": f"{mailing['max_bounce_rate'] * 100:g}",
        }
    )
    return values


def window_words(seconds: int) -> str:
    hours, minutes = divmod(int(seconds) // 60, 60)
    parts = [
        f"{hours} hour{'s' if hours != 1 else ''}" if hours else "",
        f"{minutes} minute{'s' if minutes != 1 else ''}" if minutes else "",
    ]
    return " ".join(p for p in parts if p) or f"{int(seconds)} seconds"


async def sent_counts(mailing_ids: list[int]) -> dict[int, int]:
    """Messages that left, per mailing, for listings (one query for the page)."""
    if not mailing_ids:
        return {}
    rows = await (
        Delivery.select(Delivery.mailing, Count(Delivery.id).as_alias("n"))
        .where(Delivery.mailing.is_in(mailing_ids), Delivery.status.is_in(["sent", "bounced"]))
        .group_by(Delivery.mailing)
    )
    return {row["mailing"]: row["n"] for row in rows}


def read_send_time(data: dict[str, Any], *, now: datetime | None = None) -> datetime:
    """The `when` field (a datetime-local value, read in SCHEDULE_ZONE) as an aware datetime."""
    raw = form_field(data, "when", max_length=40)
    if not raw:
        raise UserError("Choose the date and time to send it.")
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise UserError(
            "The send time is not a date and time; use the picker, like 2030-05-01 09:30."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment <= (now or datetime.now(UTC)):
        raise UserError(
            f"That time has already passed ({moment.strftime('%Y-%m-%d %H:%M')} {SCHEDULE_ZONE}). "
            "Choose a time in the future, or send it now."
        )
    return moment


async def preview_person(
    audience_spec: dict[str, Any],
    topic: str,
    *,
    petition_id: int | None = None,
    consenting_only: bool = False,
) -> dict[str, Any] | None:
    """Whose merge fields a preview and a test show: a real member of the audience. For a
    leader's email, the latest signer who agreed to share their details with the creator (else,
    unless `consenting_only`, the latest signer) who can still be mailed; otherwise the
    audience's first member. The page shows only the given name; addresses never leave this
    function. With `consenting_only` and no consenting signer: None (preview a sample)."""
    audience = parse_audience(audience_spec)
    person_id = None
    if petition_id is not None:
        for consented in (True,) if consenting_only else (True, False):
            query = (
                Signature.select(Signature.person)
                .where(Signature.petition == petition_id, Signature.status == "counted")
                .order_by(Signature.id, ascending=False)
                .limit(20)
            )
            if consented:
                query = query.where(Signature.share_with_creator.eq(True))
            for row in await query:
                if await is_member(audience, row["person"], topic):
                    person_id = row["person"]
                    break
            if person_id is not None:
                break
    if person_id is None and not consenting_only:
        person_id = await sample_person_id(audience, topic)
    if person_id is None:
        return None
    row = await Person.select(Person.given_name).where(Person.id == person_id).first()
    if row is None:
        return None
    return {"id": person_id, "given_name": row["given_name"] or "a member who gave no name"}

"""A member's mail preferences: topics they turned off and how often they want mail at most.

Offering "less" instead of "nothing" keeps members who would otherwise unsubscribe; the
sender reads these in batches (`preferences_for`) when it resolves and sends a mailing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.errors import NotFound, UserError
from core.mailings.tables import MAIL_TOPICS, MailPreference
from core.people.tables import Person

# What each topic means to a member, in the order the preferences page shows them.
TOPIC_LABELS = {
    "campaigns": "New campaigns and actions you can take",
    "petition_updates": "Updates on petitions you signed (victories, deliveries, next steps)",
    "events": "Events and meetings near you",
    "national": "National campaigns from the wider network",
}
assert set(TOPIC_LABELS) == set(MAIL_TOPICS), "every mail topic needs a label"

# "At most N emails a week"; 0 means no limit of the member's own (the instance's cap applies).
FREQUENCY_CHOICES = (0, 1, 2, 3, 5)
_CHUNK = 500


@dataclass(frozen=True)
class Pref:
    topics_off: tuple[str, ...] = ()
    max_per_week: int = 0

    def wants(self, topic: str) -> bool:
        return topic not in self.topics_off


DEFAULT = Pref()


def frequency_label(choice: int) -> str:
    if choice == 0:
        return "No limit of my own"
    return f"At most {choice} email{'s' if choice != 1 else ''} a week"


def _topics(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return ()
    return tuple(t for t in value or () if t in MAIL_TOPICS)


def _pref(row: dict[str, Any]) -> Pref:
    return Pref(topics_off=_topics(row["topics_off"]), max_per_week=int(row["max_per_week"] or 0))


async def get_preferences(person_id: int) -> Pref:
    row = (
        await MailPreference.select(MailPreference.topics_off, MailPreference.max_per_week)
        .where(MailPreference.person == person_id)
        .first()
    )
    return _pref(row) if row else DEFAULT


async def set_preferences(person_id: int, topics_off: Iterable[str], max_per_week: int) -> Pref:
    """Save the member's choices (replacing earlier ones); UserError names a bad value."""
    chosen = list(dict.fromkeys(topics_off))
    unknown = [t for t in chosen if t not in MAIL_TOPICS]
    if unknown:
        raise UserError(f"Unknown mail topic {unknown[0]!r}; choose from {', '.join(MAIL_TOPICS)}.")
    if max_per_week not in FREQUENCY_CHOICES:
        raise UserError(
            f"How often must be one of {', '.join(map(str, FREQUENCY_CHOICES))} emails a week (0: no limit)."
        )
    if not await Person.exists().where(Person.id == person_id):
        raise NotFound("This member no longer exists.")
    ordered = [t for t in MAIL_TOPICS if t in chosen]
    await MailPreference.insert(
        MailPreference(
            person=person_id, topics_off=ordered, max_per_week=max_per_week, updated_at=datetime.now(UTC)
        )
    ).on_conflict(
        target=MailPreference.person,
        action="DO UPDATE",
        values=[MailPreference.topics_off, MailPreference.max_per_week, MailPreference.updated_at],
    )
    return Pref(topics_off=tuple(ordered), max_per_week=max_per_week)


async def preferences_for(person_ids: Iterable[int]) -> dict[int, Pref]:
    """Everyone's preferences in a few queries; members who never chose get DEFAULT."""
    ids = list(dict.fromkeys(person_ids))
    found = dict.fromkeys(ids, DEFAULT)
    for start in range(0, len(ids), _CHUNK):
        rows = await MailPreference.select(
            MailPreference.person, MailPreference.topics_off, MailPreference.max_per_week
        ).where(MailPreference.person.is_in(ids[start : start + _CHUNK]))
        for row in rows:
            found[row["person"]] = _pref(row)
    return found

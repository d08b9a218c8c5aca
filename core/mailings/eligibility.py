"""Send-time checks: may this member get this mailing now?

The audience was resolved when sending started, possibly hours earlier; since then a member
may have unsubscribed, bounced, turned the topic off or received other mailings. So the
sender asks again for every batch, in four queries for the whole batch (people, suppressed
addresses, preferences, mail sent this week), never one per member.

The frequency cap counts every campaign delivery (staff mailings, leaders' mailings to
signers, boosts) sent in the last 7 days, against the lower of the instance's cap and the
member's own "at most N a week". Transactional mail (sign-in links, receipts, test sends)
has no delivery row and does not count.

Two mailings may be sending at once. Each sender claims its batch (status 'sending', with a
lease) before it asks these questions, so a delivery another mailing holds in flight counts
as sent: two senders can then never both take a member's last slot. At worst both hold back
and the member gets neither this week — the cap is a promise to members, so it errs that way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core.mailings.composing import PERSON_COLUMNS
from core.mailings.tables import Delivery

FREQUENCY_WINDOW = timedelta(days=7)


@dataclass
class BatchFacts:
    people: dict[int, dict[str, Any]]
    suppressed: set[str]
    topics_off: dict[int, set[str]]
    max_per_week: dict[int, int]
    sent_this_week: dict[int, int]


def _marks(values: list[Any]) -> str:
    return ", ".join("{}" for _ in values)


async def batch_facts(person_ids: list[int], claimed_ids: Sequence[int] = ()) -> BatchFacts:
    """Everything the send-time checks need for a batch, in four queries. `claimed_ids` are
    this batch's own deliveries, which are in flight but must not count against themselves."""
    ids = sorted(set(person_ids))
    people = {
        row["id"]: row
        for row in await Delivery.raw(
            f"SELECT {PERSON_COLUMNS} FROM person WHERE id IN ({_marks(ids)})",  # noqa: S608
            *ids,
        )
    }
    keys = sorted({row["email_key"] for row in people.values()})
    suppressed = (
        {
            row["email_key"]
            for row in await Delivery.raw(
                f"SELECT email_key FROM suppressed_address WHERE email_key IN ({_marks(keys)})",  # noqa: S608
                *keys,
            )
        }
        if keys
        else set()
    )
    topics_off: dict[int, set[str]] = {}
    max_per_week: dict[int, int] = {}
    for row in await Delivery.raw(
        f"SELECT person, topics_off, max_per_week FROM mail_preference WHERE person IN ({_marks(ids)})",  # noqa: S608
        *ids,
    ):
        value = row["topics_off"]
        if isinstance(value, str):
            try:
                value = json.loads(value or "[]")
            except ValueError:
                value = []
        topics_off[row["person"]] = {str(topic) for topic in value or []}
        max_per_week[row["person"]] = int(row["max_per_week"] or 0)
    since = datetime.now(UTC) - FREQUENCY_WINDOW
    own = sorted(set(claimed_ids)) or [0]  # ids start at 1: [0] excludes nothing
    sent_this_week = {
        row["person"]: int(row["n"])
        for row in await Delivery.raw(
            "SELECT person, COUNT(*) AS n FROM delivery "  # noqa: S608
            f"WHERE person IN ({_marks(ids)}) AND ((status = 'sent' AND sent_at >= {{}}) "
            f"OR (status = 'sending' AND lease_until >= {{}} AND id NOT IN ({_marks(own)}))) "
            "GROUP BY person",
            *ids,
            since,
            time.time(),
            *own,
        )
    }
    return BatchFacts(people, suppressed, topics_off, max_per_week, sent_this_week)


def skip_reason(person: dict[str, Any] | None, facts: BatchFacts, topic: str, cap: int) -> str:
    """Why this member must not get this mailing now ("" if they may)."""
    if person is None:
        return "the member no longer exists"
    if person["subscription"] != "subscribed":
        return f"not subscribed ({person['subscription']})"
    if person["email_key"] in facts.suppressed:
        return "address suppressed (bounced or complained)"
    pid = person["id"]
    if topic in facts.topics_off.get(pid, ()):
        return f"turned off {topic.replace('_', ' ')} emails"
    own = facts.max_per_week.get(pid, 0)
    limit = min(cap, own) if cap and own else (cap or own)
    if limit and facts.sent_this_week.get(pid, 0) >= limit:
        return "frequency cap"
    return ""

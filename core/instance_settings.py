"""Policy settings an admin changes at run time (moderation mode, confirmation by email, …),
kept in the database so every process sees the same values. Deployment settings (URLs,
secrets) stay in the environment: see core.settings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from piccolo.columns import JSON, Varchar
from piccolo.table import Table

from core.errors import UserError


class InstanceSetting(Table, tablename="instance_setting"):
    key = Varchar(length=100, unique=True)
    value = JSON(default="null")


@dataclass(frozen=True)
class Policy:
    """A setting with a fixed set of `choices`, or free text (no choices) of at most
    `max_length` characters."""

    key: str
    default: Any
    choices: tuple[Any, ...]
    label: str
    max_length: int = 0

    @property
    def is_text(self) -> bool:
        return not self.choices

    def allows(self, value: Any) -> bool:
        if self.is_text:
            return isinstance(value, str) and len(value) <= self.max_length
        # `1 in (True, False)` is true in Python; a stored 1 must not pass for True.
        return any(value == c and type(value) is type(c) for c in self.choices)


POLICY_NOTE_MAX = 5000
TRUSTED_IPS_MAX = 5000

POLICIES = {
    p.key: p
    for p in (
        Policy(
            "moderation",
            "post",
            ("pre", "post"),
            "Pre-moderation publishes member petitions after staff approve them; "
            "post-moderation publishes at once and staff review afterwards.",
        ),
        Policy(
            "confirm_signatures",
            False,
            (True, False),
            "Count a signature only after the signer confirms it from an email.",
        ),
        Policy(
            "policy_note",
            "",
            (),
            "The instance's values and rules for petitions, shown to staff in the moderation "
            "queue and to people starting a petition.",
            max_length=POLICY_NOTE_MAX,
        ),
        Policy(
            "trusted_ips",
            "",
            (),
            "IP addresses or networks, one a line, whose signatures skip the rate limits "
            "(blocks still apply): an office that collects signatures, a test rig.",
            max_length=TRUSTED_IPS_MAX,
        ),
        Policy(
            "mail_frequency_cap",
            3,
            (0, 1, 2, 3, 5, 7, 14),
            "At most this many campaign emails per member in any 7 days, across every mailing "
            "(0: no cap). Sign-in links and receipts do not count.",
        ),
        Policy(
            "mail_rate_per_second",
            50,
            (1, 5, 10, 20, 50, 100, 200, 500, 0),
            "How many campaign emails each worker sends per second at most (0: as fast as the "
            "mail server accepts them). Ask your provider what it allows.",
        ),
        Policy(
            "mail_open_tracking",
            False,
            (True, False),
            "Add an invisible image to campaign emails to count opens. Off by default: it tells "
            "us when someone reads their mail, and mail apps increasingly block it anyway.",
        ),
        Policy(
            "boost_threshold",
            20,
            (5, 10, 20, 50, 100, 200),
            "Boosts: a published petition becomes a candidate for a member sample at this many signatures.",
        ),
        Policy(
            "boost_first_stage",
            500,
            (50, 100, 200, 500, 1000, 2000),
            "Boosts: how many eligible members the first random sample (and each further small stage) mails.",
        ),
        Policy(
            "boost_window_hours",
            24,
            (1, 6, 12, 24, 48, 72),
            "Boosts: how long after a stage's last email its signatures and unsubscribes are "
            "counted before the engine decides.",
        ),
        Policy(
            "boost_daily_per_100",
            15,
            (0, 5, 10, 15, 30, 50, 100),
            "Boosts: emails per 100 members per day, shared by all boosted petitions (15: about one "
            "per member a week; 0: boosts send nothing).",
        ),
        Policy(
            "boost_member_gap_days",
            3,
            (1, 2, 3, 7, 14),
            "Boosts: a member gets at most one boost email in this many days, whichever petitions compete.",
        ),
        Policy(
            "boost_accept_remote",
            True,
            (True, False),
            "Federation-wide boosts: mail samples of this instance's members when the hub asks "
            "(under the same gap and caps; only aggregate counts go back). Off: every request is refused.",
        ),
        Policy(
            "boost_remote_k_min",
            10,
            (5, 10, 20, 50),
            "Federation-wide boosts: the smallest sample a partner mails, and the smallest count "
            "it reports (smaller counts are sent as suppressed).",
        ),
    )
}


async def get_policy(key: str) -> Any:
    policy = POLICIES[key]
    row = await InstanceSetting.select(InstanceSetting.value).where(InstanceSetting.key == key).first()
    if row is None:
        return policy.default
    value = row["value"]
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return policy.default
    return value if policy.allows(value) else policy.default


def check_policy(key: str, value: Any) -> Policy:
    """The policy, if `value` is allowed for it; otherwise a UserError saying what is."""
    policy = POLICIES.get(key)
    if policy is None:
        raise UserError(f"There is no setting called {key!r}.")
    if policy.is_text and isinstance(value, str) and len(value) > policy.max_length:
        raise UserError(f"Keep {key.replace('_', ' ')} under {policy.max_length:,} characters.")
    if not policy.allows(value):
        if policy.is_text:
            raise UserError(f"{key} must be text.")
        allowed = ", ".join(str(c) for c in policy.choices)
        raise UserError(f"{key} must be one of {allowed}.")
    return policy


async def set_policy(key: str, value: Any) -> None:
    check_policy(key, value)
    # Serialised here: Piccolo stores a str given to a JSON column as if it were JSON already.
    encoded = json.dumps(value)
    existing = await InstanceSetting.exists().where(InstanceSetting.key == key)
    if existing:
        await InstanceSetting.update({InstanceSetting.value: encoded}).where(InstanceSetting.key == key)
    else:
        await InstanceSetting.insert(InstanceSetting(key=key, value=encoded))


async def set_policies(values: dict[str, Any]) -> None:
    """Set several policies at once: all of them or, if any value is not allowed, none."""
    from core.db import write_transaction

    for key, value in values.items():
        check_policy(key, value)
    async with write_transaction():
        for key, value in values.items():
            await set_policy(key, value)

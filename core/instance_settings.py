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
    key: str
    default: Any
    choices: tuple[Any, ...]
    label: str


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
    )
}


async def get_policy(key: str) -> Any:
    policy = POLICIES[key]
    row = await InstanceSetting.select(InstanceSetting.value).where(InstanceSetting.key == key).first()
    if row is None:
        return policy.default
    value = json.loads(row["value"]) if isinstance(row["value"], str) else row["value"]
    return value if value in policy.choices else policy.default


async def set_policy(key: str, value: Any) -> None:
    policy = POLICIES.get(key)
    if policy is None:
        raise UserError(f"There is no setting called {key!r}.")
    if value not in policy.choices:
        allowed = ", ".join(str(c) for c in policy.choices)
        raise UserError(f"{key} must be one of {allowed}.")
    existing = await InstanceSetting.exists().where(InstanceSetting.key == key)
    if existing:
        await InstanceSetting.update({InstanceSetting.value: value}).where(InstanceSetting.key == key)
    else:
        await InstanceSetting.insert(InstanceSetting(key=key, value=value))

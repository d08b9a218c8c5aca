"""The admin's per-instance switch: plugins installed and enabled by the environment that an
admin has turned off. Kept in the database (one `instance_setting` row) so every process of
the instance agrees; read at start-up, so a change takes effect on the next restart."""

from __future__ import annotations

import json

from core.instance_settings import InstanceSetting

SETTING_KEY = "plugins.disabled"


async def disabled_by_admin() -> set[str]:
    if not await InstanceSetting.table_exists():  # a new instance, before its first migration
        return set()
    row = (
        await InstanceSetting.select(InstanceSetting.value).where(InstanceSetting.key == SETTING_KEY).first()
    )
    if row is None:
        return set()
    value = row["value"]
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return set()
    return {name for name in value if isinstance(name, str)} if isinstance(value, list) else set()


async def set_disabled_by_admin(names: set[str]) -> None:
    from core.db import write_transaction

    # Serialised here: Piccolo stores a str given to a JSON column as if it were JSON already.
    encoded = json.dumps(sorted(names))
    async with write_transaction():
        if await InstanceSetting.exists().where(InstanceSetting.key == SETTING_KEY):
            await InstanceSetting.update({InstanceSetting.value: encoded}).where(
                InstanceSetting.key == SETTING_KEY
            )
        else:
            await InstanceSetting.insert(InstanceSetting(key=SETTING_KEY, value=encoded))

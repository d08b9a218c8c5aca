from piccolo.columns import JSON, DoublePrecision, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class OutboxItem(Table, tablename="outbox_item"):
    """One pending unit of background work. The database, not the broker, is the source of
    truth: broker messages only say "work on topic X", and `key` makes enqueueing idempotent.

    Times used in claiming (`available_at`, `lease_until`) are epoch seconds so that the same
    claim query compares numbers on SQLite and PostgreSQL alike.
    """

    topic = Varchar(length=100, index=True)
    key = Varchar(length=300, unique=True)
    payload = JSON(default="{}")
    status = Varchar(length=12, default="pending", index=True)
    attempts = Integer(default=0)
    available_at = DoublePrecision(default=0.0, index=True)
    lease_until = DoublePrecision(default=0.0)
    lease_token = Varchar(length=32, default="")
    last_error = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)

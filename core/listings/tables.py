"""The current public listing of each listed thing (a group, a plugin's event, …)."""

from piccolo.columns import Boolean, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class PublicListing(Table, tablename="public_listing"):
    """One listing: `kind` ("group", "event", …) and the announcer's own id, the last fields
    announced (JSON), whether it is listed, and its version. `key` is `kind:local_id`, one
    unique column that both databases accept as an ON CONFLICT target."""

    key = Varchar(length=150, unique=True)
    kind = Varchar(length=40, index=True)
    local_id = Varchar(length=100)
    version = Integer(default=1)
    listed = Boolean(default=True)
    fields = Text(default="{}")
    updated_at = Timestamptz(default=TimestamptzNow())

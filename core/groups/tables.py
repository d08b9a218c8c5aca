from piccolo.columns import ForeignKey, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from core.accounts.tables import Login


class Group(Table, tablename="council_group"):
    """A Council or state group. An instance may host several; each has a page and leaders."""

    slug = Varchar(length=80, unique=True)
    name = Varchar(length=200)
    description = Text(default="")
    region = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class GroupLeader(Table, tablename="group_leader"):
    group = ForeignKey(references=Group, on_delete=OnDelete.cascade)
    login = ForeignKey(references=Login, on_delete=OnDelete.cascade)
    created_at = Timestamptz(default=TimestamptzNow())

    # Unique (group, login): a unique index made by migration.

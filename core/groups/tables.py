from piccolo.columns import Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from core.accounts.tables import Login

GROUP_KINDS = {"council": "Council", "state": "State group", "other": "Other group"}


class Group(Table, tablename="council_group"):
    """A Council or state group. An instance may host several; each has a page and leaders.

    `listed`: shown in the public list of groups (and, when the instance is federated, in the
    hub's directory); an unlisted group keeps its page for people with the link. `version`
    grows with every change of what the group's listing shows, so copies elsewhere can keep
    the newest one whatever order changes reach them in."""

    slug = Varchar(length=80, unique=True)
    name = Varchar(length=200)
    kind = Varchar(length=12, default="council")
    description = Text(default="")
    region = Varchar(length=100, default="")
    listed = Boolean(default=True)
    version = Integer(default=1)
    created_at = Timestamptz(default=TimestamptzNow())


class GroupLeader(Table, tablename="group_leader"):
    group = ForeignKey(references=Group, on_delete=OnDelete.cascade)
    login = ForeignKey(references=Login, on_delete=OnDelete.cascade)
    created_at = Timestamptz(default=TimestamptzNow())

    # Unique (group, login): a unique index made by migration.

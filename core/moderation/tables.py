from piccolo.columns import DoublePrecision, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from core.accounts.tables import Login
from core.people.tables import Person
from core.petitions.tables import Petition


class AbuseReport(Table, tablename="abuse_report"):
    """A member's report that a petition breaks the instance's rules."""

    petition = ForeignKey(references=Petition, on_delete=OnDelete.cascade)
    reporter = ForeignKey(references=Person, null=True, default=None, on_delete=OnDelete.set_null)
    reason = Text()
    status = Varchar(length=12, default="open", index=True)  # open, dismissed, upheld
    resolved_by = ForeignKey(references=Login, null=True, default=None, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    resolved_at = Timestamptz(null=True, default=None)


class Block(Table, tablename="signing_block"):
    """Staff blocked signatures from an IP address or an email domain, on one petition or
    (petition empty) everywhere. Blocked signatures are held, not dropped."""

    kind = Varchar(length=10)  # ip, domain
    value = Varchar(length=255, index=True)
    petition = ForeignKey(references=Petition, null=True, default=None, on_delete=OnDelete.cascade)
    reason = Text(default="")
    created_by = ForeignKey(references=Login, null=True, default=None, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class RateBucket(Table, tablename="rate_bucket"):
    """A fixed-window counter shared by every process (rate limits per IP, per email domain)."""

    key = Varchar(length=300, unique=True)
    window_start = DoublePrecision(default=0.0)
    count = Integer(default=0)

from piccolo.columns import Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from core.groups.tables import Group
from core.people.tables import Person

# draft → (pending →) published → closed → delivered; pending → rejected.
STATUSES = ("draft", "pending", "published", "closed", "delivered", "rejected")
SCOPES = ("national", "region", "district", "postal")


class Petition(Table, tablename="petition"):
    """A petition. `body` is the creator's Markdown; `body_html` its sanitized rendering,
    made once on save rather than on every page view. Federated copies carry their origin."""

    slug = Varchar(length=120, unique=True)
    title = Varchar(length=150)
    summary = Varchar(length=300, default="")
    body = Text(default="")
    body_html = Text(default="")
    status = Varchar(length=12, default="draft", index=True)
    goal = Integer(default=1000)
    scope_kind = Varchar(length=12, default="national")
    scope_value = Varchar(length=100, default="", index=True)
    group = ForeignKey(references=Group, null=True, default=None, on_delete=OnDelete.set_null)
    creator = ForeignKey(references=Person, null=True, default=None, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    published_at = Timestamptz(null=True, default=None, index=True)
    closed_at = Timestamptz(null=True, default=None)
    delivered_at = Timestamptz(null=True, default=None)
    rejection_reason = Text(default="")
    origin_node = Varchar(length=100, default="", index=True)
    origin_id = Varchar(length=100, default="")
    # A copy's page at its origin: where it comes from, and its canonical address.
    origin_url = Text(default="")
    version = Integer(default=1)
    # Materialised from the counter shards by `refresh_totals`; the page reads the shards.
    signature_count = Integer(default=0, index=True)
    signatures_last_day = Integer(default=0, index=True)


class PetitionTarget(Table, tablename="petition_target"):
    """A decision maker the petition is addressed to."""

    petition = ForeignKey(references=Petition, on_delete=OnDelete.cascade)
    position = Integer(default=0)
    name = Varchar(length=200)
    title = Varchar(length=200, default="")
    phone = Varchar(length=40, default="")
    email = Varchar(length=320, default="")
    postal_area = Varchar(length=100, default="")


class Signature(Table, tablename="signature"):
    """One person's signature: one per person per petition (signing again changes nothing).
    `status` is counted, unconfirmed (waiting for the email confirmation the instance may
    require) or held (kept aside by abuse defences, never lost)."""

    petition = ForeignKey(references=Petition, on_delete=OnDelete.cascade)
    person = ForeignKey(references=Person, on_delete=OnDelete.cascade)
    comment = Text(default="")
    source = Varchar(length=100, default="", index=True)
    share_with_creator = Boolean(default=False)
    status = Varchar(length=12, default="counted", index=True)
    ip = Varchar(length=45, default="")
    email_domain = Varchar(length=255, default="")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    confirmed_at = Timestamptz(null=True, default=None)
    # SHA-256 of the token in the confirmation email, while one is outstanding.
    confirmation_hash = Varchar(length=64, default="", index=True)

    # Unique (petition, person): a unique index made by migration (see core.db.unique_indexes).


class SignatureCount(Table, tablename="signature_count"):
    """Counter shards: each signature increments one random shard, so concurrent signers of a
    viral petition do not queue on one row. The total is the sum of the shards."""

    petition = ForeignKey(references=Petition, on_delete=OnDelete.cascade)
    shard = Integer()
    count = Integer(default=0)

    # Unique (petition, shard): a unique index made by migration.

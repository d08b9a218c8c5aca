from piccolo.columns import Boolean, ForeignKey, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

SUBSCRIPTION_STATUSES = ("subscribed", "unsubscribed", "bounced", "complained")


class Person(Table, tablename="person"):
    """A member. `email_key` is the normalized address that makes a person unique;
    `email` is the address as they typed it, which is where mail goes."""

    email = Varchar(length=320)
    email_key = Varchar(length=320, unique=True, index=True)
    given_name = Varchar(length=200, default="")
    family_name = Varchar(length=200, default="")
    postal_code = Varchar(length=20, default="", index=True)
    locality = Varchar(length=100, default="")
    country = Varchar(length=2, default="")
    region = Varchar(length=100, default="", index=True)
    district = Varchar(length=100, default="")
    phone = Varchar(length=40, default="")
    subscription = Varchar(length=20, default="subscribed", index=True)
    consent_instance_email = Boolean(default=False)
    consent_national = Boolean(default=False)
    consent_share_with_creators = Boolean(default=False)
    source = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Tag(Table, tablename="tag"):
    """A label staff put on members (e.g. "volunteer", "donor-2026"), as in OSDI tags."""

    name = Varchar(length=100, unique=True)
    description = Varchar(length=300, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class Tagging(Table, tablename="tagging"):
    tag = ForeignKey(references=Tag, on_delete=OnDelete.cascade)
    person = ForeignKey(references=Person, on_delete=OnDelete.cascade)
    created_at = Timestamptz(default=TimestamptzNow())

    # Unique (tag, person): a unique index made by migration (see core.db.unique_indexes).

"""Core's Piccolo app: its tables and migrations."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from core.accounts.tables import ApiToken, Login, LoginLink, WebSession
from core.boost.tables import Boost, BoostDay, BoostDecisionLog, BoostRemoteShare, BoostStage
from core.groups.tables import Group, GroupLeader
from core.instance_settings import InstanceSetting
from core.listings.tables import PublicListing
from core.mailings.tables import (
    Delivery,
    MailEvent,
    Mailing,
    MailingVariant,
    MailPreference,
    SavedAudience,
    SuppressedAddress,
)
from core.moderation.tables import AbuseReport, Block, RateBucket
from core.outbox.tables import OutboxItem
from core.people.tables import Person, Tag, Tagging
from core.petitions.tables import Petition, PetitionTarget, Signature, SignatureCount

# Parents before children: tests empty the tables in reverse order.
APP_CONFIG = AppConfig(
    app_name="core",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[
        Person,
        Tag,
        Tagging,
        Login,
        LoginLink,
        WebSession,
        ApiToken,
        OutboxItem,
        InstanceSetting,
        Group,
        GroupLeader,
        PublicListing,
        Petition,
        PetitionTarget,
        Signature,
        SignatureCount,
        AbuseReport,
        Block,
        RateBucket,
        Mailing,
        MailingVariant,
        Delivery,
        MailEvent,
        MailPreference,
        SuppressedAddress,
        SavedAudience,
        Boost,
        BoostStage,
        BoostDecisionLog,
        BoostDay,
        BoostRemoteShare,
    ],
    migration_dependencies=[],
    commands=[],
)

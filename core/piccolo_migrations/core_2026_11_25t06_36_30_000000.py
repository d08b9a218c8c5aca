from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from core.db.unique_indexes import add_index, add_unique_index

ID = "2026-11-25T06:36:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "Mailing indexes: one delivery per person per mailing, the send queue, the frequency cap."


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)
    add_unique_index(manager, "delivery", ("mailing", "person"))
    add_index(manager, "delivery", ("mailing", "status"))
    add_index(manager, "delivery", ("person", "sent_at"))
    add_index(manager, "mail_event", ("mailing", "kind"))
    add_unique_index(manager, "mailing_variant", ("mailing", "label"))
    return manager

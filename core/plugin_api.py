"""The plugin API: the one module a Groundswell plugin imports.

Everything a plugin may use is named here, versioned by API_VERSION and documented in
docs/plugins.md (a test checks that every name is). Names are added in minor versions; a
name is removed or changed only in a major version, after a minor release in which it still
works and warns. First-party plugins (events, fundraising, calls, federation) use nothing
else, so a third-party plugin can do whatever they do.

A plugin exposes one `Plugin` through the `groundswell.plugins` entry point:

    [project.entry-points."groundswell.plugins"]
    petition_calls = "groundswell_petition_calls.plugin:PLUGIN"
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from core.accounts.roles import ROLES, Viewer
from core.api.hal import HAL_JSON, api_url, collection, iso, link, page_of
from core.boost.hosted import HostedResults, HostedSample, boost_reach, hosted_results, mail_hosted_sample
from core.boost.remote import (
    ReachPartner,
    ReachProvider,
    RemoteShare,
    record_remote_stage_result,
    register_reach_provider,
)
from core.errors import Conflict, Forbidden, Gone, NotFound, UserError
from core.groups.service import leads_group
from core.groups.tables import Group
from core.listings.service import Listing, announce_listing, current_listings
from core.mail import OutgoingMail, queue_mail
from core.outbox import OutboxWork, PermanentFailure, RetryLater, enqueue, transaction
from core.outbox import handler as outbox_handler
from core.outbox.periodic import periodic
from core.people.service import display_name
from core.people.signup import PersonInput, SignupResult, sign_up
from core.people.tables import Person
from core.petitions.copies import (
    CopyTarget,
    PetitionCopy,
    save_petition_copy,
    set_petition_copy_status,
    taken_down_here,
)
from core.petitions.counter import local_signatures, set_external_signatures
from core.petitions.markdown import render_markdown
from core.petitions.service import get_petition, get_petition_by_slug, targets_of
from core.petitions.tables import Petition, PetitionTarget, Signature, SignatureCount
from core.plugins.declaration import (
    EVENTS,
    ActionContext,
    ActionPanel,
    Event,
    NavItem,
    OsdiLink,
    Plugin,
    PluginDeclarationError,
    Routes,
)
from core.plugins.versioning import API_VERSION
from core.settings import Settings, current_settings
from core.web.auth import viewer_of
from core.web.forms import Form, field

__all__ = [
    "API_VERSION",
    "EVENTS",
    "HAL_JSON",
    "ROLES",
    "ActionContext",
    "ActionPanel",
    "Conflict",
    "CopyTarget",
    "Event",
    "Forbidden",
    "Form",
    "Gone",
    "Group",
    "HostedResults",
    "HostedSample",
    "Listing",
    "NavItem",
    "NotFound",
    "OsdiLink",
    "OutboxWork",
    "OutgoingMail",
    "PermanentFailure",
    "Person",
    "PersonInput",
    "Petition",
    "PetitionCopy",
    "PetitionTarget",
    "Plugin",
    "PluginDeclarationError",
    "ReachPartner",
    "ReachProvider",
    "RemoteShare",
    "RetryLater",
    "Routes",
    "Settings",
    "Signature",
    "SignatureCount",
    "SignupResult",
    "UserError",
    "Viewer",
    "announce_listing",
    "api_url",
    "boost_reach",
    "collection",
    "current_listings",
    "display_name",
    "enqueue",
    "field",
    "get_petition",
    "get_petition_by_slug",
    "hosted_results",
    "instance_settings",
    "iso",
    "leads_group",
    "link",
    "local_signatures",
    "mail_hosted_sample",
    "outbox_handler",
    "page_of",
    "periodic",
    "plugin_config",
    "plugin_logger",
    "queue_mail",
    "record_remote_stage_result",
    "register_reach_provider",
    "render_markdown",
    "save_petition_copy",
    "set_external_signatures",
    "set_petition_copy_status",
    "sign_up",
    "taken_down_here",
    "targets_of",
    "transaction",
    "viewer_of",
]


def plugin_config(name: str) -> Mapping[str, Any]:
    """Your plugin's configuration (`<data dir>/plugins/<name>.json`), already validated
    against its `config_schema` at start-up."""
    from core.plugins.host import plugin_config as _config

    return _config(name)


def instance_settings() -> Settings:
    """The instance's settings (public_url, data_dir, role, …), read once per process."""
    return current_settings()


def plugin_logger(name: str) -> logging.Logger:
    """A logger under the instance's log configuration: `groundswell.plugin.<name>`."""
    return logging.getLogger(f"groundswell.plugin.{name}")

"""The petition form, shared by starting a petition and editing one: reading it (every
problem found at once, each a sentence to act on) and filling it from a saved petition."""

from __future__ import annotations

from typing import Any

from core.errors import UserError
from core.petitions.service import PetitionInput, TargetInput, validate
from core.petitions.tables import SCOPES, Petition
from core.web.forms import field

TARGET_ROWS = 5


def submitted_values(data: dict[str, Any]) -> dict[str, Any]:
    """What was typed, to show the form again with it."""
    return {k: (v[-1] if isinstance(v, list) else v) for k, v in data.items() if k != "_csrf_token"}


def form_values(petition: Petition, targets: list) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": petition.title,
        "summary": petition.summary,
        "body": petition.body,
        "goal": str(petition.goal),
        "scope_kind": petition.scope_kind,
        "scope_value": petition.scope_value,
    }
    for i, t in enumerate(targets):
        values.update(
            {
                f"target_name_{i}": t.name,
                f"target_title_{i}": t.title,
                f"target_phone_{i}": t.phone,
                f"target_email_{i}": t.email,
                f"target_postal_area_{i}": t.postal_area,
            }
        )
    return values


def read_petition_form(
    data: dict[str, Any], rows: int, group_id: int | None
) -> tuple[PetitionInput | None, list[str]]:
    """What the form says, and the problems found in reading it (each a sentence to act on)."""
    errors: list[str] = []

    def text(name: str, max_length: int, label: str) -> str:
        try:
            return field(data, name, max_length=max_length)
        except UserError:
            errors.append(f"{label} is too long: keep it under {max_length:,} characters.")
            return ""

    targets = [
        TargetInput(
            name=text(f"target_name_{i}", 200, f"Target {i + 1}'s name"),
            title=text(f"target_title_{i}", 200, f"Target {i + 1}'s title"),
            phone=text(f"target_phone_{i}", 40, f"Target {i + 1}'s phone number"),
            email=text(f"target_email_{i}", 320, f"Target {i + 1}'s email"),
            postal_area=text(f"target_postal_area_{i}", 100, f"Target {i + 1}'s postal area"),
        )
        for i in range(rows)
    ]
    goal_text = text("goal", 12, "The goal").replace(",", "") or "1000"
    if not goal_text.isdigit():
        errors.append("The goal is a number of signatures, like 1000.")
    scope_kind = text("scope_kind", 12, "The scope") or "national"
    if scope_kind not in SCOPES:
        errors.append("Choose where the petition matters from the list.")
    data_in = PetitionInput(
        title=text("title", 300, "The title"),
        summary=text("summary", 300, "The summary"),
        body=text("body", 20_000, "The text"),
        targets=targets,
        goal=int(goal_text) if goal_text.isdigit() else 1000,
        scope_kind=scope_kind,
        scope_value=text("scope_value", 100, "The place"),
        group_id=group_id,
    )
    try:  # the service's own checks too, so every problem shows at once
        validate(data_in)
    except UserError as exc:
        errors.append(exc.message)
    return (None if errors else data_in), errors

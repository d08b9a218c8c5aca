"""Admins set the campaign mail policies (frequency cap, sending speed, open tracking) on the
policies page; the engine reads them at send time."""

from __future__ import annotations

from core.instance_settings import get_policy
from tests.support.accounts import sign_in
from tests.support.forms import submit

FORM = {"moderation": "post", "policy_note": "", "trusted_ips": ""}


async def test_admins_set_the_frequency_cap_the_sending_speed_and_open_tracking(client) -> None:
    await sign_in(client, "admin@example.org", "admin")
    page = await client.get("/admin/policies")
    assert '<option value="3" selected>3</option>' in page.text  # the default cap
    assert "As fast as the mail server accepts" in page.text

    form = {**FORM, "mail_frequency_cap": "5", "mail_rate_per_second": "0", "mail_open_tracking": "1"}
    saved = await submit(client, "/admin/policies", "/admin/policies", form)

    assert saved.status_code == 200 and "policies are saved" in saved.text
    assert await get_policy("mail_frequency_cap") == 5
    assert await get_policy("mail_rate_per_second") == 0
    assert await get_policy("mail_open_tracking") is True
    assert '<option value="5" selected>5</option>' in saved.text


async def test_a_value_not_on_the_list_is_refused_and_nothing_is_saved(client) -> None:
    await sign_in(client, "admin@example.org", "admin")
    form = {**FORM, "moderation": "pre", "mail_frequency_cap": "4", "mail_rate_per_second": "50"}
    response = await submit(client, "/admin/policies", "/admin/policies", form)
    assert response.status_code == 400
    assert "Choose how many campaign emails a member gets in 7 days from the list" in response.text
    assert await get_policy("mail_frequency_cap") == 3
    assert await get_policy("moderation") == "post"

"""The web shell: theme overrides, the request log, and the pages every instance has."""

import dataclasses
import logging

from core.settings import current_settings
from core.web.app import create_app
from tests.support.asgi import app_client


async def test_a_theme_overrides_templates_and_static_files_by_name(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "static").mkdir()
    (tmp_path / "templates" / "home.html").write_text(
        '{% extends "base.html" %}{% block main %}<h1>Riverside Council</h1>{% endblock %}'
    )
    (tmp_path / "static" / "site.css").write_text("body { color: rebeccapurple; }")
    settings = dataclasses.replace(current_settings(), theme_dir=tmp_path)
    async with app_client(create_app(settings)) as client:
        home = await client.get("/")
        assert "Riverside Council" in home.text
        assert "Sign in" in home.text  # the default base layout still frames it
        assert "rebeccapurple" in (await client.get("/static/site.css")).text
        # templates the theme does not override come from the default theme
        assert "Sign in" in (await client.get("/login")).text


async def test_every_request_is_logged_on_one_line(client, caplog):
    with caplog.at_level(logging.INFO, logger="groundswell.request"):
        await client.get("/healthz")
        await client.get("/nowhere")
    lines = [r for r in caplog.records if r.name == "groundswell.request"]
    assert [(r.method, r.path, r.status) for r in lines] == [
        ("GET", "/healthz", 200),
        ("GET", "/nowhere", 404),
    ]
    assert all(r.duration_ms >= 0 for r in lines)


async def test_the_base_layout_is_mobile_first_and_accessible(client):
    page = (await client.get("/login")).text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert '<html lang="en">' in page
    assert 'href="#main"' in page  # skip link
    assert '<label for="email">' in page


async def test_the_openapi_schema_is_served(client):
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/" in schema["paths"] or "/api/v1" in schema["paths"]


async def test_healthz_answers_while_the_process_is_up(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_each_dependency(client):
    body = (await client.get("/readyz")).json()
    assert body["status"] == "ready"
    assert body["checks"] == {"database": "ok", "broker": "in-process"}

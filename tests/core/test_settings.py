"""The configuration contract: GROUNDSWELL_* variables (and `<data dir>/.env`) are validated
up front, and a bad value stops start-up with one line naming the variable."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from core.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _schema() -> None:
    """These specs never touch the session database: skip the harness's migrate step."""


@pytest.fixture(autouse=True)
def _clean() -> None:
    """Nor empty its tables between tests."""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A minimal environment: only the data dir, in a fresh temporary directory."""
    return {"GROUNDSWELL_DATA_DIR": str(tmp_path / "data")}


def load(env: dict[str, str], **settings: str):
    return load_settings({**env, **{f"GROUNDSWELL_{k}": v for k, v in settings.items()}})


def refused(env: dict[str, str], **settings: str) -> str:
    with pytest.raises(SettingsError) as caught:
        load(env, **settings)
    message = str(caught.value)
    assert "\n" not in message, "settings errors are one line"
    return message


def test_defaults_are_the_embedded_instance(env, tmp_path):
    settings = load(env)
    data = (tmp_path / "data").resolve()
    assert settings.data_dir == data
    assert settings.is_sqlite
    assert settings.sqlite_path == data / "groundswell.sqlite3"
    assert settings.broker_url == ""
    assert not settings.has_broker  # background work in-process
    assert settings.smtp_url == "" and settings.smtp is None
    assert settings.mail_dir == data / "mail"
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.role == "instance"
    assert settings.plugins is None
    assert settings.theme_dir is None
    assert settings.mail_from == "Groundswell <noreply@127.0.0.1>"
    assert settings.log_level == "info"
    assert settings.max_body_bytes == 1_048_576
    assert settings.worker_threads == 4


def test_the_data_dir_defaults_to_groundswell_data_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert settings.data_dir == (tmp_path / "groundswell-data").resolve()
    assert settings.sqlite_path == settings.data_dir / "groundswell.sqlite3"


def test_good_values_are_accepted_and_normalised(env, tmp_path):
    theme = tmp_path / "theme"
    theme.mkdir()
    settings = load(
        env,
        DATABASE_URL="postgresql://gs:pw@db.internal:5432/groundswell",
        BROKER_URL="amqp://guest:guest@mq:5672/",
        SMTP_URL="smtp://user:p%40ss@mail.example.org:587?starttls=1",
        PUBLIC_URL="https://campaign.example.org/",
        ROLE=" Hub ",
        PLUGINS="events, petitions,",
        THEME_DIR=str(theme),
        MAIL_FROM="Campaign <hello@example.org>",
        LOG_LEVEL="DEBUG",
        MAX_BODY_BYTES="2048",
        WORKER_THREADS="8",
        SWEEP_SECONDS="2",
    )
    assert not settings.is_sqlite
    assert settings.has_broker
    assert settings.smtp is not None
    assert settings.smtp.password == "p@ss" and settings.smtp.starttls and settings.smtp.port == 587
    assert settings.public_url == "https://campaign.example.org"
    assert settings.public_host == "campaign.example.org"
    assert settings.role == "hub"
    assert settings.plugins == ("events", "petitions")
    assert settings.theme_dir == theme.resolve()
    assert settings.log_level == "debug"
    assert (settings.max_body_bytes, settings.worker_threads, settings.sweep_seconds) == (2048, 8, 2)


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "rediss://cache.example.org:6380/1",
        "amqp://guest:guest@127.0.0.1:5672/",
        "amqps://mq.example.org/",
    ],
)
def test_broker_urls_for_redis_and_rabbitmq(env, url):
    assert load(env, BROKER_URL=url).broker_url == url


@pytest.mark.parametrize(
    "url",
    ["postgresql://127.0.0.1/groundswell", "postgres://u@h:5433/db", "postgresql:///db?host=/run/pg"],
)
def test_postgresql_urls(env, url):
    assert load(env, DATABASE_URL=url).database_url == url


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ROLE", "bogus", "'instance' or 'hub'"),
        ("DATABASE_URL", "mysql://127.0.0.1/groundswell", "must start with sqlite:/// or postgresql://"),
        ("DATABASE_URL", "sqlite:///", "must start with sqlite:///"),
        ("DATABASE_URL", "postgresql:///groundswell", "must name a host"),
        ("DATABASE_URL", "postgresql://127.0.0.1:5432", "must name a database"),
        ("DATABASE_URL", "postgresql://127.0.0.1:5432/", "must name a database"),
        ("BROKER_URL", "kafka://127.0.0.1:9092", "redis:// or amqp://"),
        ("BROKER_URL", "127.0.0.1:6379", "redis:// or amqp://"),
        ("SMTP_URL", "mail.example.org:25", "smtp://"),
        ("SMTP_URL", "http://mail.example.org", "smtp://"),
        ("SMTP_URL", "smtp://", "smtp://"),
        ("SMTP_URL", "smtp://mail.example.org?tls=1", "unknown option"),
        ("SMTP_URL", "smtp://mail.example.org:notaport", ""),
        ("SMTP_URL", "smtp://mail.example.org?timeout=soon", ""),
        ("PUBLIC_URL", "https://example.org/campaign", "without a path"),
        ("PUBLIC_URL", "https://example.org/?x=1", "without a path"),
        ("PUBLIC_URL", "example.org", "http(s) origin"),
        ("PUBLIC_URL", "ftp://example.org", "http(s) origin"),
        ("LOG_LEVEL", "verbose", "debug, info, warning, error"),
        ("MAX_BODY_BYTES", "1MB", "whole number"),
        ("MAX_BODY_BYTES", "100", "at least 1024"),
        ("WORKER_THREADS", "0", "at least 1"),
        ("WORKER_THREADS", "many", "whole number"),
        ("SWEEP_SECONDS", "0", "at least 1"),
        ("PLUGINS", "events,../evil", "not a plugin name"),
        ("MAIL_FROM", "Groundswell", "must contain an address"),
        ("SECRET_KEY", "too-short", "at least 32 characters"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(env, name, value, expected):
    message = refused(env, **{name: value})
    assert f"GROUNDSWELL_{name}" in message
    assert expected in message


def test_a_missing_theme_dir_is_refused(env, tmp_path):
    message = refused(env, THEME_DIR=str(tmp_path / "no-such-theme"))
    assert "GROUNDSWELL_THEME_DIR" in message
    assert "no-such-theme" in message and "not a directory" in message


def test_a_data_dir_that_is_a_file_is_refused(tmp_path):
    afile = tmp_path / "data"
    afile.write_text("not a directory")
    with pytest.raises(SettingsError, match=r"GROUNDSWELL_DATA_DIR .* is not a directory"):
        load_settings({"GROUNDSWELL_DATA_DIR": str(afile)})


def test_an_unknown_groundswell_variable_is_refused_with_a_suggestion(env):
    message = refused(env, DATABSE_URL="sqlite:///x.db")
    assert message == (
        "GROUNDSWELL_DATABSE_URL is not a Groundswell setting; did you mean GROUNDSWELL_DATABASE_URL?"
    )


def test_an_unknown_variable_without_a_near_match_gets_no_guess(env):
    message = refused(env, FROBNICATE="1")
    assert message == "GROUNDSWELL_FROBNICATE is not a Groundswell setting"


def test_test_harness_and_unrelated_variables_are_ignored(env):
    settings = load_settings(
        {
            **env,
            "GROUNDSWELL_TEST_DATABASE_URL": "postgresql://postgres@127.0.0.1/postgres",
            "GROUNDSWELL_TEST_ANYTHING": "x",
            "DATABASE_URL": "mysql://elsewhere/db",
            "HOME": "/root",
        }
    )
    assert settings.is_sqlite


def test_values_are_trimmed_and_empty_means_default(env):
    settings = load(env, ROLE="", BROKER_URL="  ", PUBLIC_URL=" http://localhost:9000 ", LOG_LEVEL="")
    assert settings.role == "instance"
    assert settings.broker_url == ""
    assert settings.public_url == "http://localhost:9000"
    assert settings.log_level == "info"


def test_the_dotenv_file_in_the_data_dir_is_read(env, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / ".env").write_text(
        "# instance configuration\n"
        "\n"
        "GROUNDSWELL_ROLE=hub\n"
        "export GROUNDSWELL_PUBLIC_URL='https://campaign.example.org'\n"
        'GROUNDSWELL_MAIL_FROM="Campaign <hello@example.org>"\n'
        "GROUNDSWELL_WORKER_THREADS = 2\n"
        "UNRELATED=ignored\n"
    )
    settings = load(env)
    assert settings.role == "hub"
    assert settings.public_url == "https://campaign.example.org"
    assert settings.mail_from == "Campaign <hello@example.org>"
    assert settings.worker_threads == 2


def test_the_environment_wins_over_the_dotenv_file(env, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / ".env").write_text("GROUNDSWELL_ROLE=hub\nGROUNDSWELL_LOG_LEVEL=error\n")
    settings = load(env, ROLE="instance")
    assert settings.role == "instance"
    assert settings.log_level == "error"


def test_a_bad_value_in_the_dotenv_file_names_the_variable(env, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / ".env").write_text("GROUNDSWELL_ROLE=bogus\n")
    assert "GROUNDSWELL_ROLE" in refused(env)


def test_a_typo_in_the_dotenv_file_gets_a_suggestion(env, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / ".env").write_text("GROUNDSWELL_BROKER=redis://127.0.0.1:6379/0\n")
    assert "did you mean GROUNDSWELL_BROKER_URL?" in refused(env)


def test_a_malformed_dotenv_line_is_reported_with_file_and_line(env, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    dotenv = data / ".env"
    dotenv.write_text("# comment\nGROUNDSWELL_ROLE=hub\nthis line has no equals sign\n")
    message = refused(env)
    assert message.startswith(f"{dotenv.resolve()}:3:")
    assert "KEY=VALUE" in message


def test_a_secret_key_is_generated_once_private_and_stable(env, tmp_path):
    first = load(env)
    key_file = tmp_path / "data" / "secret_key"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.secret_key) >= 32
    assert key_file.read_text().strip() == first.secret_key
    assert load(env).secret_key == first.secret_key
    assert load(env).secret_key == first.secret_key


def test_processes_starting_together_agree_on_one_secret_key(env):
    """`serve` and `worker` started at once on a fresh data dir must not trip over each other."""
    keys: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        try:
            keys.append(load(env).secret_key)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(keys)) == 1


def test_a_configured_secret_key_is_used_and_nothing_is_written(env, tmp_path):
    key = "k" * 32
    assert load(env, SECRET_KEY=key).secret_key == key
    assert not (tmp_path / "data" / "secret_key").exists()


def test_a_short_configured_secret_key_is_refused(env):
    message = refused(env, SECRET_KEY="x" * 31)
    assert message == "GROUNDSWELL_SECRET_KEY must be at least 32 characters long"


def test_a_truncated_secret_key_file_is_refused(env, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "secret_key").write_text("short\n")
    assert "delete the file" in refused(env)


def test_trusted_proxies_are_addresses_or_networks(tmp_path):
    settings = load_settings(
        {"GROUNDSWELL_DATA_DIR": str(tmp_path), "GROUNDSWELL_TRUSTED_PROXIES": "10.0.0.5, 10.1.0.0/16 ,::1"}
    )
    assert settings.trusted_proxies == ("10.0.0.5/32", "10.1.0.0/16", "::1/128")
    with pytest.raises(SettingsError, match=r"GROUNDSWELL_TRUSTED_PROXIES: .proxy\.local."):
        load_settings({"GROUNDSWELL_DATA_DIR": str(tmp_path), "GROUNDSWELL_TRUSTED_PROXIES": "proxy.local"})

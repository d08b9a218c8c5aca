"""Instance configuration, read once from the environment (and `<data dir>/.env`).

Every variable is validated up front so that a typo stops start-up with one line naming
the variable and what is wrong, instead of surfacing later as a confusing runtime error.
"""

from __future__ import annotations

import difflib
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

PREFIX = "GROUNDSWELL_"

# Variables that belong to the test harness, not to an instance.
_IGNORED_PREFIXES = ("GROUNDSWELL_TEST_",)

ROLES = ("instance", "hub")
LOG_LEVELS = ("debug", "info", "warning", "error")


class SettingsError(ValueError):
    """A configuration value is unusable; the message names the variable and the fix."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    starttls: bool
    ssl: bool
    timeout: float
    # PEM file of CA certificates to trust instead of the system's (a private CA, a test server).
    cafile: str | None = None


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    broker_url: str
    smtp_url: str
    public_url: str
    secret_key: str
    role: str
    plugins: tuple[str, ...] | None
    theme_dir: Path | None = None
    mail_from: str = ""
    log_level: str = "info"
    max_body_bytes: int = 1_048_576
    worker_threads: int = 4
    trusted_proxies: tuple[str, ...] = ()
    # Shared secret of the bounce/complaint webhook (/mail/webhooks/bounces); empty: disabled.
    mail_webhook_secret: str = ""
    # A mounted secret holding the federation node key (PKCS#8 PEM or base64 seed); empty:
    # the key is generated into <data dir>/federation/ on first start.
    federation_key_file: str = ""
    # Boost windows in seconds instead of the instance's policy (tests and demos); 0: the policy.
    boost_window_seconds: int = 0
    # How often each process (serve's in-process worker, `groundswell worker`) looks for
    # background work that fell due: retries, delayed items, periodic jobs. Lower: due work
    # starts sooner, for one more small query per interval.
    sweep_seconds: int = 15

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///"))

    @property
    def has_broker(self) -> bool:
        return bool(self.broker_url)

    @property
    def smtp(self) -> SmtpSettings | None:
        return parse_smtp_url(self.smtp_url) if self.smtp_url else None

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def public_host(self) -> str:
        return urlsplit(self.public_url).hostname or "localhost"


KNOWN = (
    "DATA_DIR",
    "DATABASE_URL",
    "BROKER_URL",
    "SMTP_URL",
    "PUBLIC_URL",
    "SECRET_KEY",
    "ROLE",
    "PLUGINS",
    "THEME_DIR",
    "MAIL_FROM",
    "LOG_LEVEL",
    "MAX_BODY_BYTES",
    "WORKER_THREADS",
    "TRUSTED_PROXIES",
    "MAIL_WEBHOOK_SECRET",
    "FEDERATION_KEY_FILE",
    "BOOST_WINDOW_SECONDS",
    "SWEEP_SECONDS",
)


def _read_dotenv(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines; the environment always wins over the file."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise SettingsError(f"{path}:{number}: expected KEY=VALUE, got {line!r}")
        key, value = line.split("=", 1)
        values[key.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values


def _check_names(env: Mapping[str, str]) -> None:
    known = {PREFIX + name for name in KNOWN}
    for name in env:
        if not name.startswith(PREFIX) or name in known:
            continue
        if name.startswith(_IGNORED_PREFIXES):
            continue
        # Compare without the shared prefix, or every name would look like a near match.
        guess = difflib.get_close_matches(name.removeprefix(PREFIX).upper(), KNOWN, n=1)
        hint = f"; did you mean {PREFIX}{guess[0]}?" if guess else ""
        raise SettingsError(f"{name} is not a Groundswell setting{hint}")


def _database_url(value: str) -> str:
    if value.startswith("sqlite:///") and len(value) > len("sqlite:///"):
        return value
    if value.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(value)
        if not parts.hostname and not parse_qs(parts.query).get("host"):
            raise SettingsError(
                "GROUNDSWELL_DATABASE_URL must name a host, e.g. postgresql://user@127.0.0.1:5432/db"
            )
        if not parts.path.strip("/"):
            raise SettingsError(
                "GROUNDSWELL_DATABASE_URL must name a database, e.g. postgresql://127.0.0.1/groundswell"
            )
        return value
    raise SettingsError(
        f"GROUNDSWELL_DATABASE_URL must start with sqlite:/// or postgresql://, got {value!r}"
    )


def _broker_url(value: str) -> str:
    if not value or value.startswith(("redis://", "rediss://", "amqp://", "amqps://")):
        return value
    raise SettingsError(
        "GROUNDSWELL_BROKER_URL must be empty (in-process worker) or start with "
        f"redis:// or amqp://, got {value!r}"
    )


_SMTP_OPTIONS = ("starttls", "timeout", "cafile")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def parse_smtp_url(value: str) -> SmtpSettings:
    """smtp://user:pass@host:587?starttls=1 — smtps:// means TLS from the first byte.

    Options: starttls=1 (upgrade a plain connection), timeout=SECONDS (default 30),
    cafile=/path/to/ca.pem (trust this CA bundle instead of the system's; certificates are
    always verified). Values are strict: a misspelt option must not silently mean "no TLS"."""
    parts = urlsplit(value)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise SettingsError(
            "GROUNDSWELL_SMTP_URL must look like smtp://user:pass@host:587?starttls=1 "
            f"or smtps://host:465, got {value!r}"
        )
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = set(query) - set(_SMTP_OPTIONS)
    if unknown:
        raise SettingsError(
            f"GROUNDSWELL_SMTP_URL has unknown option(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(_SMTP_OPTIONS)}"
        )
    try:
        port = parts.port
        timeout = float(query.get("timeout", "30"))
    except ValueError as exc:
        raise SettingsError(f"GROUNDSWELL_SMTP_URL: {exc}") from None
    if not 0 < timeout <= 600:  # also refuses nan and inf
        raise SettingsError(f"GROUNDSWELL_SMTP_URL: timeout must be between 0 and 600 seconds, got {timeout}")
    starttls_value = query.get("starttls", "0").lower()
    if starttls_value not in _TRUE + _FALSE:
        raise SettingsError(f"GROUNDSWELL_SMTP_URL: starttls must be 1 or 0, got {starttls_value!r}")
    ssl = parts.scheme == "smtps"
    starttls = starttls_value in _TRUE
    if ssl and starttls:
        raise SettingsError(
            "GROUNDSWELL_SMTP_URL: smtps:// is already encrypted; drop starttls=1 (or use smtp://)"
        )
    cafile = query.get("cafile") or None
    if cafile is not None:
        if not (ssl or starttls):
            raise SettingsError("GROUNDSWELL_SMTP_URL: cafile needs smtps:// or starttls=1")
        if not Path(cafile).is_file():
            raise SettingsError(f"GROUNDSWELL_SMTP_URL: cafile {cafile!r} is not a readable file")
    return SmtpSettings(
        host=parts.hostname,
        port=port or (465 if ssl else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        starttls=starttls,
        ssl=ssl,
        timeout=timeout,
        cafile=cafile,
    )


def _public_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(
            f"GROUNDSWELL_PUBLIC_URL must be an http(s) origin like https://example.org, got {value!r}"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SettingsError(f"GROUNDSWELL_PUBLIC_URL must be an origin without a path, got {value!r}")
    return f"{parts.scheme}://{parts.netloc}"


def _positive_int(name: str, value: str, minimum: int = 1) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"GROUNDSWELL_{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise SettingsError(f"GROUNDSWELL_{name} must be at least {minimum}, got {number}")
    return number


def _trusted_proxies(value: str) -> tuple[str, ...]:
    """Addresses or networks of reverse proxies whose X-Forwarded-For names the real client.
    Without them, every visitor behind a proxy has the proxy's address, and per-address rate
    limits would treat all signers as one."""
    import ipaddress

    proxies = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            proxies.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise SettingsError(
                f"GROUNDSWELL_TRUSTED_PROXIES: {item!r} is not an IP address or network "
                "(e.g. 10.0.0.5 or 10.0.0.0/8)"
            ) from None
    return tuple(proxies)


def _webhook_secret(value: str) -> str:
    if value and len(value) < 24:
        raise SettingsError(
            "GROUNDSWELL_MAIL_WEBHOOK_SECRET must be at least 24 characters long "
            "(e.g. the output of `openssl rand -hex 24`)"
        )
    return value


def _key_file(value: str) -> str:
    if value and not Path(value).expanduser().is_file():
        raise SettingsError(f"GROUNDSWELL_FEDERATION_KEY_FILE {value!r} is not a readable file")
    return str(Path(value).expanduser().resolve()) if value else ""


def _secret_key(data_dir: Path, value: str) -> str:
    """Use the configured secret, or generate one into the data dir on first start."""
    if value:
        if len(value) < 32:
            raise SettingsError("GROUNDSWELL_SECRET_KEY must be at least 32 characters long")
        return value
    path = data_dir / "secret_key"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # generated earlier, or right now by a process starting alongside (serve + worker)
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
        key = path.read_text(encoding="utf-8").strip()
        for _ in range(50):  # the other process may not have written it yet
            if key:
                break
            time.sleep(0.02)
            key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SettingsError(f"GROUNDSWELL_DATA_DIR: cannot keep the secret key in {path}: {exc}") from None
    if len(key) < 32:
        raise SettingsError(
            f"{path} holds a key shorter than 32 characters; delete the file to generate a new one"
        )
    return key


def _data_dir(env: Mapping[str, str]) -> Path:
    data_dir = Path(env.get(PREFIX + "DATA_DIR") or "./groundswell-data").expanduser().resolve()
    if data_dir.exists() and not data_dir.is_dir():
        raise SettingsError(f"GROUNDSWELL_DATA_DIR {str(data_dir)!r} is not a directory")
    return data_dir


def environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables settings are read from: `<data dir>/.env`, overridden by the environment."""
    env = dict(os.environ if environ is None else environ)
    return {**_read_dotenv(_data_dir(env) / ".env"), **env}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build validated settings; raises SettingsError with a one-line, actionable message."""
    env = dict(os.environ if environ is None else environ)
    data_dir = _data_dir(env)
    merged = environment(env)
    _check_names(merged)

    def get(name: str, default: str = "") -> str:
        return merged.get(PREFIX + name, "").strip() or default  # set but empty means the default

    database_url = _database_url(get("DATABASE_URL") or f"sqlite:///{data_dir / 'groundswell.sqlite3'}")
    role = get("ROLE", "instance").lower()
    if role not in ROLES:
        raise SettingsError(f"GROUNDSWELL_ROLE must be 'instance' or 'hub', got {role!r}")
    plugins_raw = get("PLUGINS")
    plugins = tuple(p.strip() for p in plugins_raw.split(",") if p.strip()) if plugins_raw else None
    for name in plugins or ():
        if not name.replace("_", "").replace("-", "").isalnum():
            raise SettingsError(f"GROUNDSWELL_PLUGINS: {name!r} is not a plugin name")
    smtp_url = get("SMTP_URL")
    if smtp_url:
        parse_smtp_url(smtp_url)
    theme_dir = Path(get("THEME_DIR")).expanduser().resolve() if get("THEME_DIR") else None
    if theme_dir is not None and not theme_dir.is_dir():
        raise SettingsError(f"GROUNDSWELL_THEME_DIR {str(theme_dir)!r} is not a directory")
    log_level = get("LOG_LEVEL", "info").lower()
    if log_level not in LOG_LEVELS:
        raise SettingsError(
            f"GROUNDSWELL_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}"
        )
    public_url = _public_url(get("PUBLIC_URL") or "http://127.0.0.1:8000")
    host = urlsplit(public_url).hostname or "localhost"
    mail_from = get("MAIL_FROM") or f"Groundswell <noreply@{host}>"
    if "@" not in mail_from:
        raise SettingsError(f"GROUNDSWELL_MAIL_FROM must contain an address, got {mail_from!r}")
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        broker_url=_broker_url(get("BROKER_URL")),
        smtp_url=smtp_url,
        public_url=public_url,
        secret_key=_secret_key(data_dir, get("SECRET_KEY")),
        role=role,
        plugins=plugins,
        theme_dir=theme_dir,
        mail_from=mail_from,
        log_level=log_level,
        max_body_bytes=_positive_int("MAX_BODY_BYTES", get("MAX_BODY_BYTES", "1048576"), 1024),
        worker_threads=_positive_int("WORKER_THREADS", get("WORKER_THREADS", "4")),
        trusted_proxies=_trusted_proxies(get("TRUSTED_PROXIES")),
        mail_webhook_secret=_webhook_secret(get("MAIL_WEBHOOK_SECRET")),
        federation_key_file=_key_file(get("FEDERATION_KEY_FILE")),
        boost_window_seconds=_positive_int("BOOST_WINDOW_SECONDS", get("BOOST_WINDOW_SECONDS", "0"), 0),
        sweep_seconds=_positive_int("SWEEP_SECONDS", get("SWEEP_SECONDS", "15")),
    )


@cache
def current_settings() -> Settings:
    """The process-wide settings; one process serves one instance."""
    return load_settings()

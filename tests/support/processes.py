"""Running real `groundswell` processes: one-shot commands, and `serve` / `worker` in the
background on free loopback ports, always stopped again.

Children get an environment built from scratch (PATH, HOME, locale, plus the GROUNDSWELL_*
settings a test chooses), so the test session's own GROUNDSWELL_* variables never leak in.

    instance = Instance.create(tmp_path)                      # no configuration at all
    with instance.serve() as server:                         # waits for /readyz → 200
        link = instance.run("admin", "create", "ada@example.org").last_line
        server.client().get("/healthz")

Output of background processes goes to files (no pipe can fill up and stall a child); a
failure message includes the tail of both streams.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

T = TypeVar("T")

READY_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
REQUIRE_SERVICES = os.environ.get("GROUNDSWELL_TEST_REQUIRE_SERVICES", "").strip() == "1"


def groundswell_command() -> list[str]:
    """The installed `groundswell` console script (next to this interpreter in a venv)."""
    script = Path(sys.executable).with_name("groundswell")
    if script.is_file():
        return [str(script)]
    found = shutil.which("groundswell")
    if found:
        return [found]
    return [sys.executable, "-c", "from core.cli.main import main; main()"]


def base_environment() -> dict[str, str]:
    """What any child needs to run, and nothing else."""
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")]),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
    }
    if os.environ.get("TMPDIR"):
        env["TMPDIR"] = os.environ["TMPDIR"]
    return env


def free_port() -> int:
    """A loopback port nobody listens on right now (the child binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class Completed:
    """A finished command: its exit code and what it printed."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def last_line(self) -> str:
        lines = self.stdout.strip().splitlines()
        return lines[-1].strip() if lines else ""

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def describe(self) -> str:
        return (
            f"`groundswell {' '.join(self.args)}` exited {self.returncode}\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


@dataclass
class Background:
    """A long-running child process (`serve`, `worker`) with its output in files."""

    name: str
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    started_at: float

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None

    def describe(self) -> str:
        state = "running" if self.running() else f"exited {self.process.returncode}"
        return (
            f"{self.name} (pid {self.pid}, {state})\n"
            f"--- stdout (tail) ---\n{_tail(self.stdout_path)}\n"
            f"--- stderr (tail) ---\n{_tail(self.stderr_path)}"
        )

    def wait_for_output(self, text: str, timeout: float = READY_TIMEOUT_S, stream: str = "stderr") -> None:
        """Until `text` appears in the process's stdout or stderr (AssertionError otherwise)."""
        path = self.stderr_path if stream == "stderr" else self.stdout_path
        deadline = time.monotonic() + timeout
        while text not in path.read_text(encoding="utf-8", errors="replace"):
            if not self.running():
                raise AssertionError(f"{self.name} exited before printing {text!r}\n{self.describe()}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name} did not print {text!r} within {timeout}s\n{self.describe()}"
                )
            time.sleep(0.05)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        return self.process.returncode


@dataclass
class Server(Background):
    port: int = 0
    ready_after: float | None = None  # seconds from start until the awaited path answered 200

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=kwargs.pop("timeout", 10.0), **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        with self.client() as client:
            return client.get(path, **kwargs)

    def wait_until_answers(self, path: str = "/readyz", timeout: float = READY_TIMEOUT_S) -> float:
        """Poll `path` until it answers 200; returns the seconds since the process started."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while True:
                if not self.running():
                    raise AssertionError(f"{self.name} exited before {path} answered\n{self.describe()}")
                try:
                    response = client.get(path)
                    if response.status_code == 200:
                        return time.monotonic() - self.started_at
                    last = f"{response.status_code} {response.text[:300]}"
                except httpx.TransportError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{path} did not answer 200 within {timeout}s (last: {last})\n{self.describe()}"
                    )
                time.sleep(0.05)


@dataclass
class Instance:
    """One instance's working directory and environment; runs its commands and processes.

    `root` is the working directory of every child; with no GROUNDSWELL_DATA_DIR the data dir
    is the default `./groundswell-data` inside it."""

    root: Path
    env: dict[str, str]
    logs: Path = field(init=False)
    _counter: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.logs = self.root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    @classmethod
    def create(cls, root: Path, **settings: str) -> Instance:
        """A fresh instance in `root`; keyword arguments are settings without the prefix,
        e.g. `Instance.create(tmp_path, DATABASE_URL=url, BROKER_URL=broker)`."""
        root.mkdir(parents=True, exist_ok=True)
        env = base_environment()
        env.update({f"GROUNDSWELL_{name}": str(value) for name, value in settings.items()})
        return cls(root=root, env=env)

    @property
    def data_dir(self) -> Path:
        configured = self.env.get("GROUNDSWELL_DATA_DIR")
        path = Path(configured) if configured else Path("groundswell-data")
        return path if path.is_absolute() else self.root / path

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    def with_settings(self, **settings: str) -> Instance:
        """The same directory with some settings changed (a value of "" removes one)."""
        env = dict(self.env)
        for name, value in settings.items():
            env.pop(f"GROUNDSWELL_{name}", None)
            if value != "":
                env[f"GROUNDSWELL_{name}"] = str(value)
        return Instance(root=self.root, env=env)

    def _environment(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        return {**self.env, **(extra or {})}

    def run(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = COMMAND_TIMEOUT_S
    ) -> Completed:
        """Run `groundswell ARGS...` to completion (killed, and the test failed, on timeout)."""
        try:
            result = subprocess.run(
                [*groundswell_command(), *args],
                cwd=self.root,
                env=self._environment(env),
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"`groundswell {' '.join(args)}` did not finish within {timeout}s: {exc.stderr!r}")
        return Completed(tuple(args), result.returncode, result.stdout, result.stderr)

    def run_ok(self, *args: str, **kwargs: Any) -> Completed:
        result = self.run(*args, **kwargs)
        assert result.returncode == 0, result.describe()
        return result

    def _start(self, name: str, args: list[str], env: Mapping[str, str] | None) -> tuple:
        self._counter += 1
        stem = f"{self._counter:02d}-{name}"
        stdout_path = self.logs / f"{stem}.stdout"
        stderr_path = self.logs / f"{stem}.stderr"
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            started_at = time.monotonic()
            process = subprocess.Popen(
                [*groundswell_command(), *args],
                cwd=self.root,
                env=self._environment(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group: stopped as one, spared our ^C
            )
        return process, stdout_path, stderr_path, started_at

    @contextlib.contextmanager
    def serve(
        self,
        *args: str,
        wait_for: str | None = "/readyz",
        timeout: float = READY_TIMEOUT_S,
        env: Mapping[str, str] | None = None,
    ) -> Iterator[Server]:
        """`groundswell serve --port <free port> ARGS...`, stopped on exit. With `wait_for`,
        waits until that path answers 200 and records how long it took in `ready_after`."""
        for attempt in (1, 2):  # the free port may be taken between probing and binding
            port = free_port()
            process, out, err, started_at = self._start(
                "serve", ["serve", "--host", "127.0.0.1", "--port", str(port), *args], env
            )
            server = Server("groundswell serve", process, out, err, started_at, port=port)
            try:
                if wait_for is not None:
                    try:
                        server.ready_after = server.wait_until_answers(wait_for, timeout)
                    except AssertionError:
                        if (
                            attempt == 1
                            and not server.running()
                            and "address already in use" in server.stderr
                        ):
                            continue
                        raise
                yield server
                return
            finally:
                server.stop()

    @contextlib.contextmanager
    def worker(
        self, *args: str, timeout: float = READY_TIMEOUT_S, env: Mapping[str, str] | None = None
    ) -> Iterator[Background]:
        """`groundswell worker ARGS...`, waited for until it consumes, stopped on exit."""
        process, out, err, started_at = self._start("worker", ["worker", *args], env)
        worker = Background("groundswell worker", process, out, err, started_at)
        try:
            worker.wait_for_output("worker started", timeout)
            yield worker
        finally:
            worker.stop()


def wait_until(condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Poll until `condition()` is truthy and return it (AssertionError on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


# Services the e2e tests need. Redis: skipped when unreachable, unless
# GROUNDSWELL_TEST_REQUIRE_SERVICES=1 (then the test fails). PostgreSQL: used when
# GROUNDSWELL_TEST_DATABASE_URL names a server, as in the rest of the suite.


def missing_service(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (GROUNDSWELL_TEST_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking code that calls asyncio.run() in a thread of its own, away from the
    test session's event loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()


REDIS_URL = os.environ.get("GROUNDSWELL_TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")


@contextlib.contextmanager
def redis_database() -> Iterator[str]:
    """A broker URL on an empty, numbered Redis database, emptied again afterwards (the
    numbers keep concurrent test runs from consuming each other's messages)."""
    import redis

    try:
        admin = redis.Redis.from_url(f"{REDIS_URL}/0", socket_connect_timeout=2, socket_timeout=2)
        admin.ping()
    except redis.RedisError as exc:
        missing_service(f"Redis is not reachable at {REDIS_URL}: {exc}")
    numbers = list(range(1, 16))
    secrets.SystemRandom().shuffle(numbers)
    chosen = None
    for number in numbers:
        client = redis.Redis.from_url(f"{REDIS_URL}/{number}", socket_timeout=2)
        try:
            if client.dbsize() == 0:
                chosen = number
                break
        finally:
            client.close()
    admin.close()
    if chosen is None:
        pytest.skip(f"no empty Redis database (1-15) at {REDIS_URL}")
    url = f"{REDIS_URL}/{chosen}"
    try:
        yield url
    finally:
        client = redis.Redis.from_url(url, socket_timeout=2)
        try:
            keys = list(client.scan_iter("groundswell*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


def postgres_base_url() -> str:
    """The server database named by GROUNDSWELL_TEST_DATABASE_URL (skips without one)."""
    url = os.environ.get("GROUNDSWELL_TEST_DATABASE_URL", "").strip()
    if not url:
        pytest.skip("PostgreSQL path: set GROUNDSWELL_TEST_DATABASE_URL=postgresql://…")
    return url


@contextlib.contextmanager
def postgres_database(prefix: str = "gs_e2e") -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped (with FORCE) afterwards."""
    from tests.support.postgres import create_database, drop_database

    base = postgres_base_url()
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    url = in_thread(create_database, base, name)
    try:
        yield url
    finally:
        in_thread(drop_database, base, url)


def drop_postgres_database(url: str) -> None:
    """Drop a database made by `postgres_database` now, even with connections open to it."""
    from tests.support.postgres import drop_database

    in_thread(drop_database, postgres_base_url(), url)

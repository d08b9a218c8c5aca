"""Turning failures into one readable line and an exit code, never a traceback."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from core.db.engine import DatabaseUnavailable
from core.db.migrations import MigrationFailed
from core.errors import UserError
from core.settings import SettingsError
from core.tasks.broker import BrokerUnavailable

F = TypeVar("F", bound=Callable[..., Any])

EXIT_FAILURE = 1
EXIT_CONFIG = 2


def fail(message: str, code: int = EXIT_FAILURE) -> None:
    click.echo(f"groundswell: error: {message}", err=True)
    sys.exit(code)


def friendly_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SettingsError as exc:
            fail(str(exc), EXIT_CONFIG)
        except (DatabaseUnavailable, BrokerUnavailable, MigrationFailed, UserError) as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            sys.exit(130)
        except click.exceptions.Exit:
            raise
        except Exception as exc:  # never a traceback: one line, details in the log
            logging.getLogger("groundswell.cli").debug("unexpected error", exc_info=exc)
            fail(
                f"unexpected {type(exc).__name__}: {exc} (rerun with GROUNDSWELL_LOG_LEVEL=debug for details)"
            )

    return wrapper  # type: ignore[return-value]

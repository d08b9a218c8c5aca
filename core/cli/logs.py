"""Log format for every groundswell process: one line per event, to stderr."""

from __future__ import annotations

import logging
import sys
import warnings


def configure_logging(level: str = "info") -> None:
    # Piccolo reports connection trouble as warnings too; we report it once, as one line.
    warnings.filterwarnings("ignore", module=r"piccolo\..*")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%S%z")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Dramatiq and Piccolo are chatty at INFO; their warnings still show.
    for noisy in ("dramatiq", "pika", "asyncio", "uvicorn.access", "piccolo"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))

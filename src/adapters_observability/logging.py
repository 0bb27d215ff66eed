"""Structured logging: JSON lines on stdout, for our code and for every library.

structlog renders our events itself and writes each line straight to the stream: the access
line of every request comes this way, and going through stdlib :mod:`logging` (a level check per
logger, two ``LogRecord`` objects, a handler and a formatter) cost about as much again as
rendering it. aiohttp, SQLAlchemy, Alembic and anything else on stdlib :mod:`logging` reach the
same processors through :class:`structlog.stdlib.ProcessorFormatter`, so both paths end in one
format, and the redaction processor (:mod:`adapters_observability.redaction`) masks secrets in
all of it.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any, Literal

import structlog
from structlog.typing import Processor

from adapters_observability.redaction import redact_event

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_FIRST = ("timestamp", "level", "logger", "event")
# Libraries whose INFO output is noise (SQLAlchemy would log SQL, which may carry data).
_QUIET = {"sqlalchemy": logging.WARNING, "asyncio": logging.WARNING}


class _LineWriter:
    """Write our rendered events, one line each, to whatever ``sys.stdout`` (or
    ``sys.stderr``) is at that moment (see :class:`_StdHandler`); *name* is the ``logger``
    field. A lock keeps lines whole when a thread logs too."""

    _lock = threading.Lock()

    def __init__(self, name: str, stream_name: Literal["stdout", "stderr"]) -> None:
        self.name = name
        self._stream_name = stream_name

    def msg(self, message: str) -> None:
        stream = getattr(sys, self._stream_name)
        with self._lock:
            stream.write(message + "\n")
            stream.flush()

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


class _StdHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Write to whatever ``sys.stdout`` (or ``sys.stderr``) is when a record is emitted.

    pytest's ``capsys`` and similar tools swap the standard streams; binding one at
    configuration time would send later records to a closed or stale stream.
    """

    def __init__(self, stream_name: Literal["stdout", "stderr"]) -> None:
        super().__init__()
        self._stream_name = stream_name

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = getattr(sys, self._stream_name)
        super().emit(record)


def configure_logging(
    level: str = "info", *, json: bool = True, stream: Literal["stdout", "stderr"] = "stdout"
) -> None:
    """Route structlog and stdlib logging to *stream* at *level*, as JSON lines (or text).

    One-shot commands whose stdout is their result (``migrate``) log to ``stderr``.

    Safe to call again (tests, a CLI that reconfigures): the handler it installed before is
    replaced, never duplicated.
    """
    numeric = _LEVELS.get(level.lower())
    if numeric is None:
        raise ValueError(f"unknown log level {level!r}")
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    rendering: list[Processor] = [
        structlog.processors.StackInfoRenderer(),
        # Tracebacks become an "exception" string, so redaction sees them too.
        structlog.processors.format_exc_info,
        redact_event,
        _leading_fields,
        renderer,
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
    )
    handler = _StdHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing, _StdHandler):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name, quiet_level in _QUIET.items():
        logging.getLogger(name).setLevel(max(quiet_level, numeric))
    logging.captureWarnings(True)
    structlog.configure(
        processors=[*shared, *rendering],
        # The level is checked before anything is built: a debug call at INFO is a no-op method.
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=lambda name="", *_: _LineWriter(name, stream),
        # Not cached, so a second configure_logging() also reaches loggers already in use.
        cache_logger_on_first_use=False,
    )


def _leading_fields(_logger: object, _method: str, event_dict: Any) -> Any:
    """Put timestamp, level, logger and event first, so lines read well in a terminal too."""
    first = {key: event_dict.pop(key) for key in _FIRST if key in event_dict}
    return {**first, **event_dict}


def get_logger(name: str) -> Any:
    """Return a structlog logger named *name* (its ``logger`` field in every line)."""
    return structlog.stdlib.get_logger(name)

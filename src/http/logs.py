"""Logs: one JSON object a line (python-json-logger), the request id on every line logged while a
request is handled, and no secret on any line.

The request id lives in a context variable that the request-id middleware sets; the context follows
the request into the threads Starlette and anyio run its blocking work in, so a warning from a view's
read carries the id of the request that caused it. Every line is redacted as it is formatted, whatever
logged it (ours, uvicorn's, a library's traceback): API keys (`us_live_…`), JWTs, and the configured
secrets (the server secret, the upstream AI key, the database password) become `[redacted]`.
Passwords and reset tokens are never logged by our code; the patterns are the net under that rule.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import time
from contextvars import ContextVar
from typing import Any, Final

from pythonjsonlogger.json import JsonFormatter

from mosaic.config import Settings

REDACTED: Final = "[redacted]"
REQUEST_ID: ContextVar[str] = ContextVar("mosaic_request_id", default="")
_PATTERNS: Final = (
    re.compile(r"us_live_[A-Za-z0-9]+"),  # an API key, whole or cut short
    re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),  # a JWT (header.claims.signature)
    re.compile(r"(?i)(bearer\s+)\S+"),  # whatever follows "Bearer", in a header someone logged
)
_SECRETS_CHARS_MIN: Final = 6  # shorter configured values would redact ordinary words




class _Redactor:
    def __init__(self) -> None:
        self._values: tuple[str, ...] = ()

    def use(self, settings: Settings) -> None:
        values = {settings.secret.decode(errors="replace"), settings.ai_api_key, settings.database.password}
        # a value appears as itself in text lines and JSON-escaped inside JSON ones
        escaped = {json.dumps(v)[1:-1] for v in values}
        self._values = tuple(
            sorted((v for v in values | escaped if len(v) >= _SECRETS_CHARS_MIN), key=len, reverse=True)
        )

    def __call__(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        # Each pattern starts with one of these: a line holding none (most lines) needs no substitution.
        if "us_live_" not in text and "eyJ" not in text and "bearer" not in text.lower():
            return text
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
        return text


redact: Final = _Redactor()


def _install_request_ids() -> None:
    """Every log record made in this process carries the request id of the request that made it
    (empty outside requests), whichever handler writes it: a record factory, not a handler's filter."""
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "mosaic_request_ids", False):
        return

    def with_request_id(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        record.request_id = REQUEST_ID.get()
        return record

    with_request_id.mosaic_request_ids = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(with_request_id)


_install_request_ids()


class JsonLines(JsonFormatter):
    """python-json-logger's formatter, redacted, with the fields an operator filters on."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            timestamp=False,
        )
        assert not self.defaults and not self.static_fields and not self.rename_fields_keep_missing
        self._required_names = [(f, self.rename_fields.get(f, f)) for f in self._required_fields]
        self._second = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))

    # The library's own versions of the two below cost most of a line's formatting (~24 us of an
    # access line's ~42): a loop over the record's attributes that looks each up in several places,
    # and `strftime` for every line. These give the same fields, in the same order, for this
    # formatter's settings (no defaults, no static fields, no timestamp field).

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        attrs = record.__dict__
        for field, name in self._required_names:
            log_data[name] = attrs.get(field)
        rename = self.rename_fields
        for key, value in message_dict.items():
            log_data[rename.get(key, key)] = value
        skip = self._skip_fields
        for key, value in attrs.items():
            if key not in skip and not (isinstance(key, str) and key.startswith("_")):
                log_data[rename.get(key, key)] = value

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second, text = self._second
        if second != int(record.created):
            second = int(record.created)
            text = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = (second, text)  # one tuple: a thread reading it sees a pair that belongs together
        return f"{text},{int(record.msecs):03d}"  # logging's default_msec_format, "%s,%03d"


class TextLines(logging.Formatter):
    """For a person at a terminal (`MOSAIC_LOG_FORMAT=text`), redacted the same way."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def logging_config(settings: Settings) -> dict[str, Any]:
    """The `logging.config.dictConfig` of a serving process: ours, uvicorn's and every library's
    lines through one handler on stderr. uvicorn's own access log is off: the request-id middleware
    writes one line per request, with the request id and the duration."""
    formatter = "json" if settings.log_format == "json" else "text"
    level = settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonLines}, "text": {"()": TextLines}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                "formatter": formatter,
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
        },
    }


def configure(settings: Settings) -> None:
    redact.use(settings)
    logging.config.dictConfig(logging_config(settings))

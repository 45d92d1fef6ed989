"""No mobile number in a log line, whoever writes it.

The numbers are kept out at the source (SQL parameters hidden by every engine, look-ups sent in
the body, one request line without the query string); this is the net behind that. A
:class:`Redact` filter masks any mobile number in a record's message, traceback and stack
(PostgreSQL's own error text quotes a failing row, parameters hidden or not), strips query
strings from a server's request lines when asked, and drops the records that would print
result rows (SQLAlchemy's "Row ..." at DEBUG: names and numbers).
"""

from __future__ import annotations

import logging
import re

from core.phone import scrub_mobiles

_QUERY = re.compile(r"\?[^\s\"']*")
_FORMATTER = logging.Formatter()
SQLALCHEMY_ENGINE = "sqlalchemy.engine.Engine"  # the logger every Engine writes to


def scrub(text: str, *, strip_queries: bool = False) -> str:
    if strip_queries:
        text = _QUERY.sub("", text)
    return scrub_mobiles(text)


class Redact(logging.Filter):
    """Masks mobile numbers in every record it sees; with ``strip_queries``, removes
    ``?query`` from it too. Never drops a record, except SQLAlchemy's result rows."""

    def __init__(self, *, strip_queries: bool = False) -> None:
        super().__init__()
        self.strip_queries = strip_queries

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(SQLALCHEMY_ENGINE) and record.msg == "Row %r":
            return False
        message = record.getMessage()
        clean = scrub(message, strip_queries=self.strip_queries)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


def protect(*names: str, strip_queries: bool = False) -> None:
    """Put a :class:`Redact` filter on each named logger (once)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, Redact) for f in logger.filters):
            logger.addFilter(Redact(strip_queries=strip_queries))

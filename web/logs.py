"""The request log: one line per request, and no personal data in any log line.

Each request logs one line to ``showroom.requests``::

    request method=GET path=/console/customers status=200 duration_ms=12.4 request_id=9f… \
        user=7 kiosk=-

The path has no query string (a search's ``?q=`` may be a number) and any mobile number in it
is masked; ``user`` is the signed-in staff member's id, ``kiosk`` the enrolled device's id:
never a name or a number. The request id is the caller's ``X-Request-ID`` when it is sane (a
proxy's or a load balancer's), else a new one; it is sent back in ``X-Request-ID``. The same
fields are on the record as ``record.http`` for a structured (JSON) handler.

Every logger the web process writes through that could carry a number gets the redaction
filter of :mod:`core.redaction`; the development server's (werkzeug's) request lines lose their
query string. When nothing has configured logging (gunicorn, ``flask run``), a handler on stderr
takes what the loggers let through (the request lines at INFO; the rest at their own levels, as
before), redacted there too.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request

from core.phone import scrub_mobiles
from core.redaction import SQLALCHEMY_ENGINE, Redact, protect

log = logging.getLogger("showroom.requests")
REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}\Z")
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def request_id() -> str:
    """This request's id (the caller's when sane, else a new one), the same all request long."""
    if "request_id" not in g:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        sane = _SANE_ID.match(given) and scrub_mobiles(given) == given
        g.request_id = given if sane else uuid.uuid4().hex
    return str(g.request_id)


def _user_id() -> str:
    # Only a user this request already loaded: logging never costs a query (nor fails in an
    # outage). Flask-Login keeps the loaded user in g._login_user.
    user = g.get("_login_user")
    if user is not None and getattr(user, "is_authenticated", False):
        return str(user.get_id())
    return "-"


def _kiosk_id() -> str:
    kiosk = g.get("kiosk")
    return str(kiosk.id) if kiosk is not None else "-"


def configure_logging(app: Flask) -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(Redact())
        root.addHandler(handler)
    showroom = logging.getLogger("showroom")  # the request lines are INFO; others keep theirs
    if showroom.level == logging.NOTSET:
        showroom.setLevel(logging.INFO)
    # A filter acts on its own logger's records only: each logger that writes is named.
    protect(app.logger.name, log.name, SQLALCHEMY_ENGINE, "jobs.outbox", "rq.worker")
    protect("werkzeug", strip_queries=True)


def register(app: Flask) -> None:
    """Register first: the line is written after every other after_request hook has run."""
    configure_logging(app)

    @app.before_request
    def start_clock() -> None:
        g.request_started = time.perf_counter()
        request_id()

    @app.after_request
    def log_request(response: Response) -> Response:
        started = g.get("request_started")
        duration = round((time.perf_counter() - started) * 1000, 1) if started else None
        fields: dict[str, Any] = {
            "method": request.method,
            "path": scrub_mobiles(request.path),
            "status": response.status_code,
            "duration_ms": duration,
            "request_id": request_id(),
            "user": _user_id(),
            "kiosk": _kiosk_id(),
        }
        response.headers[REQUEST_ID_HEADER] = fields["request_id"]
        log.info(
            "request %s",
            " ".join(f"{k}={'-' if v is None else v}" for k, v in fields.items()),
            extra={"http": fields},
        )
        return response

"""Error pages: a clear page in the user's language, never a stack trace.

One factory, :func:`error_page`, renders every error page, in the look of the area the request
is in: an area (the kiosk) registers its template and texts with :func:`error_area`; every other
page gets the console's. A database outage is a 503 that says so; from that moment the request
makes no more queries (``g.database_down``: no kiosk or staff look-up), so the page still opens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, current_app, g, make_response, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from core.errors import DomainError, NotFound, PermissionDenied
from extensions import db

Texts = Mapping[int, tuple[Any, Any]]  # status: (title, message), lazy strings


def _no_context(status: int) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class ErrorArea:
    """How one area shows its errors.

    ``texts``: the title and message for each status; ``not_found``: for a record that does not
    exist (or not in the user's store); ``public``: a public device shows only its own texts,
    never the server's description of an error it has no text for (then its 500's);
    ``context``: what the template needs besides (called with the status, may tidy up)."""

    template: str
    texts: Texts
    not_found: tuple[Any, Any]
    public: bool = False
    context: Callable[[int], dict[str, Any]] = field(default=_no_context)


CONSOLE = ErrorArea(
    template="errors/error.html",
    texts={
        400: (_l("Bad request"), _l("The request could not be understood.")),
        403: (
            _l("Not allowed"),
            _l("Your role does not give access to this page. Ask your manager if you need it."),
        ),
        404: (_l("Page not found"), _l("There is no page at this address.")),
        405: (_l("Not allowed"), _l("This action is not available here.")),
        429: (_l("Too many attempts"), _l("Please wait a minute and try again.")),
        500: (_l("Something went wrong"), _l("The error has been logged. Please try again.")),
        503: (
            _l("The database cannot be reached"),
            _l(
                "Nothing was saved, and what you typed is still in the form: go back to it and"
                " send it again in a minute."
            ),
        ),
    },
    not_found=(_l("Not found"), _l("This record does not exist or is not in your store.")),
)
_AREAS: dict[str, tuple[str, ErrorArea]] = {}  # blueprint name: (URL prefix, area)


def error_area(blueprint: Blueprint, area: ErrorArea) -> None:
    """The pages of ``blueprint`` (and any address under its prefix) show errors as ``area``."""
    _AREAS[blueprint.name] = (blueprint.url_prefix or "", area)


def _area() -> ErrorArea:
    if request.blueprint in _AREAS:
        return _AREAS[request.blueprint][1]
    for prefix, area in _AREAS.values():  # an address no route matched (404, 405)
        if prefix and (request.path == prefix or request.path.startswith(prefix + "/")):
            return area
    return CONSOLE


def error_page(
    status: int,
    title: str | None = None,
    message: str | None = None,
    *,
    fallback: tuple[str, str] | None = None,
) -> ResponseReturnValue:
    """The error page for ``status`` in the area's look and texts (``title`` and ``message``
    when given; ``fallback`` for a status the area has no text for). Undoes the request's
    writes; an API client gets JSON."""
    try:
        db.session.rollback()
    except SQLAlchemyError:  # the connection is gone: nothing to undo
        db.session.close()
    area = _area()
    if title is None or message is None:
        known = area.texts.get(status)
        if known is None:
            known = area.texts[500] if area.public or fallback is None else fallback
        title, message = str(title or known[0]), str(message or known[1])
    if request.path == "/healthz" or request.accept_mimetypes.best == "application/json":
        return {"error": title, "message": message}, status
    context = area.context(status)
    return (
        render_template(area.template, status=status, title=title, message=message, **context),
        status,
    )


def database_unavailable(exc: OperationalError) -> ResponseReturnValue:
    """The answer to a database outage, whenever the request met it (a statement of the view,
    or the commit after it: see wsgi's commit point): 503, never cached."""
    g.database_down = True
    current_app.logger.error("database unavailable: %s", type(exc.orig).__name__)
    response = make_response(error_page(503))
    response.headers["Cache-Control"] = "no-store"
    return response


def database_down() -> bool:
    """The request met a database outage: make no more queries while it is answered."""
    return bool(g.get("database_down"))


def register(app: Flask) -> None:
    @app.errorhandler(NotFound)
    def domain_not_found(exc: NotFound) -> ResponseReturnValue:
        title, message = _area().not_found
        return error_page(404, str(title), str(message))

    @app.errorhandler(PermissionDenied)
    def domain_forbidden(exc: PermissionDenied) -> ResponseReturnValue:
        return error_page(403, _("Not allowed"), _(exc.message))

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> ResponseReturnValue:
        return error_page(409, _("This cannot be done"), _(exc.message, **exc.params))

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> ResponseReturnValue:
        if _area() is not CONSOLE:
            return error_page(400)
        return error_page(
            400,
            _("The form has expired"),
            _("The page was open too long or was sent twice. Go back, reload and try again."),
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        return error_page(exc.code or 500, fallback=(exc.name, exc.description or ""))

    app.register_error_handler(OperationalError, database_unavailable)

    @app.errorhandler(Exception)
    def server_error(exc: Exception) -> ResponseReturnValue:
        if isinstance(exc, HTTPException):
            return http_error(exc)
        app.logger.exception("unhandled error")
        return error_page(500)

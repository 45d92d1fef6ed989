"""Error pages: a clear page in the user's language, never a stack trace."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from core.errors import DomainError, NotFound, PermissionDenied
from extensions import db


def _page(status: int, title: str, message: str):  # type: ignore[no-untyped-def]
    db.session.rollback()
    if request.path == "/healthz" or request.accept_mimetypes.best == "application/json":
        return {"error": title, "message": message}, status
    return render_template("errors/error.html", status=status, title=title, message=message), status


def register(app: Flask) -> None:
    @app.errorhandler(NotFound)
    def domain_not_found(exc: NotFound):  # type: ignore[no-untyped-def]
        return _page(404, _("Not found"), _("This record does not exist or is not in your store."))

    @app.errorhandler(PermissionDenied)
    def domain_forbidden(exc: PermissionDenied):  # type: ignore[no-untyped-def]
        return _page(403, _("Not allowed"), _(exc.message))

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):  # type: ignore[no-untyped-def]
        return _page(409, _("This cannot be done"), _(exc.message, **exc.params))

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):  # type: ignore[no-untyped-def]
        return _page(
            400,
            _("The form has expired"),
            _("The page was open too long or was sent twice. Go back, reload and try again."),
        )

    messages = {
        400: (_l("Bad request"), _l("The request could not be understood.")),
        403: (
            _l("Not allowed"),
            _l("Your role does not give access to this page. Ask your manager if you need it."),
        ),
        404: (_l("Page not found"), _l("There is no page at this address.")),
        405: (_l("Not allowed"), _l("This action is not available here.")),
        429: (_l("Too many attempts"), _l("Please wait a minute and try again.")),
        500: (_l("Something went wrong"), _l("The error has been logged. Please try again.")),
    }

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        code = exc.code or 500
        title, message = messages.get(code, (exc.name, exc.description or ""))
        return _page(code, str(title), str(message))

    @app.errorhandler(Exception)
    def server_error(exc: Exception):  # type: ignore[no-untyped-def]
        if isinstance(exc, HTTPException):
            return http_error(exc)
        app.logger.exception("unhandled error")
        title, message = messages[500]
        return _page(500, str(title), str(message))
